//! The AWS SDK's errors as [`StoreError`]s: an outage (throttling, a 5xx,
//! no connection, a timeout) from a mistake in the configuration (a queue
//! that does not exist, access denied, a message SQS refuses), so that the
//! endpoint answers 503 either way and the operator knows which.

use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::dedup::StoreError;

/// The codes SQS answers when it is busy rather than refusing: retrying
/// later may succeed without a change of configuration.
const BUSY: [&str; 7] = [
    "RequestThrottled",
    "ThrottlingException",
    "Throttling",
    "KmsThrottled",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
];

/// `err`, from the SDK while `doing` (`"SQS did not accept the delivery"`),
/// as a [`StoreError`]: unavailable when it may pass, misconfigured when
/// it will not. The SDK's errors carry no credentials.
pub(super) fn sqs_error<E, R>(doing: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(context) => {
            let service = context.err();
            let code = service.code().unwrap_or("unknown error");
            let text = match service.message() {
                Some(message) => format!("{doing}: {code}: {message}"),
                None => format!("{doing}: {code}"),
            };
            if BUSY.contains(&code) {
                StoreError::new(text)
            } else {
                StoreError::configuration(text)
            }
        }
        // The request could not be made from its input (a malformed queue
        // URL, no region): no retry fixes that.
        SdkError::ConstructionFailure(_) => StoreError::configuration(format!(
            "{doing}: the request could not be built: {}",
            DisplayErrorContext(&err)
        )),
        // Not sent, no answer in time, an answer that did not parse.
        _ => {
            let text = format!("{doing}: {}", DisplayErrorContext(&err));
            StoreError::with_source(text, err)
        }
    }
}
