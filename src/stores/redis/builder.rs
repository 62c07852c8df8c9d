//! [`RedisStoreBuilder`]: the key prefix and the timeout, and connecting,
//! which checks the address and the password at start-up and reads which
//! commands the server takes.

use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Cmd, RedisError};

use super::error::store_error;
use super::store::RedisStore;
use super::version::Takes;
use crate::dedup::StoreError;
use crate::stores::owners::Owners;

/// The key prefix used unless [`RedisStoreBuilder::key_prefix`] sets another.
pub const DEFAULT_KEY_PREFIX: &str = "yoco-webhooks:";

/// How long a store call may take by default, waiting for a reconnection
/// included: far below the 15 s Yoco waits for an answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Reconnection attempts per lost connection; the next call starts another
/// round if these fail, so a few are enough.
const RECONNECT_RETRIES: usize = 2;
/// The longest pause between reconnection attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// Configures a [`RedisStore`]: the key prefix and the timeout.
pub struct RedisStoreBuilder {
    client: Client,
    key_prefix: String,
    timeout: Duration,
    /// Claims by the script whatever the server takes (set by tests).
    claim_by_script: bool,
    /// Completions by `SET IFEQ` (`true`) or the script (`false`) whatever
    /// the server takes (set by tests); `None`: as the server takes.
    complete_by_set: Option<bool>,
}

/// How [`RedisStoreBuilder::complete_with`] forces completions, for tests
/// of each path.
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompleteWith {
    /// The Lua script, even where the server takes `SET IFEQ`.
    Script,
    /// `SET IFEQ`, whatever the server says it takes.
    Set,
}

impl RedisStoreBuilder {
    /// A builder for the Redis at `url` (`redis://[user][:password@]host[:port][/db]`
    /// or `redis+unix:///path`).
    ///
    /// # Errors
    ///
    /// A [configuration](crate::dedup::StoreErrorKind::Configuration)
    /// [`StoreError`] if the URL is not a Redis URL (or asks for TLS, which
    /// this build does not support). It says why, but never contains the
    /// URL, so no password leaks into logs.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(|err| store_error("invalid Redis URL", &err, None))?;
        Ok(RedisStore::builder(client))
    }

    /// Prefixes every key with `prefix` (default [`DEFAULT_KEY_PREFIX`]).
    /// Instances that deduplicate together need the same prefix.
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The longest a store call may take, waiting for a connection included
    /// (default [`DEFAULT_TIMEOUT`]). Past it the call fails with a
    /// [`StoreError`], so that your endpoint answers 503 well within the 15 s
    /// Yoco waits. Each connection attempt and each answer is held to it too.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Claims with the Lua script even where Redis 7's `SET NX GET` would
    /// do, as on Redis 6, for tests of that path. Both write the same
    /// values; a store left to itself takes the command where the server
    /// does.
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    #[must_use]
    pub fn claim_with_script(mut self, claim_with_script: bool) -> Self {
        self.claim_by_script = claim_with_script;
        self
    }

    /// Completes with the Lua script, or with `SET IFEQ` whatever the
    /// server says it takes, for tests of those paths. Both write the same
    /// values; a store left to itself takes the command where the server
    /// does.
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    #[must_use]
    pub fn complete_with(mut self, complete_with: CompleteWith) -> Self {
        self.complete_by_set = Some(complete_with == CompleteWith::Set);
        self
    }

    /// Connects to Redis, so that a wrong address or password shows at
    /// start-up. Later losses of the connection are repaired in the
    /// background.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] saying why: a
    /// [configuration](crate::dedup::StoreErrorKind::Configuration) error if
    /// Redis refuses the credentials or the database number, an
    /// [unavailable](crate::dedup::StoreErrorKind::Unavailable) one if it
    /// cannot be reached or does not answer within the timeout.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let password = self
            .client
            .get_connection_info()
            .redis_settings()
            .password()
            .map(str::to_owned);
        // Every call is held to the timeout as a whole (see `timed`),
        // so the connection needs no timer of its own per command; a
        // connection attempt, handshake included, is held to it here.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(None)
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_max_delay(MAX_RECONNECT_DELAY);
        let connecting = async {
            let mut connection = ConnectionManager::new_with_config(self.client, config).await?;
            // Without a password, Redis accepts the connection and refuses
            // every command: ask one, so that the mistake shows now.
            Cmd::new().arg("PING").query_async::<()>(&mut connection).await?;
            // Which commands the server takes. A refusal (`INFO` not
            // allowed to this user) is no reason to fail: use the scripts.
            let info = Cmd::new()
                .arg("INFO")
                .arg("server")
                .query_async::<String>(&mut connection)
                .await;
            let takes = info.map_or(Takes::default(), |info| Takes::from_info(&info));
            Ok::<_, RedisError>((connection, takes))
        };
        let owners = Owners::new()?;
        let (connection, takes) = match tokio::time::timeout(self.timeout, connecting).await {
            Ok(Ok(connected)) => connected,
            Ok(Err(err)) => return Err(store_error("cannot connect to Redis", &err, password.as_deref())),
            Err(_) => {
                return Err(StoreError::new(format!(
                    "Redis did not answer within {:?}",
                    self.timeout
                )));
            }
        };
        Ok(RedisStore::connected(
            connection,
            self.key_prefix,
            self.timeout,
            takes.set_nx_get && !self.claim_by_script,
            self.complete_by_set.unwrap_or(takes.set_ifeq),
            owners,
        ))
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` with the default key prefix and
    /// timeout.
    ///
    /// # Errors
    ///
    /// As [`RedisStoreBuilder::from_url`] and [`RedisStoreBuilder::connect`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        RedisStoreBuilder::from_url(url)?.connect().await
    }

    /// A builder for a store on `client`'s Redis.
    pub fn builder(client: Client) -> RedisStoreBuilder {
        RedisStoreBuilder {
            client,
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            claim_by_script: false,
            complete_by_set: None,
        }
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_is_a_configuration_error_that_says_why_without_the_url() {
        for (url, why) in [
            ("http://:hunter2@127.0.0.1", "did not parse"),
            ("redis://:hunter2@127.0.0.1:99999", "did not parse"),
            ("redis://:hunter2@127.0.0.1:6379/not-a-db", "Invalid database number"),
            ("redis://:hunter2@0.0.0.0:6379", "wildcard address"),
            ("rediss://:hunter2@127.0.0.1:6379", "TLS"),
            // Redis' own message would repeat the value.
            ("redis://127.0.0.1:6379/?protocol=hunter2", "Invalid protocol version"),
            ("not a url hunter2", "did not parse"),
        ] {
            let err = RedisStoreBuilder::from_url(url).unwrap_err();
            assert!(err.is_configuration(), "{url}: {err}");
            let mut shown = vec![err.to_string(), format!("{err:?}")];
            shown.extend(std::error::Error::source(&err).map(|cause| format!("{cause} {cause:?}")));
            assert!(
                shown[0].starts_with("misconfigured: invalid Redis URL: "),
                "{url}: {err}"
            );
            assert!(shown[0].contains(why), "{url}: {err}");
            for shown in shown {
                assert!(!shown.contains("hunter2") && !shown.contains("127.0.0.1"), "{shown}");
            }
        }
        let builder = RedisStoreBuilder::from_url("redis://user:hunter2@127.0.0.1:6379").unwrap();
        assert!(!format!("{builder:?}").contains("hunter2"));
    }
}
