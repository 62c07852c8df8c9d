//! An [`IdempotencyStore`] on Redis (or Valkey), for several server
//! instances behind a load balancer: a Yoco retry that lands on another
//! instance, while the first is still working or after it crashed, sees the
//! same claim. Tested against Redis 7.0 and Valkey 9.1.
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

use std::fmt;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Cmd, ErrorKind, RedisError, RedisWrite, Script, ServerErrorKind, ToRedisArgs, Value};

use crate::dedup::{Claim, ClaimToken, IdempotencyStore, StoreError};
use crate::ids::WebhookId;

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

/// The value of a claimed key is this prefix and the owner token; the Lua
/// scripts below spell the same text.
const CLAIM_VALUE_PREFIX: &str = "claim:";

/// The value of a completed delivery's key; the Lua scripts below spell the
/// same text.
const DONE_VALUE: &str = "done";

/// The first Redis version whose `SET` takes `NX` and `GET` together.
/// (Valkey reports a `redis_version` of 7.2 besides its own.)
const FIRST_REDIS_WITH_SET_NX_GET: Version = Version(7, 0);

/// The first Redis version whose `SET` takes `IFEQ` (with `GET`).
const FIRST_REDIS_WITH_SET_IFEQ: Version = Version(8, 4);

/// The first Valkey version whose `SET` takes `IFEQ` (with `GET`).
const FIRST_VALKEY_WITH_SET_IFEQ: Version = Version(8, 1);

/// The claim on Redis before 7, as [`claim_answer`] reads `SET NX GET`'s.
/// `KEYS[1]` the delivery, `ARGV[1]` our claim value, `ARGV[2]` the lease in
/// milliseconds. Answers 1 acquired, 2 done, 3 claimed by another, 0 a value
/// we did not write.
const CLAIM_SCRIPT: &str = r"
local held = redis.call('GET', KEYS[1])
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif held == 'done' then
  return 2
elseif string.sub(held, 1, 6) == 'claim:' then
  return 3
end
return 0
";

/// `KEYS[1]` the delivery, `ARGV[1]` our claim value, `ARGV[2]` the
/// retention in milliseconds. Answers 1 recorded (or done already, kept for
/// at least the retention), 2 claimed by another owner (nothing changed), 0 a
/// value we did not write. A key that expired with our lease and was not
/// claimed since is still ours to record.
const COMPLETE_SCRIPT: &str = r"
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] or not held then
  redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
  return 1
elseif held == 'done' then
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
  return 1
elseif string.sub(held, 1, 6) == 'claim:' then
  return 2
end
return 0
";

/// `KEYS[1]` the delivery, `ARGV[1]` our claim value: deletes the key only if
/// it is still our claim. Answers 1.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 1
";

/// A Lua script and the SHA-1 by which Redis knows it once loaded.
struct LuaScript {
    code: &'static str,
    sha1: String,
}

impl LuaScript {
    fn new(code: &'static str) -> Self {
        let sha1 = Script::new(code).get_hash().to_owned();
        Self { code, sha1 }
    }
}

/// The store's scripts, hashed once per process.
struct Scripts {
    claim: LuaScript,
    complete: LuaScript,
    release: LuaScript,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    claim: LuaScript::new(CLAIM_SCRIPT),
    complete: LuaScript::new(COMPLETE_SCRIPT),
    release: LuaScript::new(RELEASE_SCRIPT),
});

/// An [`IdempotencyStore`] on Redis, shared by every instance that uses the
/// same Redis and key prefix. Cheap to clone: clones share one connection.
///
/// Built with [`RedisStore::connect`] or [`RedisStore::builder`]; see the
/// [module docs](self) for its guarantees and keys.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    key_prefix: String,
    timeout: Duration,
    /// Shared by clones: one refusal of a command switches them all to the
    /// script, and they never hand out the same owner token.
    shared: Arc<Shared>,
}

/// What the clones of one store share.
struct Shared {
    /// Whether claims are `SET NX GET` rather than the script.
    claim_by_set: AtomicBool,
    /// Whether completions are `SET IFEQ GET` rather than the script.
    complete_by_set: AtomicBool,
    /// Where the owner tokens of this store's claims come from.
    owners: Owners,
}

/// Configures a [`RedisStore`]: the key prefix and the timeout.
pub struct RedisStoreBuilder {
    client: Client,
    key_prefix: String,
    timeout: Duration,
    claim_with_script: bool,
    complete_with: Option<CompleteWith>,
}

/// How completions are forced, for tests; not part of the stable API.
#[doc(hidden)]
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

    /// Claims with the Lua script even where Redis 7's `SET NX GET` would do,
    /// as on Redis 6; for tests of that path. Not part of the stable API.
    #[doc(hidden)]
    #[must_use]
    pub fn claim_with_script(mut self, claim_with_script: bool) -> Self {
        self.claim_with_script = claim_with_script;
        self
    }

    /// Completes with the Lua script, or with `SET IFEQ` whatever the
    /// server says it takes; for tests of those paths. Not part of the
    /// stable API.
    #[doc(hidden)]
    #[must_use]
    pub fn complete_with(mut self, complete_with: CompleteWith) -> Self {
        self.complete_with = Some(complete_with);
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
        Ok(RedisStore {
            connection,
            key_prefix: self.key_prefix,
            timeout: self.timeout,
            shared: Arc::new(Shared {
                claim_by_set: AtomicBool::new(takes.set_nx_get && !self.claim_with_script),
                complete_by_set: AtomicBool::new(match self.complete_with {
                    Some(CompleteWith::Script) => false,
                    Some(CompleteWith::Set) => true,
                    None => takes.set_ifeq,
                }),
                owners,
            }),
        })
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
            claim_with_script: false,
            complete_with: None,
        }
    }

    /// The prefix of this store's keys.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// `script` on the delivery's key with our claim value and a number of
    /// milliseconds, by its SHA-1; sent whole if Redis does not know it.
    async fn run(&self, script: &LuaScript, token: &ClaimToken, millis: u64) -> Result<i64, StoreError> {
        let (key, value) = self.key_and_value(token);
        let call = |name: &str, script: &str| {
            let mut command = command(6, [name, script], [key, value]);
            command.arg(name).arg(script).arg(1).arg(key).arg(value).arg(millis);
            command
        };
        let answer = match self.send(&call("EVALSHA", &script.sha1)).await {
            // Redis restarted or failed over and forgot the script: `EVAL`
            // runs it and loads it for the next calls.
            Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.send(&call("EVAL", script.code)).await
            }
            answer => answer,
        };
        match answer.map_err(|err| store_error("Redis failed", &err, None))? {
            Value::Int(answer) => Ok(answer),
            _ => Err(foreign_value()),
        }
    }

    /// A claim in one `SET key value NX GET PX lease`: the value it found.
    async fn claim_by_set(&self, token: ClaimToken, lease: u64) -> Result<Claim, StoreError> {
        let (key, value) = self.key_and_value(&token);
        let mut command = command(7, ["SET", "NXGETPX"], [key, value]);
        command
            .arg("SET")
            .arg(key)
            .arg(value)
            .arg("NX")
            .arg("GET")
            .arg("PX")
            .arg(lease);
        let answer = self.send(&command).await.map_err(|err| {
            if is_syntax_error(&err) {
                // A server older than it said, or one we failed over to.
                self.shared.claim_by_set.store(false, Ordering::Relaxed);
            }
            store_error("Redis failed", &err, None)
        })?;
        claim_answer(&answer, token)
    }

    /// A completion: one `SET key done IFEQ claim:<owner> GET PX retention`
    /// where the server takes it, the script where it does not, or when the
    /// `SET` found the key gone or done already, which the script handles.
    async fn complete_in_turn(&self, token: &ClaimToken, retention: u64) -> Result<(), StoreError> {
        if self.completes_with_set() {
            match self.complete_by_set(token, retention).await? {
                Completion::Recorded => return Ok(()),
                Completion::HeldByAnother => return Err(held_by_another()),
                Completion::ForTheScript => {}
            }
        }
        match self.run(&SCRIPTS.complete, token, retention).await? {
            1 => Ok(()),
            2 => Err(held_by_another()),
            _ => Err(foreign_value()),
        }
    }

    /// `SET key done IFEQ claim:<owner> GET PX retention`: records the
    /// delivery only if our claim still holds the key.
    async fn complete_by_set(&self, token: &ClaimToken, retention: u64) -> Result<Completion, StoreError> {
        let (key, value) = self.key_and_value(token);
        let mut command = command(8, ["SET", DONE_VALUE, "IFEQGETPX"], [key, value]);
        command
            .arg("SET")
            .arg(key)
            .arg(DONE_VALUE)
            .arg("IFEQ")
            .arg(value)
            .arg("GET")
            .arg("PX")
            .arg(retention);
        match self.send(&command).await {
            Ok(answer) => completion_answer(&answer, token),
            // A server older than it said, or one we failed over to: the
            // refused command changed nothing, so the script completes.
            Err(err) if is_syntax_error(&err) => {
                self.shared.complete_by_set.store(false, Ordering::Relaxed);
                Ok(Completion::ForTheScript)
            }
            Err(err) => Err(store_error("Redis failed", &err, None)),
        }
    }

    /// The key of `token`'s delivery and the value of its claim, written
    /// straight into a command.
    fn key_and_value<'a>(&'a self, token: &'a ClaimToken) -> (Joined<'a>, Joined<'a>) {
        (
            Joined(self.key_prefix.as_bytes(), token.webhook_id().as_bytes()),
            Joined(CLAIM_VALUE_PREFIX.as_bytes(), token.owner_bytes()),
        )
    }

    /// One command, one round trip: Redis' answer, its error reply as an
    /// error.
    async fn send(&self, command: &Cmd) -> Result<Value, RedisError> {
        let mut connection = self.connection.clone();
        connection.send_packed_command(command).await?.extract_error()
    }

    /// `call` held to the timeout: one timer per store call, however many
    /// round trips it takes. A plain function, not an `async` one, so that
    /// the call's future is not kept twice in the caller's.
    fn timed<F: Future>(&self, call: F) -> tokio::time::Timeout<F> {
        tokio::time::timeout(self.timeout, call)
    }

    /// The answer of a [`timed`](Self::timed) call, or an error saying it
    /// took too long.
    fn in_time<T>(&self, answer: Result<Result<T, StoreError>, tokio::time::error::Elapsed>) -> Result<T, StoreError> {
        answer.map_err(|_| StoreError::new(format!("Redis did not answer within {:?}", self.timeout)))?
    }

    /// Whether claims are `SET NX GET` (Redis 7 or later) rather than the
    /// Lua script; for tests. Not part of the stable API.
    #[doc(hidden)]
    pub fn claims_with_set(&self) -> bool {
        self.shared.claim_by_set.load(Ordering::Relaxed)
    }

    /// Whether completions are `SET IFEQ GET` (Valkey 8.1, Redis 8.4 or
    /// later) rather than the Lua script; for tests. Not part of the stable
    /// API.
    #[doc(hidden)]
    pub fn completes_with_set(&self) -> bool {
        self.shared.complete_by_set.load(Ordering::Relaxed)
    }
}

/// What `SET key claim:<owner> NX GET` found: nothing (so it set the key, and
/// the claim is ours), a done delivery, another's claim, or anything else,
/// which we did not write.
fn claim_answer(answer: &Value, token: ClaimToken) -> Result<Claim, StoreError> {
    match answer {
        Value::Nil => Ok(Claim::Acquired(token)),
        Value::BulkString(held) if held.as_slice() == DONE_VALUE.as_bytes() => Ok(Claim::Done),
        Value::BulkString(held) if held.starts_with(CLAIM_VALUE_PREFIX.as_bytes()) => Ok(Claim::InProgress),
        _ => Err(foreign_value()),
    }
}

/// What a completion by `SET IFEQ GET` did.
#[derive(Debug, PartialEq, Eq)]
enum Completion {
    /// Our claim held the key: the delivery is recorded as done.
    Recorded,
    /// Another owner's claim holds the key: nothing changed.
    HeldByAnother,
    /// The key was gone (our lease ran out) or done already: nothing
    /// changed, and the script decides, as it does on every server.
    ForTheScript,
}

/// What `SET key done IFEQ claim:<owner> GET` found: our claim (so it set
/// the key), another's, nothing or a done delivery (so it set nothing), or
/// anything else, which we did not write.
fn completion_answer(answer: &Value, token: &ClaimToken) -> Result<Completion, StoreError> {
    match answer {
        Value::BulkString(held) => match held.strip_prefix(CLAIM_VALUE_PREFIX.as_bytes()) {
            Some(owner) if owner == token.owner_bytes() => Ok(Completion::Recorded),
            Some(_) => Ok(Completion::HeldByAnother),
            None if held.as_slice() == DONE_VALUE.as_bytes() => Ok(Completion::ForTheScript),
            None => Err(foreign_value()),
        },
        // Nothing there, or (on a server that answers nil to a `GET` whose
        // condition failed) nothing said: either way the script decides.
        Value::Nil => Ok(Completion::ForTheScript),
        _ => Err(foreign_value()),
    }
}

/// `context: what went wrong`, of the kind it is, without the URL, and
/// without `password` should Redis ever repeat it.
fn store_error(context: &str, err: &RedisError, password: Option<&str>) -> StoreError {
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

/// Which of the commands the store prefers to its scripts a server takes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Takes {
    /// `SET NX GET`: Redis 7 or later (Valkey says it is Redis 7.2).
    set_nx_get: bool,
    /// `SET IFEQ GET`: Valkey 8.1 or later, Redis 8.4 or later.
    set_ifeq: bool,
}

impl Takes {
    /// What the versions `INFO server` reports say; nothing for a server
    /// that does not say.
    fn from_info(info: &str) -> Self {
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

/// Whether Redis refused a command as malformed: what a Redis before 7
/// answers to `SET` with both `NX` and `GET`, and one before 8.4 (a Valkey
/// before 8.1) to `SET` with `IFEQ`.
fn is_syntax_error(err: &RedisError) -> bool {
    err.kind() == ErrorKind::Server(ServerErrorKind::ResponseError)
        && err.detail().is_some_and(|detail| detail.contains("syntax error"))
}

/// A command of `args` arguments with room for them all: its `words`, the
/// `joined` arguments, and numbers.
fn command<const W: usize, const J: usize>(args: usize, words: [&str; W], joined: [Joined<'_>; J]) -> Cmd {
    // One byte for a number of keys, at most 20 for a number of milliseconds.
    let words = words.iter().map(|word| word.len());
    let joined = joined
        .iter()
        .map(|joined| joined.0.len().saturating_add(joined.1.len()));
    let bytes = words.chain(joined).fold(21, usize::saturating_add);
    Cmd::with_capacity(args, bytes)
}

/// One command argument made of two pieces of text, written into the
/// command's buffer without joining them first.
#[derive(Clone, Copy)]
struct Joined<'a>(&'a [u8], &'a [u8]);

impl ToRedisArgs for Joined<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        let mut arg = out.writer_for_next_arg();
        // Writes into the command's memory, which cannot fail.
        let _ = arg.write_all(self.0);
        let _ = arg.write_all(self.1);
    }
}

/// Owner tokens: 128 bits in hex, counted up from a random start, so unique
/// across processes and machines without coordination, and without a
/// system call per claim.
struct Owners {
    start: u128,
    issued: AtomicU64,
}

impl Owners {
    fn new() -> Result<Self, StoreError> {
        let mut start = [0_u8; 16];
        getrandom::fill(&mut start).map_err(|err| StoreError::new(format!("no randomness for owner tokens: {err}")))?;
        Ok(Self {
            start: u128::from_be_bytes(start),
            issued: AtomicU64::new(0),
        })
    }

    /// The next owner token, as 32 lowercase hex digits.
    fn next(&self) -> OwnerText {
        let count = self.issued.fetch_add(1, Ordering::Relaxed);
        let owner = self.start.wrapping_add(u128::from(count));
        let mut text = [b'0'; 32];
        for (digit, shift) in text.iter_mut().rev().zip((0..128).step_by(4)) {
            let nibble = owner.wrapping_shr(shift) as u32 & 0xf;
            if let Some(hex) = char::from_digit(nibble, 16) {
                *digit = hex as u8; // an ASCII digit or lowercase letter
            }
        }
        OwnerText(text)
    }
}

/// An owner token's hex digits, on the stack.
struct OwnerText([u8; 32]);

impl AsRef<str> for OwnerText {
    fn as_ref(&self) -> &str {
        // Hex digits only, so always UTF-8; an empty owner never happens.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Redis expiries are whole milliseconds, at least one.
fn millis(duration: Duration, what: &str) -> Result<u64, StoreError> {
    u64::try_from(duration.as_millis())
        .map(|millis| millis.max(1))
        .map_err(|_| StoreError::configuration(format!("{what} too long")))
}

/// Another owner's claim holds the key we came to complete.
fn held_by_another() -> StoreError {
    StoreError::new("the claim is held by another attempt")
}

/// A key holding something our scripts never write: refuse to guess.
fn foreign_value() -> StoreError {
    StoreError::configuration(
        "the delivery's Redis key holds a value this store did not write (is the key prefix shared?)",
    )
}

impl IdempotencyStore for RedisStore {
    async fn claim(&self, webhook_id: &WebhookId, lease: Duration) -> Result<Claim, StoreError> {
        let lease = millis(lease, "lease")?;
        let token = ClaimToken::new(webhook_id.clone(), self.shared.owners.next());
        if self.claims_with_set() {
            return self.in_time(self.timed(self.claim_by_set(token, lease)).await);
        }
        match self.in_time(self.timed(self.run(&SCRIPTS.claim, &token, lease)).await)? {
            1 => Ok(Claim::Acquired(token)),
            2 => Ok(Claim::Done),
            3 => Ok(Claim::InProgress),
            _ => Err(foreign_value()),
        }
    }

    async fn complete(&self, token: &ClaimToken, retention: Duration) -> Result<(), StoreError> {
        let retention = millis(retention, "retention")?;
        self.in_time(self.timed(self.complete_in_turn(token, retention)).await)
    }

    async fn release(&self, token: &ClaimToken) -> Result<(), StoreError> {
        // The number is unused by the script.
        self.in_time(self.timed(self.run(&SCRIPTS.release, token, 0)).await)
            .map(|_| ())
    }
}

// By hand: the client's connection details (with any password) stay out.
impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
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
    fn the_scripts_spell_the_values_the_store_reads() {
        assert_eq!(
            CLAIM_VALUE_PREFIX.len(),
            6,
            "the scripts compare string.sub(held, 1, 6)"
        );
        for script in [CLAIM_SCRIPT, COMPLETE_SCRIPT] {
            assert!(script.contains(&format!("'{CLAIM_VALUE_PREFIX}'")) && script.contains(&format!("'{DONE_VALUE}'")));
        }
    }

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
    fn set_ifeq_answers_read_as_the_script_reads_the_value() {
        let token = ClaimToken::new(WebhookId::new("msg_1"), "0123");
        let complete = |answer: Value| completion_answer(&answer, &token);
        let bulk = |held: &[u8]| Value::BulkString(held.to_vec());
        assert_eq!(complete(bulk(b"claim:0123")).unwrap(), Completion::Recorded);
        for other in [
            &b"claim:0124"[..],
            b"claim:01234",
            b"claim:012",
            b"claim:",
            b"claim:\xff",
        ] {
            assert_eq!(complete(bulk(other)).unwrap(), Completion::HeldByAnother, "{other:?}");
        }
        assert_eq!(complete(bulk(b"done")).unwrap(), Completion::ForTheScript);
        assert_eq!(complete(Value::Nil).unwrap(), Completion::ForTheScript);
        for foreign in [
            bulk(b"garbage"),
            bulk(b"done "),
            bulk(b"DONE"),
            bulk(b"claim"),
            bulk(b"0123"),
            bulk(&[0xff, 0xfe]),
            bulk(b""),
            Value::Okay,
            Value::Int(1),
            Value::SimpleString("done".to_owned()),
            Value::Array(vec![Value::Nil]),
        ] {
            let err = complete(foreign.clone()).unwrap_err();
            assert!(err.is_configuration(), "{foreign:?}: {err}");
        }
    }

    #[test]
    fn set_nx_get_answers_read_as_the_script_reads_the_value() {
        let token = || ClaimToken::new(WebhookId::new("msg_1"), "owner");
        let claim = |answer: Value| claim_answer(&answer, token());
        match claim(Value::Nil) {
            Ok(Claim::Acquired(acquired)) => assert_eq!(acquired, token()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(claim(Value::BulkString(b"done".to_vec())), Ok(Claim::Done)));
        for held in [&b"claim:0123"[..], b"claim:", b"claim:\xff"] {
            assert!(matches!(claim(Value::BulkString(held.to_vec())), Ok(Claim::InProgress)));
        }
        for foreign in [
            Value::BulkString(b"garbage".to_vec()),
            Value::BulkString(b"done ".to_vec()),
            Value::BulkString(b"DONE".to_vec()),
            Value::BulkString(b"claim".to_vec()),
            Value::BulkString(vec![0xff, 0xfe]),
            Value::BulkString(Vec::new()),
            Value::Okay,
            Value::Int(1),
            Value::SimpleString("done".to_owned()),
            Value::Array(vec![Value::Nil]),
        ] {
            let err = claim(foreign.clone()).unwrap_err();
            assert!(err.is_configuration(), "{foreign:?}: {err}");
        }
    }

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

    #[test]
    fn owners_are_128_bit_hex_counted_up_from_a_random_start() {
        let owners = Owners::new().unwrap();
        let (a, b) = (owners.next(), owners.next());
        let (a, b) = (a.as_ref(), b.as_ref());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')), "{a}");
        assert_eq!(u128::from_str_radix(a, 16).unwrap(), owners.start);
        assert_eq!(u128::from_str_radix(b, 16).unwrap(), owners.start.wrapping_add(1));
        assert_ne!(
            Owners::new().unwrap().start,
            owners.start,
            "each store draws its own start"
        );

        // Every digit place, and the wrap at the top.
        let owners = Owners {
            start: u128::MAX,
            issued: AtomicU64::new(0),
        };
        assert_eq!(owners.next().as_ref(), "f".repeat(32));
        assert_eq!(owners.next().as_ref(), "0".repeat(32));
        let owners = Owners {
            start: 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
            issued: AtomicU64::new(0),
        };
        assert_eq!(owners.next().as_ref(), "0123456789abcdeffedcba9876543210");
    }

    #[test]
    fn expiries_are_whole_positive_milliseconds() {
        assert_eq!(millis(Duration::from_micros(10), "lease").unwrap(), 1);
        assert_eq!(millis(Duration::from_millis(1500), "lease").unwrap(), 1500);
        assert!(millis(Duration::MAX, "lease").unwrap_err().is_configuration());
    }

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
                shown[0].starts_with("idempotency store misconfigured: invalid Redis URL: "),
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
