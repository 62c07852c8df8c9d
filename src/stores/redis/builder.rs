//! [`RedisStoreBuilder`]: one server or a cluster, the key prefix and the
//! timeout, and connecting, which checks the address and the password at
//! start-up and reads which commands the server (every node) takes.

use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::{ClusterClient, ClusterClientBuilder};
use ::redis::{Client, Cmd, ConnectionInfo, IntoConnectionInfo as _, RedisError};

use super::connection::Connection;
use super::error::store_error;
use super::store::RedisStore;
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

/// Attempts of one command on a cluster after the first (after `MOVED`, a
/// lost node, `CLUSTERDOWN` while a replica takes over), each after a short
/// pause: the call's timeout ends them first if the cluster stays down.
const CLUSTER_RETRIES: u32 = 8;
/// The shortest and longest pause, in milliseconds, before a command is
/// tried again on a cluster (redis-rs waits at least 1.28 s by default,
/// most of a call's timeout).
const CLUSTER_RETRY_WAIT_MS: (u64, u64) = (10, 250);

/// Configures a [`RedisStore`]: one server or a cluster, the key prefix and
/// the timeout.
pub struct RedisStoreBuilder {
    target: Target,
    key_prefix: String,
    timeout: Duration,
    /// Claims by the script whatever the server takes (set by tests).
    claim_by_script: bool,
    /// Completions by `SET IFEQ` (`true`) or the script (`false`) whatever
    /// the server takes (set by tests); `None`: as the server takes.
    complete_by_set: Option<bool>,
}

/// Where the store connects.
enum Target {
    /// One server.
    Server(Client),
    /// A Redis Cluster, through these nodes (checked by redis-rs).
    Cluster(Vec<ConnectionInfo>),
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

    /// A builder for the Redis Cluster that `nodes` belong to: the URLs
    /// (`redis://[user][:password@]host:port`) of one or more of its nodes,
    /// from which the store learns the others. Every call touches one key,
    /// so it runs on the node that owns that key's slot.
    ///
    /// # Errors
    ///
    /// A [configuration](crate::dedup::StoreErrorKind::Configuration)
    /// [`StoreError`] if there is no node, a URL is not a Redis URL (or asks
    /// for TLS, or a Unix socket), or the nodes' passwords, users or
    /// databases differ. It says why, but never contains a URL, so no
    /// password leaks into logs.
    pub fn cluster<I>(nodes: I) -> Result<Self, StoreError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let nodes = nodes
            .into_iter()
            .map(|url| url.as_ref().into_connection_info())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| store_error("invalid Redis URL", &err, None))?;
        let password = first_password(&nodes);
        // Checks that the nodes agree, as connecting would.
        ClusterClient::new(nodes.clone())
            .map_err(|err| store_error("invalid Redis Cluster nodes", &err, password.as_deref()))?;
        Ok(RedisStore::builder_for(Target::Cluster(nodes)))
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
    /// background. On a cluster, it reads the slot map from the nodes
    /// given, connects to every node, and follows the slot map as it
    /// changes (a failover, a resharding) by itself.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] saying why: a
    /// [configuration](crate::dedup::StoreErrorKind::Configuration) error if
    /// Redis refuses the credentials or the database number, an
    /// [unavailable](crate::dedup::StoreErrorKind::Unavailable) one if it
    /// cannot be reached or does not answer within the timeout.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let password = match &self.target {
            Target::Server(client) => client
                .get_connection_info()
                .redis_settings()
                .password()
                .map(str::to_owned),
            Target::Cluster(nodes) => first_password(nodes),
        };
        let timeout = self.timeout;
        let connecting = async {
            let connection = match self.target {
                Target::Server(client) => Connection::Server(server_connection(client, timeout).await?),
                Target::Cluster(nodes) => {
                    Connection::Cluster(cluster_client(nodes, timeout)?.get_async_connection().await?)
                }
            };
            // Without a password, Redis accepts the connection and refuses
            // every command: ask one, so that the mistake shows now.
            connection.send(Cmd::new().arg("PING")).await?;
            let takes = connection.takes().await;
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

/// A connection to one server that reconnects in the background. Every
/// call is held to the timeout as a whole (see `RedisStore::timed`), so the
/// connection needs no timer of its own per command; a connection attempt,
/// handshake included, is held to it here.
async fn server_connection(client: Client, timeout: Duration) -> Result<ConnectionManager, RedisError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(None)
        .set_number_of_retries(RECONNECT_RETRIES)
        .set_max_delay(MAX_RECONNECT_DELAY);
    ConnectionManager::new_with_config(client, config).await
}

/// A client for the cluster of `nodes`: each connection attempt and answer
/// held to the timeout, a command tried again after short pauses (after
/// `MOVED`, a lost node or `CLUSTERDOWN`, the slot map is refreshed first),
/// until the call's own timeout.
fn cluster_client(nodes: Vec<ConnectionInfo>, timeout: Duration) -> Result<ClusterClient, RedisError> {
    let (min_wait, max_wait) = CLUSTER_RETRY_WAIT_MS;
    ClusterClientBuilder::new(nodes)
        .connection_timeout(timeout)
        .response_timeout(timeout)
        .retries(CLUSTER_RETRIES)
        .min_retry_wait(min_wait)
        .max_retry_wait(max_wait)
        .build()
}

/// The password in the first of `nodes`, which a cluster client uses for
/// every node.
fn first_password(nodes: &[ConnectionInfo]) -> Option<String> {
    nodes
        .first()
        .and_then(|node| node.redis_settings().password())
        .map(str::to_owned)
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

    /// Connects to the Redis Cluster that `nodes` (the URLs of one or more
    /// of its nodes) belong to, with the default key prefix and timeout.
    ///
    /// # Errors
    ///
    /// As [`RedisStoreBuilder::cluster`] and [`RedisStoreBuilder::connect`].
    pub async fn connect_cluster<I>(nodes: I) -> Result<Self, StoreError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        RedisStoreBuilder::cluster(nodes)?.connect().await
    }

    /// A builder for a store on `client`'s Redis.
    pub fn builder(client: Client) -> RedisStoreBuilder {
        Self::builder_for(Target::Server(client))
    }

    /// A builder with the defaults for `target`.
    fn builder_for(target: Target) -> RedisStoreBuilder {
        RedisStoreBuilder {
            target,
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
            .field("cluster", &matches!(self.target, Target::Cluster(_)))
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

    #[test]
    fn bad_cluster_nodes_are_a_configuration_error_that_says_why_without_a_url() {
        let none: [&str; 0] = [];
        for (nodes, why) in [
            (&none[..], "Initial nodes can't be empty"),
            (
                &["redis://:hunter2@127.0.0.1:7000", "redis://:hunter2@127.0.0.1:99999"][..],
                "did not parse",
            ),
            (
                &["redis://:hunter2@127.0.0.1:7000", "redis://:other@127.0.0.1:7001"][..],
                "different password",
            ),
            (
                &["redis://:hunter2@127.0.0.1:7000/1", "redis://:hunter2@127.0.0.1:7001/2"][..],
                "different database",
            ),
            (&["redis+unix:///tmp/hunter2.sock"][..], "unix socket"),
        ] {
            let err = RedisStoreBuilder::cluster(nodes).unwrap_err();
            assert!(err.is_configuration(), "{nodes:?}: {err}");
            let shown = [err.to_string(), format!("{err:?}")];
            assert!(shown[0].contains(why), "{nodes:?}: {err}");
            for shown in shown {
                assert!(!shown.contains("hunter2") && !shown.contains("127.0.0.1"), "{shown}");
            }
        }
        let builder = RedisStoreBuilder::cluster(["redis://:hunter2@127.0.0.1:7000"]).unwrap();
        let shown = format!("{builder:?}");
        assert!(shown.contains("cluster: true") && !shown.contains("hunter2"), "{shown}");
    }
}
