//! Which of the commands the store prefers to its scripts a server takes,
//! read once at connect from the versions `INFO server` reports: `SET NX
//! GET` from Redis 7, `SET IFEQ GET` from Redis 8.4 and Valkey 8.1. On a
//! cluster, what every node takes.

use ::redis::Value;

/// The first Redis version whose `SET` takes `NX` and `GET` together.
/// (Valkey reports a `redis_version` of 7.2 besides its own.)
const FIRST_REDIS_WITH_SET_NX_GET: Version = Version(7, 0);

/// The first Redis version whose `SET` takes `IFEQ` (with `GET`).
const FIRST_REDIS_WITH_SET_IFEQ: Version = Version(8, 4);

/// The first Valkey version whose `SET` takes `IFEQ` (with `GET`).
const FIRST_VALKEY_WITH_SET_IFEQ: Version = Version(8, 1);

/// Which of the commands the store prefers to its scripts a server takes.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Takes {
    /// `SET NX GET`: Redis 7 or later (Valkey says it is Redis 7.2).
    pub(super) set_nx_get: bool,
    /// `SET IFEQ GET`: Valkey 8.1 or later, Redis 8.4 or later.
    pub(super) set_ifeq: bool,
}

impl Takes {
    /// What the versions `INFO server` reports say; nothing for a server
    /// that does not say.
    pub(super) fn from_info(info: &str) -> Self {
        let version = |field: &str| {
            info.lines()
                .find_map(|line| line.trim_end().strip_prefix(field)?.strip_prefix(':'))
                .and_then(Version::parse)
        };
        let redis = version("redis_version");
        let set_ifeq = match version("valkey_version") {
            Some(valkey) => valkey >= FIRST_VALKEY_WITH_SET_IFEQ,
            None => redis.is_some_and(|redis| redis >= FIRST_REDIS_WITH_SET_IFEQ),
        };
        Self {
            set_nx_get: redis.is_some_and(|redis| redis >= FIRST_REDIS_WITH_SET_NX_GET),
            set_ifeq,
        }
    }
}

impl Takes {
    /// What `INFO server`'s answer says; nothing for an answer that is not
    /// text (an error, on a cluster node that refused it).
    pub(super) fn from_answer(answer: &Value) -> Self {
        match answer {
            Value::BulkString(info) => std::str::from_utf8(info).map_or(Self::default(), Self::from_info),
            Value::VerbatimString { text, .. } | Value::SimpleString(text) => Self::from_info(text),
            _ => Self::default(),
        }
    }

    /// What every one of `nodes` takes: a command that one node refuses is
    /// not used on any (a replica promoted must take what its primary took).
    pub(super) fn of_every(nodes: impl IntoIterator<Item = Self>) -> Self {
        nodes.into_iter().fold(
            Self {
                set_nx_get: true,
                set_ifeq: true,
            },
            |every, node| Self {
                set_nx_get: every.set_nx_get && node.set_nx_get,
                set_ifeq: every.set_ifeq && node.set_ifeq,
            },
        )
    }
}

/// A server version's major and minor numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Version(u32, u32);

impl Version {
    /// `7.0.15` or `8.1`; `None` for anything else.
    fn parse(text: &str) -> Option<Self> {
        let mut numbers = text.split('.').map(str::parse::<u32>);
        let major = numbers.next()?.ok()?;
        let minor = numbers.next().map_or(Ok(0), |minor| minor).ok()?;
        Some(Self(major, minor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commands_a_server_takes_by_its_versions() {
        let takes = |set_nx_get, set_ifeq| Takes { set_nx_get, set_ifeq };
        for (info, expected) in [
            (
                "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n",
                takes(true, false),
            ),
            ("redis_version:7.2.4\n", takes(true, false)),
            ("redis_version:8.0.2\r\n", takes(true, false)),
            ("redis_version:8.2.1\r\n", takes(true, false)),
            ("redis_version:8.4.0\r\n", takes(true, true)),
            ("redis_version:8.10\r\n", takes(true, true)),
            ("redis_version:10.0.0\r\n", takes(true, true)),
            ("# Server\r\nredis_version:6.2.14\r\n", takes(false, false)),
            ("redis_version:5.0.7\r\n", takes(false, false)),
            // Valkey says it is Redis 7.2, and its own version beside.
            (
                "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:9.1.2\r\n",
                takes(true, true),
            ),
            ("redis_version:7.2.4\r\nvalkey_version:8.1.1\r\n", takes(true, true)),
            ("redis_version:7.2.4\r\nvalkey_version:8.0.1\r\n", takes(true, false)),
            ("valkey_version:8.0.0\r\nredis_version:7.2.4\r\n", takes(true, false)),
            // A Valkey's own version rules, even beside a high `redis_version`.
            ("redis_version:8.4.0\r\nvalkey_version:7.2.5\r\n", takes(true, false)),
            ("# Server\r\nvalkey_version:8.1.0\r\n", takes(false, true)),
            ("redis_version:\r\n", takes(false, false)),
            ("redis_version:seven\r\n", takes(false, false)),
            ("redis_version:8.four\r\n", takes(false, false)),
            ("redis_version_extra:8.4.0\r\n", takes(false, false)),
            ("redis_version:-8.4\r\n", takes(false, false)),
            ("", takes(false, false)),
        ] {
            assert_eq!(Takes::from_info(info), expected, "{info:?}");
        }
    }

    #[test]
    fn a_cluster_takes_what_every_node_takes() {
        let valkey = Value::BulkString(b"redis_version:7.2.4\r\nvalkey_version:9.0.0\r\n".to_vec());
        let redis_7 = Value::VerbatimString {
            format: ::redis::VerbatimFormat::Text,
            text: "redis_version:7.0.15\r\n".to_owned(),
        };
        let refused = Value::ServerError(
            ::redis::parse_redis_value(b"-NOPERM no\r\n")
                .ok()
                .and_then(|value| match value {
                    Value::ServerError(err) => Some(err),
                    _ => None,
                })
                .unwrap(),
        );
        let takes = |answers: &[&Value]| Takes::of_every(answers.iter().map(|answer| Takes::from_answer(answer)));
        let both = Takes {
            set_nx_get: true,
            set_ifeq: true,
        };
        assert_eq!(takes(&[&valkey, &valkey]), both);
        assert_eq!(
            takes(&[&valkey, &redis_7, &valkey]),
            Takes {
                set_nx_get: true,
                set_ifeq: false
            }
        );
        assert_eq!(takes(&[&valkey, &refused]), Takes::default());
        assert_eq!(takes(&[&Value::Int(1)]), Takes::default());
    }
}
