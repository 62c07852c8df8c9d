//! The store's one connection type: to one server (redis-rs's
//! `ConnectionManager`, which reconnects in the background) or to a Redis
//! Cluster (`cluster_async::ClusterConnection`, which routes each command to
//! the node that owns its key's slot, follows `MOVED` and refreshes the slot
//! map after a failover). The store sends every command through
//! [`Connection::send`], so the scripts, the version probe and the errors
//! are the same on both.

use ::redis::aio::ConnectionLike as _;
use ::redis::aio::ConnectionManager;
use ::redis::cluster_async::ClusterConnection;
use ::redis::cluster_routing::{MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo};
use ::redis::{Cmd, RedisError, Value};

use super::version::Takes;

/// A connection to one server or to a cluster. Cheap to clone: clones share
/// the connections underneath.
#[derive(Clone)]
pub(super) enum Connection {
    /// One server.
    Server(ConnectionManager),
    /// A Redis Cluster: each command goes to its key's node.
    Cluster(ClusterConnection),
}

impl Connection {
    /// One command, one round trip (to the node of its key, on a cluster):
    /// the server's answer, its error reply as an error.
    pub(super) async fn send(&self, command: &Cmd) -> Result<Value, RedisError> {
        match self {
            Self::Server(connection) => connection.clone().send_packed_command(command).await,
            Self::Cluster(connection) => connection.clone().req_packed_command(command).await,
        }?
        .extract_error()
    }

    /// Which commands the server takes, from `INFO server`; on a cluster,
    /// what every node takes (primaries and replicas, since a replica may be
    /// promoted). A refusal (`INFO` not allowed to this user), on any node,
    /// is no reason to fail: the scripts then.
    pub(super) async fn takes(&self) -> Takes {
        let info = Cmd::new().arg("INFO").arg("server").clone();
        match self {
            Self::Server(_) => match self.send(&info).await {
                Ok(answer) => Takes::from_answer(&answer),
                Err(_) => Takes::default(),
            },
            Self::Cluster(connection) => {
                // One answer per node, by address.
                let every_node =
                    RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllNodes, Some(ResponsePolicy::Special)));
                match connection.clone().route_command(info, every_node).await {
                    Ok(Value::Map(answers)) if !answers.is_empty() => {
                        Takes::of_every(answers.iter().map(|(_, answer)| Takes::from_answer(answer)))
                    }
                    _ => Takes::default(),
                }
            }
        }
    }
}
