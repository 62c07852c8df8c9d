//! A failure: the exit code it earns and a one-line reason, which `main`
//! prints after `error: `.

use yoco_webhooks::registration::{ClientError, Error};

/// A failure, with the exit code it earns and a one-line reason.
#[derive(Debug)]
pub(super) struct Failure(pub(super) u8, pub(super) String);

impl From<ClientError> for Failure {
    fn from(err: ClientError) -> Self {
        let code = match err.api_error() {
            Some(Error::EmptyName | Error::InvalidEndpointUrl { .. } | Error::InvalidId | Error::UnknownKeyMode) => 2,
            _ => 1,
        };
        Failure(code, one_line(&err))
    }
}

/// An error and its sources on one line.
pub(super) fn one_line(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_input_is_a_usage_error_and_yocos_refusal_an_api_error() {
        assert_eq!(Failure::from(ClientError::from(Error::InvalidId)).0, 2);
        assert_eq!(Failure::from(ClientError::from(Error::UnknownKeyMode)).0, 2);
        let refused = Error::Rejected {
            status: 400,
            message: "no".into(),
        };
        assert_eq!(Failure::from(ClientError::from(refused)).0, 1);
    }
}
