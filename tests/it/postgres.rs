//! [`PostgresStore`] against a real PostgreSQL server, started here from the
//! Debian binaries (`apt-get install -y postgresql`) in a temporary
//! directory on a loopback port, by [`crate::servers`].
//! As root (as in CI) the server runs as the `postgres` user, since
//! PostgreSQL refuses to run as root.
//!
//! Most tests share one server, kept for the whole run, each in a database
//! of its own; the tests that stop and restart a server have their own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::post;
use yoco_webhooks::dedup::StoreErrorKind::{Configuration, Unavailable};
use yoco_webhooks::postgres::sqlx::postgres::PgPoolOptions;
use yoco_webhooks::postgres::sqlx::{self, PgPool};
use yoco_webhooks::postgres::{MIGRATION, PostgresStore};
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET, check_store};
use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookId, WebhookSecret};
use yoco_webhooks::{
    Processed,
    dedup::{Claim, DEFAULT_LEASE, DEFAULT_RETENTION, Deduplicator, IdempotencyStore},
};
use yoco_webhooks::{YocoWebhook, YocoWebhookConfig};

use crate::adapters::Holder;
use crate::conformance::passed;
use crate::servers::{Ready, Server, ServerSpec, Shared, free_port};

/// How long Yoco waits for an answer: a database that is down must be
/// answered (503) well within it.
const YOCO_WAITS: Duration = Duration::from_secs(15);
/// The pools' `acquire_timeout`: how long a request waits for a database
/// that does not answer before the store gives up. Well within Yoco's wait,
/// and long enough that a loaded machine's slow connection is not taken
/// for an outage.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(8);

// ---------------------------------------------------------------------------
// The server.

/// A PostgreSQL server of our own, in a temporary directory, on a loopback
/// port chosen as it starts (see [`crate::servers`]); stopped and deleted
/// on drop.
pub(crate) struct PgServer {
    server: Mutex<Server>,
    dir: PathBuf,
    pub(crate) port: u16,
}

impl PgServer {
    /// Creates a cluster and starts it; panics, saying what to install, if
    /// PostgreSQL is missing, and with the server's log if it does not start.
    pub(crate) fn start() -> Self {
        let bin = server_binaries();
        let user = running_as_root().then_some("postgres");
        if user.is_some() {
            assert!(
                Command::new("id")
                    .args(["-u", "postgres"])
                    .output()
                    .unwrap()
                    .status
                    .success(),
                "running as root, PostgreSQL must run as the `postgres` user, which does not exist: \
                 apt-get install -y postgresql"
            );
        }
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "yoco-webhooks-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        if user.is_some() {
            run(Command::new("chown").arg("postgres").arg(&dir));
        }
        let data = dir.join("data");
        let mut initdb = match user {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(bin.join("initdb"));
                command
            }
            None => Command::new(bin.join("initdb")),
        };
        run(initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"]));
        let socket_dir = dir.display().to_string();
        // In the foreground, as the supervisor wants it; SIGINT is pg_ctl's
        // `-m fast` stop: every connection closed, the server down.
        let spec = ServerSpec::new(
            "postgres",
            "apt-get install -y postgresql",
            move |port| {
                let mut args = vec![
                    "-D".to_owned(),
                    data.display().to_string(),
                    "-p".to_owned(),
                    port.to_string(),
                ];
                for (flag, value) in [
                    ("-h", "127.0.0.1"),
                    ("-k", socket_dir.as_str()),
                    ("-c", "fsync=off"),
                    ("-c", "full_page_writes=off"),
                    ("-c", "synchronous_commit=off"),
                ] {
                    args.extend([flag.to_owned(), value.to_owned()]);
                }
                args
            },
            Ready::Line("database system is ready to accept connections"),
        )
        .in_dir(&bin)
        .stopped_with("INT")
        .run_by(user)
        .leaving(&dir);
        let server = Server::start(spec);
        Self {
            port: server.port(),
            server: Mutex::new(server),
            dir,
        }
    }

    /// Starts the server again on its port and data directory, and waits
    /// until it says it is ready.
    pub(crate) fn start_again(&self) {
        self.server().restart();
    }

    /// Stops the server (closing every connection) and waits until it is down.
    pub(crate) fn stop(&self) {
        self.server().stop();
    }

    pub(crate) fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn server(&self) -> std::sync::MutexGuard<'_, Server> {
        self.server.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.server().stop();
        if std::thread::panicking() {
            eprintln!("PostgreSQL's directory, with its log, is kept: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` with a server in it.
fn server_binaries() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").exists() && bin.join("postgres").exists()).then_some((version, bin))
        })
        .max();
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "the PostgreSQL tests need a PostgreSQL server in {}/<version>/bin (initdb, postgres): \
             apt-get install -y postgresql",
            root.display()
        ),
    }
}

fn running_as_root() -> bool {
    let uid = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&uid.stdout).trim() == "0"
}

fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The server most tests share, each in a database of its own: started by
/// the first, kept for the whole run.
pub(crate) fn shared_server() -> &'static PgServer {
    static SHARED: Shared<PgServer> = Shared::new();
    SHARED.get(PgServer::start)
}

/// A database of its own on the shared server, keeping the server up while
/// the test runs.
pub(crate) struct TestDb {
    _server: &'static PgServer,
    pub(crate) url: String,
}

impl TestDb {
    pub(crate) async fn new(name: &str) -> Self {
        let server = tokio::task::spawn_blocking(shared_server).await.unwrap();
        let admin = pool(&server.url("postgres")).await;
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        Self {
            url: server.url(name),
            _server: server,
        }
    }

    /// A new pool on the database: another server instance, as far as the
    /// store can tell.
    pub(crate) async fn pool(&self) -> PgPool {
        pool(&self.url).await
    }

    /// A new store on the database, with its table created.
    async fn store(&self) -> PostgresStore {
        let store = PostgresStore::new(self.pool().await);
        store.migrate().await.unwrap();
        store
    }
}

pub(crate) async fn pool(url: &str) -> PgPool {
    pool_options().connect(url).await.unwrap()
}

pub(crate) fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new().max_connections(8).acquire_timeout(ACQUIRE_TIMEOUT)
}

// ---------------------------------------------------------------------------
// A merchant's axum server on the store.

#[derive(Clone)]
struct App {
    yoco: YocoWebhookConfig,
    /// The deduplicator's store.
    store: PostgresStore,
    /// The merchant's own database (the store's, here).
    pool: PgPool,
    processed: Arc<Mutex<Vec<String>>>,
    fail_next: Arc<AtomicUsize>,
    /// Holds `/record`'s handler on demand.
    holder: Holder,
}

impl FromRef<App> for YocoWebhookConfig {
    fn from_ref(app: &App) -> Self {
        app.yoco.clone()
    }
}

impl App {
    fn should_fail(&self) -> bool {
        self.fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn processed(&self, webhook_id: &str) -> usize {
        self.processed
            .lock()
            .unwrap()
            .iter()
            .filter(|id| *id == webhook_id)
            .count()
    }
}

/// Records the delivery in memory (once let go, when held).
async fn record(State(app): State<App>, webhook: YocoWebhook) -> Processed<(), &'static str> {
    webhook
        .process(|delivery| async move {
            app.holder.wait_if_held().await;
            if app.should_fail() {
                return Err("handler failed");
            }
            app.processed.lock().unwrap().push(delivery.webhook_id.to_string());
            Ok(())
        })
        .await
}

/// Records a payment and marks the delivery done in one transaction; when
/// told to fail, fails after both, so that the transaction rolls back.
async fn pay(State(app): State<App>, webhook: YocoWebhook) -> Processed<(), BoxError> {
    webhook
        .process_claimed(|delivery, token| async move {
            let token = token.expect("deduplication is on");
            let mut tx = app.pool.begin().await?;
            sqlx::query("INSERT INTO payments (webhook_id) VALUES ($1)")
                .bind(delivery.webhook_id.as_str())
                .execute(&mut *tx)
                .await?;
            app.store.complete_in(&mut tx, &token).await?;
            if app.should_fail() {
                return Err("the order could not be saved".into());
            }
            tx.commit().await?;
            Ok(())
        })
        .await
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves `/record` and `/pay`, deduplicating with `store` and `lease`.
async fn serve(store: PostgresStore, lease: Duration) -> (SocketAddr, App) {
    let secret = WebhookSecret::parse(TEST_SECRET).unwrap();
    let receiver = Receiver::new(Verifier::new(secret), CheckoutFilter::checkout("ch_mine"));
    let app = App {
        yoco: YocoWebhookConfig::new(receiver).with_dedup(Deduplicator::new(store.clone()).lease(lease)),
        pool: store.pool().clone(),
        store,
        processed: Arc::default(),
        fail_next: Arc::default(),
        holder: Holder::default(),
    };
    let router = Router::new()
        .route("/record", post(record))
        .route("/pay", post(pay))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (address, app)
}

/// Posts a freshly signed delivery `id` to `path`, as Yoco would (within
/// Yoco's wait), and returns the answer.
async fn deliver(address: SocketAddr, path: &str, id: &str) -> (u16, String) {
    let body = SampleEvent::payment_succeeded().checkout_id("ch_mine").to_json();
    let headers = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_now(id, &body);
    let mut request = reqwest::Client::new()
        .post(format!("http://{address}{path}"))
        .timeout(YOCO_WAITS)
        .body(body);
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("answered within Yoco's wait");
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The delivery's row: (owner, done) or None.
async fn row(pool: &PgPool, id: &str) -> Option<(String, bool)> {
    sqlx::query_as("SELECT owner, done_until IS NOT NULL FROM yoco_webhook_deliveries WHERE webhook_id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_postgres_store_keeps_the_contract() {
    let db = TestDb::new("conformance").await;
    let store = db.store().await;
    passed(check_store(&store).await);
    // Again on the same table: the first run's rows stay out of the way.
    passed(check_store(&store).await);

    // A table of another name, in a schema, named with a reserved word.
    let pool = db.pool().await;
    sqlx::raw_sql("CREATE SCHEMA webhooks").execute(&pool).await.unwrap();
    let elsewhere = PostgresStore::with_table(pool.clone(), "webhooks.order").unwrap();
    elsewhere.migrate().await.unwrap();
    passed(check_store(&elsewhere).await);
    let (tables,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhooks.\"order\"")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(tables > 0, "the named table was used");
}

/// Counts the notices PostgreSQL sends, which sqlx logs at INFO (target
/// `sqlx::postgres::notice`).
#[derive(Clone, Default)]
struct Notices(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Notices {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::postgres::notice" {
            self.0
                .lock()
                .unwrap()
                .push(format!("{} {event:?}", event.metadata().level()));
        }
    }
}

/// Every start migrates, so a migration with nothing to do says nothing:
/// PostgreSQL's "already exists, skipping" notices would be logged at INFO
/// on every start. The store's and the inbox's.
#[tokio::test(flavor = "current_thread")]
async fn migrating_again_logs_no_notice() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let db = TestDb::new("migrations_quiet").await;
    let pool = db.pool().await;
    let notices = Notices::default();
    let _subscriber = crate::capture_this_thread(tracing_subscriber::registry().with(notices.clone()));
    let store = PostgresStore::new(pool.clone());
    let inbox = yoco_webhooks::postgres::Inbox::new(pool.clone());
    for _ in 0..2 {
        store.migrate().await.unwrap();
        inbox.migrate().await.unwrap();
    }
    assert_eq!(*notices.0.lock().unwrap(), Vec::<String>::new());
    // The capture works: the same statement run by hand does notify.
    sqlx::raw_sql(MIGRATION).execute(&pool).await.unwrap();
    assert!(!notices.0.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrating_is_idempotent_and_safe_from_every_instance_at_once() {
    let db = TestDb::new("migrations").await;
    let mut starts = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let pool = db.pool().await;
        starts.spawn(async move { PostgresStore::new(pool).migrate().await });
    }
    while let Some(started) = starts.join_next().await {
        started.unwrap().expect("every instance migrates");
    }
    let store = PostgresStore::new(db.pool().await);
    store.migrate().await.expect("and again");
    // Teams running their own migrations run the published text, twice too.
    sqlx::raw_sql(MIGRATION).execute(store.pool()).await.unwrap();
    sqlx::raw_sql(MIGRATION).execute(store.pool()).await.unwrap();
    let (indexes,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM pg_indexes WHERE tablename = 'yoco_webhook_deliveries'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(indexes, 2, "the primary key and the expiry index");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_handler_releases_the_claim_for_the_next_retry() {
    let db = TestDb::new("failed_handler").await;
    let (address, app) = serve(db.store().await, DEFAULT_LEASE).await;

    app.fail_next.store(1, Ordering::SeqCst);
    assert_eq!(
        deliver(address, "/record", "msg_1").await,
        (500, "handler failed".into())
    );
    assert_eq!(row(&app.pool, "msg_1").await, None, "released");
    assert_eq!(deliver(address, "/record", "msg_1").await, (200, "processed".into()));
    assert_eq!(deliver(address, "/record", "msg_1").await, (200, "duplicate".into()));
    assert_eq!(app.processed("msg_1"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_process_that_dies_mid_delivery_is_taken_over_after_its_lease() {
    const LEASE: Duration = Duration::from_secs(1);
    let db = TestDb::new("dead_process").await;
    let (address, app) = serve(db.store().await, LEASE).await;

    // Another instance claims the delivery and dies inside the handler.
    let dying_pool = db.pool().await;
    let dying = Deduplicator::new(PostgresStore::new(dying_pool.clone())).lease(LEASE);
    let (started, handler_running) = tokio::sync::oneshot::channel();
    let instance = tokio::spawn(async move {
        let _: Processed<(), ()> = dying
            .process(&WebhookId::new("msg_1"), || async move {
                started.send(()).unwrap();
                std::future::pending().await
            })
            .await;
    });
    handler_running.await.unwrap();
    instance.abort();
    let _ = instance.await;
    dying_pool.close().await;
    let (dead_owner, done) = row(&app.pool, "msg_1").await.expect("the dead claim is left behind");
    assert!(!done);

    tokio::time::sleep(LEASE + Duration::from_millis(500)).await;
    assert_eq!(deliver(address, "/record", "msg_1").await, (200, "processed".into()));
    let (owner, done) = row(&app.pool, "msg_1").await.unwrap();
    assert!(done);
    assert_ne!(owner, dead_owner, "processed under a claim of its own");
    assert_eq!(deliver(address, "/record", "msg_1").await, (200, "duplicate".into()));
    assert_eq!(app.processed("msg_1"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_database_process_a_delivery_once() {
    let db = TestDb::new("two_instances").await;
    let (first, first_app) = serve(db.store().await, DEFAULT_LEASE).await;
    let (second, second_app) = serve(db.store().await, DEFAULT_LEASE).await;

    // The first instance holds the delivery in its handler while both are
    // asked for it again: each answers 409 (Yoco retries later).
    let gate = first_app.holder.hold();
    let held = tokio::spawn(async move { deliver(first, "/record", "msg_1").await });
    gate.arrived().await;
    let attempts: Vec<_> = (0..12)
        .map(|n| {
            let address = if n % 2 == 0 { first } else { second };
            tokio::spawn(async move { deliver(address, "/record", "msg_1").await })
        })
        .collect();
    for attempt in attempts {
        assert_eq!(attempt.await.unwrap(), (409, "in progress".into()));
    }
    gate.open();
    assert_eq!(held.await.unwrap(), (200, "processed".into()));
    assert_eq!(first_app.processed("msg_1") + second_app.processed("msg_1"), 1);
    assert_eq!(deliver(first, "/record", "msg_1").await, (200, "duplicate".into()));
    assert_eq!(deliver(second, "/record", "msg_1").await, (200, "duplicate".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn completing_inside_the_merchants_transaction_commits_or_rolls_back_with_it() {
    let db = TestDb::new("in_transaction").await;
    let (address, app) = serve(db.store().await, DEFAULT_LEASE).await;
    sqlx::raw_sql("CREATE TABLE payments (id serial PRIMARY KEY, webhook_id text NOT NULL)")
        .execute(&app.pool)
        .await
        .unwrap();
    let payments = |id: &'static str| {
        let pool = app.pool.clone();
        async move {
            let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM payments WHERE webhook_id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
            count
        }
    };

    // Committed: paid once, done, and every retry a duplicate.
    assert_eq!(deliver(address, "/pay", "msg_commit").await, (200, "processed".into()));
    assert_eq!(payments("msg_commit").await, 1);
    assert!(row(&app.pool, "msg_commit").await.unwrap().1, "done");
    assert_eq!(deliver(address, "/pay", "msg_commit").await, (200, "duplicate".into()));
    assert_eq!(payments("msg_commit").await, 1);

    // Rolled back after completing: neither paid nor done, and the retry pays.
    app.fail_next.store(1, Ordering::SeqCst);
    assert_eq!(
        deliver(address, "/pay", "msg_rollback").await,
        (500, "handler failed".into())
    );
    assert_eq!(payments("msg_rollback").await, 0);
    assert_eq!(row(&app.pool, "msg_rollback").await, None, "not done, and released");
    assert_eq!(
        deliver(address, "/pay", "msg_rollback").await,
        (200, "processed".into())
    );
    assert_eq!(
        deliver(address, "/pay", "msg_rollback").await,
        (200, "duplicate".into())
    );
    assert_eq!(payments("msg_rollback").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_committed_transaction_is_done_even_if_the_process_dies_before_completing() {
    let db = TestDb::new("commit_then_die").await;
    let store = db.store().await;
    let pool = store.pool().clone();
    sqlx::raw_sql("CREATE TABLE payments (webhook_id text NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let id = WebhookId::new("msg_1");
    let Claim::Acquired(token) = store.claim(&id, DEFAULT_LEASE).await.unwrap() else {
        panic!("a fresh delivery is acquired")
    };
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("INSERT INTO payments VALUES ($1)")
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    store.complete_in(&mut tx, &token).await.unwrap();
    // Before the commit, others do not see it done; a retry's claim waits
    // for the transaction to end and never acquires.
    assert_eq!(row(&pool, "msg_1").await.map(|(_, done)| done), Some(false));
    let retry = tokio::spawn({
        let (store, id) = (store.clone(), id.clone());
        async move { store.claim(&id, DEFAULT_LEASE).await }
    });
    tx.commit().await.unwrap();
    let retried = retry.await.unwrap().unwrap();
    assert!(matches!(retried, Claim::InProgress | Claim::Done), "{retried:?}");
    // The process dies here, before the deduplicator's own completion.
    assert_eq!(store.claim(&id, DEFAULT_LEASE).await.unwrap(), Claim::Done);
    // Had it lived, that completion is a no-op; completing in another
    // transaction again is fine too.
    store.complete(&token, DEFAULT_RETENTION).await.unwrap();
    let mut again = pool.begin().await.unwrap();
    store.complete_in(&mut again, &token).await.unwrap();
    again.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_late_claimant_cannot_complete_in_its_transaction_what_another_holds_or_finished() {
    let db = TestDb::new("late_claimant").await;
    let store = db.store().await;
    let pool = store.pool().clone();
    let id = WebhookId::new("msg_1");
    let Claim::Acquired(late) = store.claim(&id, Duration::from_millis(200)).await.unwrap() else {
        panic!()
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let Claim::Acquired(retry) = store.claim(&id, DEFAULT_LEASE).await.unwrap() else {
        panic!("the lease ran out")
    };

    let mut tx = pool.begin().await.unwrap();
    assert!(
        store.complete_in(&mut tx, &late).await.is_err(),
        "the retry holds it now"
    );
    tx.rollback().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    store.complete_in(&mut tx, &retry).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    assert!(
        store.complete_in(&mut tx, &late).await.is_err(),
        "the retry did it: the late claimant must roll back, or it applies the payment twice"
    );
    tx.rollback().await.unwrap();
    // Outside a transaction the late completion is moot, as for every store.
    store.complete(&late, DEFAULT_RETENTION).await.unwrap();
    assert_eq!(row(&pool, "msg_1").await.unwrap().0, retry.owner(), "still the retry's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_id_the_database_cannot_store_is_an_error_not_a_guess() {
    let db = TestDb::new("hostile_ids").await;
    let store = db.store().await;
    let answer = store.claim(&WebhookId::new("msg_\0nul"), DEFAULT_LEASE).await;
    let err = answer.unwrap_err();
    // Not a mistake in the configuration (the `Configuration` kind): only
    // those SQLSTATEs are; the rest is the database's answer of the moment.
    assert_eq!(err.kind(), Unavailable, "{err}");
    assert!(
        err.to_string()
            .starts_with("unavailable: PostgreSQL could not claim the delivery: ")
            && err.to_string().ends_with("(SQLSTATE 22021)"),
        "the cause, by its SQLSTATE: {err}"
    );
    assert!(matches!(
        store.claim(&WebhookId::new("msg_ok"), DEFAULT_LEASE).await,
        Ok(Claim::Acquired(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_errors_name_their_cause_and_tell_a_mistake_from_an_outage() {
    const PASSWORD: &str = "s3cret-Pg-pass";
    let db = TestDb::new("store_errors").await;
    let port = db._server.port;
    let claim = |url: String| async move {
        let pool = pool_options().connect_lazy(&url).unwrap();
        PostgresStore::new(pool)
            .claim(&WebhookId::new("msg_1"), DEFAULT_LEASE)
            .await
            .unwrap_err()
    };
    for (database, user, kind, expected) in [
        (
            "no_such_db",
            "postgres",
            Configuration,
            r#"misconfigured: PostgreSQL could not claim the delivery: database "no_such_db" does not exist (SQLSTATE 3D000)"#,
        ),
        (
            "store_errors",
            "nobody",
            Configuration,
            r#"role "nobody" does not exist (SQLSTATE 28000)"#,
        ),
        // Not migrated.
        (
            "store_errors",
            "postgres",
            Configuration,
            r#"relation "yoco_webhook_deliveries" does not exist (SQLSTATE 42P01)"#,
        ),
    ] {
        let err = claim(format!("postgres://{user}:{PASSWORD}@127.0.0.1:{port}/{database}")).await;
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.to_string().contains(expected), "{err}");
        assert!(!format!("{err} {err:?}").contains(PASSWORD), "{err:?}");
    }
    let closed = claim(format!("postgres://postgres:{PASSWORD}@127.0.0.1:{}/x", free_port())).await;
    assert_eq!(closed.kind(), Unavailable, "{closed}");
    assert!(
        closed
            .to_string()
            .starts_with("unavailable: PostgreSQL could not claim the delivery: pool timed out"),
        "{closed}"
    );
    assert!(!format!("{closed} {closed:?}").contains(PASSWORD), "{closed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purging_deletes_only_expired_rows() {
    let db = TestDb::new("purge").await;
    let store = db.store().await;
    let id = |name: &str| WebhookId::new(name);
    let short = Duration::from_millis(200);
    let acquire = |name: &'static str, lease: Duration| {
        let store = store.clone();
        async move {
            match store.claim(&id(name), lease).await.unwrap() {
                Claim::Acquired(token) => token,
                other => panic!("{name}: {other:?}"),
            }
        }
    };
    let _dead = acquire("dead-claim", short).await;
    let forgotten = acquire("forgotten", DEFAULT_LEASE).await;
    store.complete(&forgotten, short).await.unwrap();
    let remembered = acquire("remembered", DEFAULT_LEASE).await;
    store.complete(&remembered, DEFAULT_RETENTION).await.unwrap();
    let _live = acquire("live-claim", DEFAULT_LEASE).await;
    tokio::time::sleep(Duration::from_millis(700)).await;

    assert_eq!(store.purge_expired().await.unwrap(), 2);
    assert_eq!(store.purge_expired().await.unwrap(), 0);
    for (name, expected) in [("remembered", true), ("live-claim", false)] {
        assert_eq!(
            row(store.pool(), name).await.map(|(_, done)| done),
            Some(expected),
            "{name}"
        );
    }
    assert_eq!(row(store.pool(), "dead-claim").await, None);
    assert_eq!(row(store.pool(), "forgotten").await, None);
    assert!(matches!(
        store.claim(&id("forgotten"), DEFAULT_LEASE).await,
        Ok(Claim::Acquired(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_periodic_purge_deletes_rows_as_they_expire() {
    let db = TestDb::new("purge_every").await;
    let store = db.store().await;
    let lease = Duration::from_millis(300);
    let claim = |name: &'static str| {
        let store = store.clone();
        async move {
            assert!(matches!(
                store.claim(&WebhookId::new(name), lease).await,
                Ok(Claim::Acquired(_))
            ))
        }
    };
    claim("first").await;
    let purging = tokio::spawn({
        let store = store.clone();
        async move { store.purge_every(Duration::from_secs(1)).await }
    });
    // Each row goes at a tick after its lease ran out, without a call of ours.
    let gone = |name: &'static str| {
        let pool = store.pool().clone();
        async move {
            for _ in 0..100 {
                if row(&pool, name).await.is_none() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("{name} was not purged");
        }
    };
    gone("first").await;
    claim("second").await;
    gone("second").await;
    assert!(!purging.is_finished(), "the purge runs forever");
    purging.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_that_is_down_means_503_until_it_is_back() {
    // A database that never answered: 503, within Yoco's wait.
    let nowhere = pool_options()
        .connect_lazy(&format!("postgres://postgres@127.0.0.1:{}/x", free_port()))
        .unwrap();
    let (address, app) = serve(PostgresStore::new(nowhere), DEFAULT_LEASE).await;
    assert_eq!(
        deliver(address, "/record", "msg_0").await,
        (503, "store unavailable".into())
    );
    assert_eq!(app.processed("msg_0"), 0);

    // One that stops mid-run, and comes back on the same port and data.
    let server = Arc::new(tokio::task::spawn_blocking(PgServer::start).await.unwrap());
    let store = PostgresStore::new(pool(&server.url("postgres")).await);
    store.migrate().await.unwrap();
    let (address, app) = serve(store, DEFAULT_LEASE).await;
    assert_eq!(deliver(address, "/record", "msg_1").await, (200, "processed".into()));

    let stopping = Arc::clone(&server);
    tokio::task::spawn_blocking(move || stopping.stop()).await.unwrap();
    for id in ["msg_2", "msg_1", "msg_2"] {
        assert_eq!(
            deliver(address, "/record", id).await,
            (503, "store unavailable".into()),
            "{id}"
        );
    }
    assert_eq!(app.processed("msg_2"), 0, "nothing processed without the store");

    let starting = Arc::clone(&server);
    tokio::task::spawn_blocking(move || starting.start_again())
        .await
        .unwrap();
    assert_eq!(deliver(address, "/record", "msg_2").await, (200, "processed".into()));
    assert_eq!(deliver(address, "/record", "msg_1").await, (200, "duplicate".into()));
    assert_eq!(app.processed("msg_1") + app.processed("msg_2"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_receiver_processes_on_one_database_print_each_delivery_once() {
    let db = TestDb::new("two_receivers").await;
    crate::example_receivers::two_processes_print_each_delivery_once(
        ["actix_receiver", "axum_receiver"],
        ("YOCO_DATABASE_URL", &db.url),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_receivers_exit_with_status_2_on_an_unreachable_or_unknown_database() {
    let server = tokio::task::spawn_blocking(shared_server).await.unwrap();
    for (url, expected) in [
        // A closed port: the database is not there.
        (
            format!("postgres://shop:s3cret-Pg-pass@127.0.0.1:{}/shop", free_port()),
            "Connection refused",
        ),
        (
            format!(
                "postgres://postgres:s3cret-Pg-pass@127.0.0.1:{}/no_such_db",
                server.port
            ),
            r#"database "no_such_db" does not exist"#,
        ),
    ] {
        for example in ["axum_receiver", "actix_receiver"] {
            let running = crate::example_binary(example)
                .env("BIND_ADDR", "127.0.0.1:0")
                .env("YOCO_WEBHOOK_SECRET", yoco_webhooks::testing::TEST_SECRET)
                .env("YOCO_DATABASE_URL", &url)
                .output();
            let output = tokio::time::timeout(Duration::from_secs(30), running)
                .await
                .unwrap_or_else(|_| panic!("{example} started instead of exiting"))
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{example}: {stderr}");
            assert!(
                stderr.contains("YOCO_DATABASE_URL: ") && stderr.contains(expected),
                "{example}: {stderr}"
            );
            assert!(!stderr.contains("s3cret"), "{example}: {stderr}");
        }
    }
}
