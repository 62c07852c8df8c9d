//! The AWS SDK's errors as [`StoreError`]s: the cause in the SDK's words
//! (which hold no credential: the request, with its signature, is not
//! kept), of the kind it is, the SDK's error kept as the source.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::dedup::{StoreError, StoreErrorKind};

/// Error codes of a mistake in the configuration, which retrying will not
/// fix: a missing table, credentials refused or missing, an action the role
/// may not take, a request DynamoDB refuses as malformed (a table without
/// the key this store writes).
const CONFIGURATION_CODES: [&str; 11] = [
    "ResourceNotFoundException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "ValidationException",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
    "MissingAuthenticationToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
];

/// `context: what went wrong`, of the kind it is: a throttled, failing or
/// unreachable DynamoDB, or no answer in time, is an outage; a service
/// error with one of the [`CONFIGURATION_CODES`], or a request the SDK
/// could not build (no region, no credentials), a mistake.
pub(super) fn store_error<E, R>(context: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let kind = match &err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some(code) if CONFIGURATION_CODES.contains(&code) => StoreErrorKind::Configuration,
            _ => StoreErrorKind::Unavailable,
        },
        SdkError::ConstructionFailure(_) => StoreErrorKind::Configuration,
        SdkError::DispatchFailure(failure) if failure.is_user() => StoreErrorKind::Configuration,
        _ => StoreErrorKind::Unavailable,
    };
    let message = format!("{context}: {}", DisplayErrorContext(&err));
    StoreError::with_source(message, err).of_kind(kind)
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;

    use super::*;

    fn service_error(code: &str) -> SdkError<PutItemError, ()> {
        let meta = ErrorMetadata::builder().code(code).message("said the service").build();
        SdkError::service_error(PutItemError::generic(meta), ())
    }

    #[test]
    fn a_missing_table_or_refused_credentials_are_mistakes_throttling_an_outage() {
        for code in [
            "ResourceNotFoundException",
            "UnrecognizedClientException",
            "AccessDeniedException",
        ] {
            let err = store_error("DynamoDB could not claim the delivery", service_error(code));
            assert_eq!(err.kind(), StoreErrorKind::Configuration, "{err}");
            assert!(err.to_string().contains(code), "{err}");
            assert!(std::error::Error::source(&err).is_some());
        }
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "InternalServerError",
        ] {
            let err = store_error("DynamoDB could not claim the delivery", service_error(code));
            assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
            assert!(
                err.to_string()
                    .starts_with("unavailable: DynamoDB could not claim the delivery: "),
                "{err}"
            );
        }
        let timeout = SdkError::<PutItemError, ()>::timeout_error("slow");
        assert_eq!(store_error("DynamoDB", timeout).kind(), StoreErrorKind::Unavailable);
        let construction = SdkError::<PutItemError, ()>::construction_failure("no region");
        assert_eq!(
            store_error("DynamoDB", construction).kind(),
            StoreErrorKind::Configuration
        );
    }
}
