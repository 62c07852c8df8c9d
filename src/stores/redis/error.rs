//! redis-rs's errors as [`StoreError`]s: the cause in words that never
//! repeat the URL or a password, of the kind it is; and the store's own two
//! refusals, of a key another owner holds and of a value it did not write.

use ::redis::{ErrorKind, RedisError, ServerErrorKind};

use crate::dedup::StoreError;

/// Another owner's claim holds the key we came to complete.
pub(super) fn held_by_another() -> StoreError {
    StoreError::new("the claim is held by another attempt")
}

/// A key holding something our scripts never write: refuse to guess.
pub(super) fn foreign_value() -> StoreError {
    StoreError::configuration(
        "the delivery's Redis key holds a value this store did not write (is the key prefix shared?)",
    )
}

/// `context: what went wrong`, of the kind it is, without the URL, and
/// without `password` should Redis ever repeat it.
pub(super) fn store_error(context: &str, err: &RedisError, password: Option<&str>) -> StoreError {
    let mut message = format!("{context}: {}", cause(err));
    if let Some(password) = password.filter(|password| !password.is_empty()) {
        message = message.replace(password, "[redacted]");
    }
    if is_configuration(err) {
        StoreError::configuration(message)
    } else {
        StoreError::new(message)
    }
}

/// What went wrong, in words that never repeat the URL: the client's own
/// checks of the URL say which rule it broke, but may append a piece of it.
fn cause(err: &RedisError) -> String {
    let shown = err.to_string();
    match err.kind() {
        ErrorKind::AuthenticationFailed => "authentication failed (wrong user name or password?)".to_owned(),
        // Shown as `description - InvalidClientConfig[: detail]`: the
        // description alone.
        ErrorKind::InvalidClientConfig => {
            let without_detail = match err.detail() {
                Some(detail) => shown.strip_suffix(detail).and_then(|shown| shown.strip_suffix(": ")),
                None => Some(shown.as_str()),
            };
            without_detail
                .and_then(|shown| shown.strip_suffix(" - InvalidClientConfig"))
                .unwrap_or(err.category())
                .to_owned()
        }
        _ if err.is_connection_refusal() => "connection refused".to_owned(),
        // An I/O error (without the address) or Redis' own answer, which
        // never repeats a password.
        _ => shown,
    }
}

/// Whether `err` is a mistake in the configuration, which retrying will not
/// fix, rather than an outage.
fn is_configuration(err: &RedisError) -> bool {
    match err.kind() {
        ErrorKind::AuthenticationFailed
        | ErrorKind::InvalidClientConfig
        | ErrorKind::RESP3NotSupported
        | ErrorKind::Server(ServerErrorKind::NoPerm) => true,
        // A database number the server does not have.
        ErrorKind::Server(ServerErrorKind::ResponseError) => {
            err.detail().is_some_and(|detail| detail.contains("DB index"))
        }
        // Credentials missing or refused; a key of another type under our
        // prefix (is the prefix shared?).
        _ => matches!(err.code(), Some("NOAUTH" | "WRONGPASS" | "WRONGTYPE")),
    }
}

/// Whether Redis refused a command as malformed: what a Redis before 7
/// answers to `SET` with both `NX` and `GET`, and one before 8.4 (a Valkey
/// before 8.1) to `SET` with `IFEQ`.
pub(super) fn is_syntax_error(err: &RedisError) -> bool {
    err.kind() == ErrorKind::Server(ServerErrorKind::ResponseError)
        && err.detail().is_some_and(|detail| detail.contains("syntax error"))
}

#[cfg(test)]
mod tests {
    use ::redis::Value;

    use super::*;

    #[test]
    fn only_a_syntax_error_switches_claims_to_the_script() {
        let error = |resp: &[u8]| {
            ::redis::parse_redis_value(resp)
                .and_then(Value::extract_error)
                .unwrap_err()
        };
        // Redis 6.2's answer to `SET k v NX GET`.
        assert!(is_syntax_error(&error(b"-ERR syntax error\r\n")));
        for other in [
            &b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"[..],
            b"-ERR unknown command 'SET', with args beginning with: \r\n",
            b"-NOPERM this user has no permissions to run the 'set' command\r\n",
            b"-LOADING Redis is loading the dataset in memory\r\n",
        ] {
            assert!(!is_syntax_error(&error(other)), "{}", String::from_utf8_lossy(other));
        }
    }
}
