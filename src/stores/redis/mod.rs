//! An [`IdempotencyStore`] on Redis (or Valkey), for several server
//! instances behind a load balancer: a Yoco retry that lands on another
//! instance, while the first is still working or after it crashed, sees the
//! same claim. On one server or a [Redis Cluster](#redis-cluster). Tested
//! against Redis 7.0 and Valkey 9.1, and a cluster of six Valkey nodes.
//!
//! ```no_run
//! use yoco_webhooks::YocoWebhookConfig;
//! use yoco_webhooks::redis::RedisStoreBuilder;
//!
//! # async fn run(receiver: yoco_webhooks::Receiver) -> Result<(), yoco_webhooks::dedup::StoreError> {
//! let store = RedisStoreBuilder::from_url("redis://:password@redis.internal:6379/0")?
//!     .key_prefix("shop-a:yoco:") // default "yoco-webhooks:"
//!     .connect()
//!     .await?;
//! let config = YocoWebhookConfig::new(receiver).with_store(store); // handlers name no store type
//! # Ok(()) }
//! ```
//!
//! # What it guarantees
//!
//! [`RedisStore`] keeps the [`IdempotencyStore`] contract across every
//! process that uses the same Redis and key prefix:
//!
//! - A claim is one atomic command on the server (see [below](#what-a-claim-costs)):
//!   of any number of concurrent attempts, on any number of machines, one
//!   acquires.
//! - A claim carries a lease (a key expiry): if its process dies, the key
//!   expires and the next retry acquires it.
//! - Each claim has its own owner token of 128 bits, counted up from a
//!   random start drawn when the store connects, so owners never collide
//!   across processes or machines (two stores would need random starts
//!   closer than the claims they issue: for a trillion claims each, a
//!   chance of about 2^-87 per pair), and a claim needs no system call for
//!   randomness. Only the owner completes or releases; completing a claim
//!   that another owner now holds is an error and changes nothing;
//!   completing a delivery already done is `Ok`.
//! - A completed delivery is remembered for at least the retention.
//! - Every call answers within the [timeout](RedisStoreBuilder::timeout)
//!   (default 2 s): a Redis that is down or slow gives a [`StoreError`]
//!   (your endpoint answers 503 and Yoco retries), never a hang. The
//!   connection is re-established in the background; once Redis is back,
//!   calls succeed again without a restart.
//!
//! Redis is as durable as you configure it: without persistence, a restarted
//! Redis forgets completed deliveries, and a retry that arrives afterwards is
//! processed again.
//!
//! # Keys
//!
//! One string key per delivery: the key prefix followed by the `webhook-id`
//! as received, for example `yoco-webhooks:msg_2Dx8...`. Its value is
//! `claim:<owner>` while claimed (expiring with the lease) and `done` once
//! completed (expiring after the retention). Nothing else is written. Give
//! each application sharing a Redis its own prefix with
//! [`RedisStoreBuilder::key_prefix`]; instances of the same application must
//! share one.
//!
//! # Round trips
//!
//! One round trip per call, so two per processed delivery (claim, then
//! complete or release) and one per duplicate. The scripts are called by
//! their SHA-1 (`EVALSHA`), so their text is not sent, copied and hashed on
//! every call. A Redis that does not know a script (it restarted, or failed
//! over to a replica that never ran it) answers `NOSCRIPT`; the store then
//! sends the script whole (`EVAL`), which also loads it: one extra round
//! trip per script after a restart, within the same timeout.
//!
//! # What a claim costs
//!
//! On Redis 7 or later a claim is one `SET key claim:<owner> NX GET PX
//! <lease>`: it sets the key only if it is absent and answers the value it
//! found, all in one command (about 2–4 µs of Redis time, against about 6 µs
//! for a Lua script). On an older Redis, which refuses `NX` with `GET`, a
//! claim is a Lua script doing the same (`EVAL`).
//!
//! A completion must check the owner before it writes. On a server whose
//! `SET` compares the value it replaces (`IFEQ`: Valkey 8.1 or later, Redis
//! 8.4 or later) it is one `SET key done IFEQ claim:<owner> GET PX
//! <retention>`, with no Lua: it records the delivery only if our claim
//! still holds the key, and answers what it found. In the two rare cases it
//! leaves alone (our lease ran out and the key is gone, or the delivery is
//! done already), the Lua script decides, in a second round trip within the
//! same timeout. Elsewhere a completion is the Lua script. A release (after
//! a failed handler) is always the script.
//!
//! Which commands a server takes is read once, at
//! [connect](RedisStoreBuilder::connect), from the `redis_version` and
//! `valkey_version` that `INFO server` reports; a server that does not say
//! (a user not allowed `INFO`, say) gets the scripts. Should a server later
//! refuse a command as a syntax error (a failover to an older server), the
//! store uses the script from then on: a refused claim fails with a
//! [`StoreError`] (Yoco retries), a refused completion is completed by the
//! script at once. Either way the same values are written, so instances of
//! every kind share claims.

//!
//! # Redis Cluster
//!
//! [`RedisStoreBuilder::cluster`] (or [`RedisStore::connect_cluster`])
//! takes the URLs of one or more of a cluster's nodes; the store learns the
//! others (redis-rs's cluster client). One `redis://` URL, as above, is one
//! server. Every call touches exactly one key, so it is one command on the
//! primary that owns that key's slot, with the round trips above. The
//! scripts are loaded per node: a node that never ran one answers
//! `NOSCRIPT` and is sent it whole, once. Which commands the store uses is
//! read from every node, primaries and replicas (a replica may be
//! promoted): `SET NX GET` and `SET IFEQ` only if every node takes them.
//!
//! While a primary is down and no node owns its slots (`CLUSTERDOWN`), the
//! calls on its keys fail as [unavailable](crate::dedup::StoreErrorKind::Unavailable)
//! (your endpoint answers 503); once its replica is promoted, the store
//! follows the new slot map by itself. Replication is asynchronous: a claim
//! the primary acknowledged but had not yet replicated is lost with it, so
//! a retry may run while the first attempt still runs, only within the
//! lease of an attempt in flight at the failure. A completion lost that
//! way lets a later retry run again.
//!
//! [`IdempotencyStore`]: crate::dedup::IdempotencyStore
//! [`StoreError`]: crate::dedup::StoreError

mod builder; // `RedisStoreBuilder`: one server or a cluster, prefix, timeout, connecting
mod connection; // one server or a cluster, behind one `send`
mod error; // redis-rs's errors as `StoreError`s, without the URL or password
mod scripts; // the values, the Lua scripts and the `SET` commands, and their answers: no I/O
mod store; // `RedisStore`: the store calls, held to the timeout
mod version; // which commands a server takes, from `INFO server`

#[cfg(feature = "testing")]
pub use builder::CompleteWith;
pub use builder::{DEFAULT_KEY_PREFIX, DEFAULT_TIMEOUT, RedisStoreBuilder};
pub use store::RedisStore;
