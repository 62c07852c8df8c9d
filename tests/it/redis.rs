//! The Redis store against a real `redis-server` on 127.0.0.1 (one per test,
//! without persistence): the store contract, Redis down and back, a failed
//! handler, a crashed process, several instances at once, the round trips per
//! delivery, and no password in any error; and against a real `valkey-server`
//! (8.1 or later), whose `SET` takes `IFEQ`, the completion without Lua.
//! Needs the Debian package `redis-server` and a Valkey built by
//! `scripts/install-valkey` (else one on `PATH`); without them these tests
//! fail with the install command.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use ::redis::AsyncCommands as _;
use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::post;
use tokio::io::{AsyncBufReadExt, BufReader};
use yoco_webhooks::dedup::StoreErrorKind::{Configuration, Unavailable};
use yoco_webhooks::redis::{CompleteWith, DEFAULT_KEY_PREFIX, RedisStore, RedisStoreBuilder};
use yoco_webhooks::testing::{SampleEvent, Signer, StoreCheck, TEST_SECRET, check_store};
use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookId, WebhookSecret};
use yoco_webhooks::{
    Processed,
    dedup::{Claim, Deduplicator, IdempotencyStore, StoreError, StoreErrorKind},
};
use yoco_webhooks::{YocoWebhook, YocoWebhookConfig};

use crate::adapters::Recorder;
use crate::conformance::passed;
use crate::servers::{Ready, Server, ServerSpec};

/// A `redis-server` (or `valkey-server`) of our own, forgotten when it
/// stops.
pub(crate) struct Redis {
    server: Server,
    kind: Kind,
    password: Option<&'static str>,
}

/// Which server: Debian 12's Redis 7.0, or a Valkey whose `SET` takes `IFEQ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Redis,
    Valkey,
}

/// Where `scripts/install-valkey` puts its build.
const VALKEY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/tools/valkey/bin");

impl Redis {
    pub(crate) fn start() -> Redis {
        Self::start_server(Kind::Redis, None)
    }

    fn valkey() -> Redis {
        Self::start_server(Kind::Valkey, None)
    }

    fn start_with_password(password: Option<&'static str>) -> Redis {
        Self::start_server(Kind::Redis, password)
    }

    fn start_server(kind: Kind, password: Option<&'static str>) -> Redis {
        let (binary, dirs, install) = match kind {
            Kind::Redis => ("redis-server", &[][..], "apt-get install -y redis-server"),
            Kind::Valkey => ("valkey-server", &[VALKEY_DIR][..], "scripts/install-valkey"),
        };
        let args = move |port: u16| {
            let mut args: Vec<String> = [
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                "",
                "--dir",
                &std::env::temp_dir().display().to_string(),
            ]
            .map(String::from)
            .to_vec();
            if let Some(password) = password {
                args.extend(["--requirepass".to_owned(), password.to_owned()]);
            }
            args
        };
        // Stopped as a crash would stop it: the tests of an outage want that.
        let spec = dirs
            .iter()
            .fold(
                ServerSpec::new(binary, install, args, Ready::Line("Ready to accept connections")),
                |spec, dir| spec.in_dir(*dir),
            )
            .stopped_with("KILL");
        let server = Server::start(spec);
        Redis { server, kind, password }
    }

    pub(crate) fn url(&self) -> String {
        match self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.server.port()),
            None => format!("redis://127.0.0.1:{}", self.server.port()),
        }
    }

    async fn store(&self) -> RedisStore {
        let store = RedisStore::connect(&self.url()).await.unwrap();
        assert!(store.claims_with_set(), "Redis 7 or later claims with SET NX GET");
        assert_eq!(
            store.completes_with_set(),
            self.kind == Kind::Valkey,
            "Valkey 8.1 or later completes with SET IFEQ, Redis 7 with the script"
        );
        store
    }

    /// A store that completes with the Lua script (Valkey) or, whatever the
    /// server says, with `SET IFEQ` (Redis 7, which refuses it).
    async fn store_completing_with(&self, complete_with: CompleteWith) -> RedisStore {
        let store = self.store_built(|builder| builder.complete_with(complete_with)).await;
        assert_eq!(store.completes_with_set(), complete_with == CompleteWith::Set);
        store
    }

    /// A store that claims with the Lua script, as on Redis 6.
    async fn script_store(&self) -> RedisStore {
        let store = self.store_built(|builder| builder.claim_with_script(true)).await;
        assert!(!store.claims_with_set());
        store
    }

    /// A store on this server, configured by `configure`.
    async fn store_built(&self, configure: impl FnOnce(RedisStoreBuilder) -> RedisStoreBuilder) -> RedisStore {
        configure(RedisStoreBuilder::from_url(&self.url()).unwrap())
            .connect()
            .await
            .unwrap()
    }

    /// Has the server run the completion script once, so that `MONITOR`
    /// then counts `EVALSHA` without a first `EVAL`.
    async fn load_the_completion_script(&self) {
        let store = self.store_completing_with(CompleteWith::Script).await;
        let once = Deduplicator::new(store);
        let processed: Processed<(), ()> = once.process(&id("msg_loads_the_script"), || async { Ok(()) }).await;
        assert!(
            matches!(processed, Processed::Done { recorded: Ok(()), .. }),
            "{processed:?}"
        );
    }

    /// A plain connection, to look at what the store wrote.
    async fn inspect(&self) -> ::redis::aio::MultiplexedConnection {
        ::redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

fn id(text: &str) -> WebhookId {
    WebhookId::new(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_redis_store_keeps_the_contract() {
    let redis = Redis::start();
    let store = redis.store().await;
    passed(check_store(&store).await);
    // Again on the same Redis: the first run's keys stay out of the way.
    passed(check_store(&store).await);
    // Another key prefix on the same Redis is another namespace: the same ids are fresh there.
    let run = StoreCheck::new().prefix("run-1");
    passed(run.run(&store).await);
    let other = redis.store_built(|builder| builder.key_prefix("other-app:")).await;
    passed(run.run(&other).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_redis_store_keeps_the_contract_claiming_with_the_script() {
    let redis = Redis::start();
    passed(check_store(&redis.script_store().await).await);
}

/// On Valkey, completions are `SET IFEQ` (without Lua), whichever way the
/// store claims, and the script where forced.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_on_valkey_keeps_the_contract_completing_without_lua() {
    let valkey = Redis::valkey();
    passed(check_store(&valkey.store().await).await);
    passed(check_store(&valkey.script_store().await).await);
    passed(check_store(&valkey.store_completing_with(CompleteWith::Script).await).await);
}

/// Claims and completions by `SET` and by script write the same values:
/// instances of every kind share deliveries.
#[tokio::test]
async fn commands_and_scripts_share_one_key_format() {
    for kind in [Kind::Redis, Kind::Valkey] {
        let redis = Redis::start_server(kind, None);
        let mut stores = vec![redis.store().await, redis.script_store().await];
        if kind == Kind::Valkey {
            stores.push(redis.store_completing_with(CompleteWith::Script).await);
        }
        let lease = Duration::from_secs(60);
        for (n, first) in stores.iter().enumerate() {
            for (m, second) in stores.iter().enumerate().filter(|(m, _)| *m != n) {
                let webhook_id = id(&format!("msg_{n}_{m}"));
                let Claim::Acquired(token) = first.claim(&webhook_id, lease).await.unwrap() else {
                    panic!("not acquired")
                };
                assert!(matches!(second.claim(&webhook_id, lease).await, Ok(Claim::InProgress)));
                assert!(
                    second.complete(&token, lease).await.is_ok(),
                    "{kind:?} {n} {m}: the token is the same"
                );
                assert!(matches!(first.claim(&webhook_id, lease).await, Ok(Claim::Done)));
                assert!(matches!(second.claim(&webhook_id, lease).await, Ok(Claim::Done)));
            }
        }
    }
}

#[tokio::test]
async fn one_key_per_delivery_under_the_prefix_expiring_with_lease_then_retention() {
    for kind in [Kind::Redis, Kind::Valkey] {
        one_key_per_delivery(&Redis::start_server(kind, None)).await;
    }
}

async fn one_key_per_delivery(redis: &Redis) {
    let store = redis.store().await;
    let mut inspect = redis.inspect().await;
    assert_eq!(store.key_prefix(), DEFAULT_KEY_PREFIX);
    let key = format!("{DEFAULT_KEY_PREFIX}msg_1");

    let Claim::Acquired(token) = store.claim(&id("msg_1"), Duration::from_secs(60)).await.unwrap() else {
        panic!("not acquired")
    };
    let value: String = inspect.get(&key).await.unwrap();
    assert_eq!(value, format!("claim:{}", token.owner()));
    assert_eq!(token.owner().len(), 32, "128 random bits in hex");
    let ttl: i64 = inspect.pttl(&key).await.unwrap();
    assert!(0 < ttl && ttl <= 60_000, "the lease is the key's expiry: {ttl}");

    store.complete(&token, Duration::from_secs(3600)).await.unwrap();
    let value: String = inspect.get(&key).await.unwrap();
    assert_eq!(value, "done");
    let ttl: i64 = inspect.pttl(&key).await.unwrap();
    assert!(60_000 < ttl && ttl <= 3_600_000, "kept for the retention: {ttl}");

    let keys: Vec<String> = inspect.keys("*").await.unwrap();
    assert_eq!(keys, [key], "nothing else is written");
}

#[tokio::test]
async fn a_value_the_store_did_not_write_is_an_error_not_a_guess() {
    for kind in [Kind::Redis, Kind::Valkey] {
        let redis = Redis::start_server(kind, None);
        let mut inspect = redis.inspect().await;
        let () = inspect
            .set(format!("{DEFAULT_KEY_PREFIX}msg_x"), "garbage")
            .await
            .unwrap();
        let () = inspect
            .hset(format!("{DEFAULT_KEY_PREFIX}msg_h"), "a", "b")
            .await
            .unwrap();
        let stores = [
            redis.store().await,
            redis.script_store().await,
            redis.store_completing_with(CompleteWith::Script).await,
        ];
        for store in &stores {
            for name in ["msg_x", "msg_h"] {
                let err = store.claim(&id(name), Duration::from_secs(60)).await.unwrap_err();
                assert_cause(&err, Configuration, "");
                let token = yoco_webhooks::dedup::ClaimToken::new(id(name), "0123");
                let err = store.complete(&token, Duration::from_secs(60)).await.unwrap_err();
                assert_cause(&err, Configuration, "");
            }
        }
        let value: String = inspect.get(format!("{DEFAULT_KEY_PREFIX}msg_x")).await.unwrap();
        assert_eq!(value, "garbage", "{kind:?}: left as it was");
    }
}

#[tokio::test]
async fn two_round_trips_per_processed_delivery_and_one_per_duplicate() {
    let redis = Redis::start();
    assert_round_trips(&redis, &redis.store().await, ["SET", "EVALSHA"]).await;
    assert_round_trips(&redis, &redis.script_store().await, ["EVALSHA", "EVALSHA"]).await;
    // Valkey completes with `SET IFEQ`: no Lua on the way of a delivery.
    let valkey = Redis::valkey();
    assert_round_trips(&valkey, &valkey.store().await, ["SET", "SET"]).await;
    assert_round_trips(&valkey, &valkey.script_store().await, ["EVALSHA", "SET"]).await;
}

/// Each delivery `store` processes costs a claim and a completion, sent as
/// `commands`; each duplicate the claim.
async fn assert_round_trips(redis: &Redis, store: &RedisStore, commands: [&str; 2]) {
    let once = Deduplicator::new(store.clone());
    let claim = commands[0];
    let label = commands.join("-");
    // Let the store's connection finish its handshake, and Redis load the
    // scripts, before counting.
    let warm_up: Processed<(), ()> = once
        .process(&id(&format!("warm-up-{label}")), || async { Ok(()) })
        .await;
    assert!(matches!(warm_up, Processed::Done { recorded: Ok(()), .. }));

    let processing = client_commands(redis, async {
        for n in 0..10 {
            let processed: Processed<(), ()> = once
                .process(&id(&format!("msg_{label}_{n}")), || async { Ok(()) })
                .await;
            assert!(matches!(processed, Processed::Done { recorded: Ok(()), .. }));
        }
    })
    .await;
    assert_eq!(processing, commands.repeat(10), "claim + complete per delivery");
    let duplicates = client_commands(redis, async {
        for n in 0..10 {
            let duplicate: Processed<(), ()> = once
                .process(&id(&format!("msg_{label}_{n}")), || async { Ok(()) })
                .await;
            assert!(matches!(duplicate, Processed::Duplicate));
        }
    })
    .await;
    assert_eq!(duplicates, [claim; 10], "one claim per duplicate");
}

/// A Redis that forgot the scripts (restarted, or failed over to a replica
/// that never ran them) answers `NOSCRIPT`: the store sends each script whole
/// once, which loads it, and calls it by its SHA-1 again from then on. On
/// Valkey a delivery's way runs no script, so forgetting them costs nothing.
#[tokio::test]
async fn a_redis_that_forgot_the_scripts_is_sent_them_whole_once() {
    let (redis, valkey) = (Redis::start(), Redis::valkey());
    let cases = [
        (
            &redis,
            redis.store().await,
            vec!["SET", "EVALSHA", "EVAL", "SET", "EVALSHA"],
        ),
        (
            &redis,
            redis.script_store().await,
            vec!["EVALSHA", "EVAL", "EVALSHA", "EVAL", "EVALSHA", "EVALSHA"],
        ),
        (&valkey, valkey.store().await, vec!["SET"; 4]),
    ];
    for (n, (server, store, forgot)) in cases.into_iter().enumerate() {
        let once = Deduplicator::new(store);
        let process = |m: u32| {
            let once = &once;
            async move {
                let processed: Processed<(), ()> =
                    once.process(&id(&format!("msg_{n}_{m}")), || async { Ok(()) }).await;
                assert!(
                    matches!(processed, Processed::Done { recorded: Ok(()), .. }),
                    "{processed:?}"
                );
            }
        };
        process(0).await;
        let mut inspect = server.inspect().await;
        let _: String = ::redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut inspect)
            .await
            .unwrap();
        let commands = client_commands(server, async {
            process(1).await;
            process(2).await;
        })
        .await;
        assert_eq!(commands, forgot, "case {n}");
        let held: Option<String> = inspect.get(format!("{DEFAULT_KEY_PREFIX}msg_{n}_1")).await.unwrap();
        assert_eq!(held.as_deref(), Some("done"));
    }

    // A release is a script too.
    let mut inspect = redis.inspect().await;
    let store = redis.store().await;
    let _: String = ::redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut inspect)
        .await
        .unwrap();
    let Claim::Acquired(token) = store.claim(&id("msg_released"), Duration::from_secs(60)).await.unwrap() else {
        panic!("a fresh delivery is acquired")
    };
    let commands = client_commands(&redis, async { store.release(&token).await.unwrap() }).await;
    assert_eq!(commands, ["EVALSHA", "EVAL"]);
    let held: Option<String> = inspect.get(format!("{DEFAULT_KEY_PREFIX}msg_released")).await.unwrap();
    assert_eq!(held, None, "released");
}

/// `SET IFEQ` records a delivery only while our claim holds its key. The
/// cases it leaves alone go to the script, which decides as it does on
/// every server: a key gone with our lease is recorded, a delivery done
/// already keeps the longer of its retentions; another owner's claim is an
/// error and stays.
#[tokio::test]
async fn completing_by_set_ifeq_leaves_the_rare_cases_to_the_script() {
    let valkey = Redis::valkey();
    valkey.load_the_completion_script().await;
    let store = valkey.store().await;
    let mut inspect = valkey.inspect().await;
    let key = |name: &str| format!("{DEFAULT_KEY_PREFIX}{name}");
    let (short, hour) = (Duration::from_millis(50), Duration::from_secs(3600));
    let acquire = |name: &'static str, lease: Duration| {
        let store = &store;
        async move {
            match store.claim(&id(name), lease).await.unwrap() {
                Claim::Acquired(token) => token,
                other => panic!("{name}: {other:?}"),
            }
        }
    };

    // Our lease ran out and nobody claimed since: still ours to record.
    let token = acquire("msg_expired", short).await;
    tokio::time::sleep(short * 3).await;
    let commands = client_commands(&valkey, async { store.complete(&token, hour).await.unwrap() }).await;
    assert_eq!(commands, ["SET", "EVALSHA"]);
    let value: String = inspect.get(key("msg_expired")).await.unwrap();
    assert_eq!(value, "done");
    let ttl: i64 = inspect.pttl(key("msg_expired")).await.unwrap();
    assert!(3_500_000 < ttl && ttl <= 3_600_000, "{ttl}");

    // Done already: a longer retention extends it, a shorter one does not cut it.
    let commands = client_commands(&valkey, async { store.complete(&token, hour * 2).await.unwrap() }).await;
    assert_eq!(commands, ["SET", "EVALSHA"]);
    let ttl: i64 = inspect.pttl(key("msg_expired")).await.unwrap();
    assert!(7_100_000 < ttl && ttl <= 7_200_000, "extended: {ttl}");
    store.complete(&token, Duration::from_secs(60)).await.unwrap();
    let ttl: i64 = inspect.pttl(key("msg_expired")).await.unwrap();
    assert!(7_100_000 < ttl, "not cut: {ttl}");

    // Our lease ran out and another attempt holds the key now.
    let ours = acquire("msg_taken", short).await;
    tokio::time::sleep(short * 3).await;
    let theirs = acquire("msg_taken", hour).await;
    let commands = client_commands(&valkey, async {
        let err = store.complete(&ours, hour).await.unwrap_err();
        assert_cause(&err, Unavailable, "held by another attempt");
    })
    .await;
    assert_eq!(commands, ["SET"], "decided by the one command");
    let value: String = inspect.get(key("msg_taken")).await.unwrap();
    assert_eq!(value, format!("claim:{}", theirs.owner()), "left to its owner");
    store.complete(&theirs, hour).await.unwrap();
    let value: String = inspect.get(key("msg_taken")).await.unwrap();
    assert_eq!(value, "done");
}

/// A server that refuses `SET IFEQ` (an older one than it said, or a
/// failover to one) changes nothing: the script completes the delivery at
/// once, and every clone of the store completes with it from then on.
#[tokio::test]
async fn a_server_that_refuses_set_ifeq_is_completed_by_the_script_at_once() {
    let redis = Redis::start();
    redis.load_the_completion_script().await;
    let store = redis.store_completing_with(CompleteWith::Set).await;
    let clone = store.clone();
    let once = Deduplicator::new(store.clone());
    let commands = client_commands(&redis, async {
        let processed: Processed<(), ()> = once.process(&id("msg_1"), || async { Ok(()) }).await;
        assert!(
            matches!(processed, Processed::Done { recorded: Ok(()), .. }),
            "{processed:?}"
        );
    })
    .await;
    assert_eq!(commands, ["SET", "SET", "EVALSHA"], "claim, refused SET IFEQ, script");
    assert!(!store.completes_with_set() && !clone.completes_with_set());
    let commands = client_commands(&redis, async {
        let processed: Processed<(), ()> = Deduplicator::new(clone)
            .process(&id("msg_2"), || async { Ok(()) })
            .await;
        assert!(
            matches!(processed, Processed::Done { recorded: Ok(()), .. }),
            "{processed:?}"
        );
    })
    .await;
    assert_eq!(commands, ["SET", "EVALSHA"]);
    let mut inspect = redis.inspect().await;
    for name in ["msg_1", "msg_2"] {
        let value: String = inspect.get(format!("{DEFAULT_KEY_PREFIX}{name}")).await.unwrap();
        assert_eq!(value, "done", "{name}");
    }
}

/// A store call keeps the client's call in its future once: an `async`
/// helper taking that call as an argument kept it twice (3.8 KB where 1.9 KB
/// do), copied on every call.
#[tokio::test]
async fn a_store_call_holds_the_clients_call_once() {
    let redis = Redis::start();
    let store = redis.store().await;
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut connection = ::redis::aio::ConnectionManager::new(client).await.unwrap();
    let ping = ::redis::cmd("PING");
    let client_call = std::mem::size_of_val(&connection.send_packed_command(&ping));
    let (webhook_id, lease) = (id("msg_size"), Duration::from_secs(1));
    let token = yoco_webhooks::dedup::ClaimToken::new(webhook_id.clone(), "owner");
    for (call, size) in [
        ("claim", std::mem::size_of_val(&store.claim(&webhook_id, lease))),
        ("complete", std::mem::size_of_val(&store.complete(&token, lease))),
        ("release", std::mem::size_of_val(&store.release(&token))),
    ] {
        assert!(
            size < 2 * client_call,
            "{call}: {size} B around a client call of {client_call} B"
        );
    }
}

/// The commands clients sent to Redis while `run` ran (not those the scripts
/// ran on the server), as `MONITOR` reports them: one round trip each.
async fn client_commands(redis: &Redis, run: impl std::future::Future<Output = ()>) -> Vec<String> {
    use tokio::io::AsyncWriteExt as _;
    // Connected before counting: its handshake (`CLIENT SETINFO`) is not the store's.
    let mut inspect = redis.inspect().await;
    let mut monitor = tokio::net::TcpStream::connect(("127.0.0.1", redis.server.port()))
        .await
        .unwrap();
    monitor.write_all(b"MONITOR\r\n").await.unwrap();
    let mut lines = BufReader::new(monitor).lines();
    assert_eq!(lines.next_line().await.unwrap().unwrap(), "+OK");
    run.await;
    const END: &str = "end-of-the-counted-commands";
    let _: String = ::redis::cmd("ECHO").arg(END).query_async(&mut inspect).await.unwrap();
    let mut commands = Vec::new();
    // Lines look like `+1700000000.123 [0 127.0.0.1:5555] "EVAL" "..." ...`;
    // a script's own commands show `[0 lua]`.
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains(END) {
            return commands;
        }
        let (client, command) = line.split_once("] ").unwrap();
        if !client.ends_with(" lua") {
            commands.push(command.split('"').nth(1).unwrap().to_owned());
        }
    }
    panic!("MONITOR stopped")
}

#[tokio::test]
async fn a_failed_handler_releases_the_claim_and_the_retry_processes() {
    let redis = Redis::start();
    let once = Deduplicator::new(redis.store().await);
    let mut inspect = redis.inspect().await;
    let failed: Processed<(), &str> = once.process(&id("msg_1"), || async { Err("database down") }).await;
    assert_eq!(failed.status(), 500);
    let exists: bool = inspect.exists(format!("{DEFAULT_KEY_PREFIX}msg_1")).await.unwrap();
    assert!(!exists, "the claim was released");
    let retry: Processed<&str, ()> = once.process(&id("msg_1"), || async { Ok("stored") }).await;
    assert!(matches!(retry, Processed::Done { value: "stored", .. }));
}

#[tokio::test]
async fn a_claim_whose_process_died_runs_out_and_a_retry_processes() {
    let redis = Redis::start();
    // The process that died: claimed, never completed. The lease is long,
    // so that it holds through the check below however slow the machine.
    let lease = Duration::from_secs(600);
    let crashed = redis.store().await;
    let Claim::Acquired(_abandoned) = crashed.claim(&id("msg_1"), lease).await.unwrap() else {
        panic!("not acquired")
    };
    drop(crashed);

    let survivor = Deduplicator::new(redis.store().await);
    let early: Processed<(), ()> = survivor.process(&id("msg_1"), || async { unreachable!() }).await;
    assert_eq!(early.status(), 409, "the dead claim holds until its lease runs out");
    // The lease is the key's time to live: cut to a millisecond, as if the
    // lease had passed, it runs out on the server's own clock.
    let mut inspect = redis.inspect().await;
    let key = format!("{DEFAULT_KEY_PREFIX}msg_1");
    let ttl: i64 = inspect.pttl(&key).await.unwrap();
    assert!(0 < ttl && ttl <= 600_000, "the lease is the key's TTL: {ttl}");
    let cut: bool = inspect.pexpire(&key, 1).await.unwrap();
    assert!(cut);
    while inspect.exists::<_, bool>(&key).await.unwrap() {
        tokio::task::yield_now().await;
    }
    let retry: Processed<(), ()> = survivor.process(&id("msg_1"), || async { Ok(()) }).await;
    assert!(matches!(retry, Processed::Done { recorded: Ok(()), .. }));
}

/// A merchant's server: the webhook configuration and its handler.
#[derive(Clone)]
struct App {
    yoco: YocoWebhookConfig,
    recorder: Recorder,
}

impl FromRef<App> for YocoWebhookConfig {
    fn from_ref(app: &App) -> Self {
        app.yoco.clone()
    }
}

async fn handler(State(app): State<App>, webhook: YocoWebhook) -> Processed<(), &'static str> {
    webhook
        .process(|delivery| async move { app.recorder.handle(delivery).await })
        .await
}

/// An axum server deduplicating on `store`, handling with `recorder`.
pub(crate) async fn serve(store: RedisStore, recorder: Recorder) -> SocketAddr {
    let receiver = Receiver::new(
        Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
        CheckoutFilter::any(),
    );
    let app = App {
        yoco: YocoWebhookConfig::new(receiver).with_store(store),
        recorder,
    };
    let router = Router::new().route("/webhooks/yoco", post(handler)).with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address
}

/// Posts a signed sample delivery as Yoco would, giving up after Yoco's 15 s.
pub(crate) async fn deliver(address: &str, webhook_id: &str) -> u16 {
    let body = SampleEvent::payment_succeeded().event_id(webhook_id).to_json();
    let headers = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_now(webhook_id, &body);
    let mut request = reqwest::Client::new()
        .post(address)
        .timeout(Duration::from_secs(15))
        .body(body);
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    request
        .send()
        .await
        .expect("an answer within Yoco's 15 s")
        .status()
        .as_u16()
}

pub(crate) fn url(address: SocketAddr) -> String {
    format!("http://{address}/webhooks/yoco")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_means_503_and_it_recovers_by_itself() {
    for kind in [Kind::Redis, Kind::Valkey] {
        down_means_503_and_it_recovers_by_itself(Redis::start_server(kind, None)).await;
    }
}

async fn down_means_503_and_it_recovers_by_itself(mut redis: Redis) {
    let recorder = Recorder::default();
    let endpoint = url(serve(redis.store().await, recorder.clone()).await);
    assert_eq!(deliver(&endpoint, "msg_1").await, 200);

    redis.server.stop();
    for _ in 0..3 {
        assert_eq!(deliver(&endpoint, "msg_2").await, 503, "Redis is down: Yoco must retry");
    }
    assert_eq!(recorder.processed(), ["msg_1"], "nothing processed while down");

    redis.server.restart();
    // The store reconnects in the background; until it has, the answer stays 503.
    let mut answers = Vec::new();
    for _ in 0..200 {
        let status = deliver(&endpoint, "msg_2").await;
        answers.push(status);
        if status != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answers.last(), Some(&200), "recovered: {answers:?}");
    assert_eq!(recorder.processed(), ["msg_1", "msg_2"]);
    assert_eq!(deliver(&endpoint, "msg_2").await, 200);
    assert_eq!(recorder.processed().len(), 2, "the retry is a duplicate");
}

#[tokio::test]
async fn redis_down_at_start_is_an_error() {
    let mut redis = Redis::start();
    let url = redis.url();
    redis.server.stop();
    assert!(RedisStore::connect(&url).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_process_a_delivery_once() {
    let redis = Redis::start();
    let recorder = Recorder::default();
    let first = url(serve(redis.store().await, recorder.clone()).await);
    let second = url(serve(redis.store().await, recorder.clone()).await);
    for n in 0..10 {
        let webhook_id = format!("msg_{n}");
        // One instance (each in turn) holds the delivery in its handler
        // while the other is asked for it: the other must answer 409.
        let (holder, other) = if n % 2 == 0 {
            (&first, &second)
        } else {
            (&second, &first)
        };
        let gate = recorder.hold();
        let held = tokio::spawn({
            let (holder, webhook_id) = (holder.clone(), webhook_id.clone());
            async move { deliver(&holder, &webhook_id).await }
        });
        gate.arrived().await;
        assert_eq!(
            deliver(other, &webhook_id).await,
            409,
            "{webhook_id} while the other holds it"
        );
        gate.open();
        assert_eq!(held.await.unwrap(), 200, "{webhook_id}");
    }
    let processed = recorder.processed();
    let mut counts = HashMap::<&str, usize>::new();
    for webhook_id in processed.iter() {
        *counts.entry(webhook_id).or_default() += 1;
    }
    assert_eq!(counts.len(), 10);
    assert!(counts.values().all(|&count| count == 1), "{counts:?}");
}

#[tokio::test]
async fn no_error_shows_the_password() {
    const PASSWORD: &str = "s3cret-Redis-pass";
    const WRONG: &str = "wrong-Redis-pass";
    let mut redis = Redis::start_with_password(Some(PASSWORD));

    let store = redis.store().await;
    assert!(matches!(
        store.claim(&id("msg_1"), Duration::from_secs(60)).await,
        Ok(Claim::Acquired(_))
    ));
    assert!(!format!("{store:?}").contains(PASSWORD));
    let builder = RedisStoreBuilder::from_url(&redis.url()).unwrap();
    assert!(!format!("{builder:?}").contains(PASSWORD));

    let port = redis.server.port();
    let wrong = RedisStore::connect(&format!("redis://:{WRONG}@127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert_no_secret(&wrong, WRONG);

    redis.server.stop();
    let down = RedisStore::connect(&redis.url()).await.unwrap_err();
    assert_no_secret(&down, PASSWORD);
    let failed = store.claim(&id("msg_2"), Duration::from_secs(60)).await.unwrap_err();
    assert_no_secret(&failed, PASSWORD);
}

#[tokio::test]
async fn store_errors_name_their_cause_and_tell_a_mistake_from_an_outage() {
    const PASSWORD: &str = "s3cret-Redis-pass";
    const WRONG: &str = "wrong-Redis-pass";
    let mut redis = Redis::start_with_password(Some(PASSWORD));
    let port = redis.server.port();
    let store = redis.store().await;

    let wrong = RedisStore::connect(&format!("redis://:{WRONG}@127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert_cause(
        &wrong,
        Configuration,
        "misconfigured: cannot connect to Redis: authentication failed",
    );
    assert_no_secret(&wrong, WRONG);

    let missing = RedisStore::connect(&format!("redis://127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert_cause(&missing, Configuration, "misconfigured: cannot connect to Redis: ");
    assert!(missing.to_string().contains("NOAUTH"), "{missing}");

    let no_such_db = RedisStore::connect(&format!("{}/99", redis.url())).await.unwrap_err();
    assert_cause(&no_such_db, Configuration, "DB index is out of range");
    assert_no_secret(&no_such_db, PASSWORD);

    let unparsable = RedisStore::connect(&format!("redis://:{PASSWORD}@127.0.0.1:99999"))
        .await
        .unwrap_err();
    assert_cause(&unparsable, Configuration, "misconfigured: invalid Redis URL: ");
    assert!(unparsable.to_string().contains("did not parse"), "{unparsable}");
    assert_no_secret(&unparsable, PASSWORD);
    assert!(!unparsable.to_string().contains("127.0.0.1"), "{unparsable}");

    redis.server.stop();
    let refused = RedisStore::connect(&redis.url()).await.unwrap_err();
    assert_cause(
        &refused,
        Unavailable,
        "unavailable: cannot connect to Redis: connection refused",
    );
    assert_no_secret(&refused, PASSWORD);
    let down = store.claim(&id("msg_1"), Duration::from_secs(60)).await.unwrap_err();
    assert_cause(&down, Unavailable, "unavailable: Redis failed: ");
    assert_no_secret(&down, PASSWORD);
}

/// `err` is of `kind`, and its message contains `expected`.
fn assert_cause(err: &StoreError, kind: StoreErrorKind, expected: &str) {
    assert_eq!(err.kind(), kind, "{err}");
    assert!(
        err.to_string().contains(expected),
        "{err:?} does not contain {expected:?}"
    );
}

/// Neither the error nor any of its causes shows `secret`, in any form.
pub(crate) fn assert_no_secret(err: &(dyn std::error::Error + 'static), secret: &str) {
    let mut cause = Some(err);
    while let Some(err) = cause {
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(secret), "{shown}");
        }
        cause = err.source();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_receiver_processes_on_one_redis_print_each_delivery_once() {
    let redis = Redis::start();
    crate::example_receivers::two_processes_print_each_delivery_once(
        ["axum_receiver", "actix_receiver"],
        ("YOCO_REDIS_URL", &redis.url()),
    )
    .await;
}

#[tokio::test]
async fn the_receiver_exits_with_status_2_on_a_bad_or_unreachable_redis() {
    let mut redis = Redis::start_with_password(Some("s3cret-Redis-pass"));
    let port = redis.server.port();
    let wrong_password = format!("redis://:wrong-s3cret@127.0.0.1:{port}");
    assert_receiver_refuses(
        &wrong_password,
        "misconfigured: cannot connect to Redis: authentication failed",
    )
    .await;
    redis.server.stop();
    for (url, expected) in [
        (
            "redis://:s3cret-Redis-pass@127.0.0.1:99999".to_owned(),
            "misconfigured: invalid Redis URL: Redis URL did not parse",
        ),
        (
            "http://:s3cret-Redis-pass@127.0.0.1".to_owned(),
            "misconfigured: invalid Redis URL: Redis URL did not parse",
        ),
        (
            format!("redis://:s3cret-Redis-pass@127.0.0.1:{port}"),
            "unavailable: cannot connect to Redis: connection refused",
        ),
    ] {
        assert_receiver_refuses(&url, expected).await;
    }
}

/// The example receiver, given `url`, exits with status 2 and a message
/// naming the variable and containing `expected`, never the password.
async fn assert_receiver_refuses(url: &str, expected: &str) {
    let running = crate::example_binary("axum_receiver")
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("YOCO_WEBHOOK_SECRET", TEST_SECRET)
        .env("YOCO_REDIS_URL", url)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .unwrap_or_else(|_| panic!("{url}: the receiver started instead of exiting"))
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{url}: {stderr}");
    assert!(
        ["YOCO_REDIS_URL: misconfigured: ", "YOCO_REDIS_URL: unavailable: "]
            .iter()
            .any(|said| stderr.contains(said))
            && stderr.contains(expected),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

/// Two instances of the Lambda function, each polling its own Lambda
/// emulator (as concurrent Lambda instances each run one invocation at a
/// time), on one Redis: each delivery processed once.
#[cfg(feature = "lambda")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_lambda_instances_on_one_redis_print_each_delivery_once() {
    let redis = Redis::start();
    crate::example_receivers::two_processes_print_each_delivery_once(
        ["lambda_receiver", "lambda_receiver"],
        ("YOCO_REDIS_URL", &redis.url()),
    )
    .await;
}
