//! The PostgreSQL inbox as a merchant runs it: the example receivers
//! (`YOCO_INBOX=postgres`) answer `queued` and share one inbox, worker
//! processes drain it, and the command line looks after it; against a real
//! PostgreSQL server (the harness of `postgres.rs`).
//!
//! The worker processes are this test binary run again on
//! [`worker_process`], which works only when the parent sets
//! `YOCO_TEST_WORKER_URL`: it takes deliveries with `Inbox::next`, checks
//! each, records it in the table `processed` through the delivery's own
//! transaction, commits it done and says `done <id>`. Told so by its
//! environment it fails some deliveries, or holds one mid-transaction until
//! it is killed.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use yoco_webhooks::dedup::StoreErrorKind;
use yoco_webhooks::postgres::sqlx::{self, PgPool};
use yoco_webhooks::postgres::{Inbox, InboxState, Worked};
use yoco_webhooks::{DeliveryQueue, Enqueued, Outcome, ReceiveError, VerifyError};

pub(crate) use crate::deliveries::{post, receiver, stored};
use crate::example_receivers::{Running, start};
use crate::postgres::{PgServer, TestDb, pool};

/// How long a test waits for the workers to reach a state before it fails.
const PATIENCE: Duration = Duration::from_secs(90);

/// The inbox's table and the workers' `processed` table, on `pool`.
pub(crate) async fn prepare(pool: &PgPool) -> Inbox {
    let inbox = Inbox::new(pool.clone());
    inbox.migrate().await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS processed (webhook_id text NOT NULL, worker text NOT NULL, attempt integer NOT NULL)",
    )
    .execute(pool)
    .await
    .unwrap();
    inbox
}

/// Both example receivers on the inbox at `url`, receiving only.
async fn receivers(url: &str) -> [Running; 2] {
    let env = [
        ("YOCO_INBOX", "postgres"),
        ("YOCO_DATABASE_URL", url),
        ("YOCO_INBOX_WORKERS", "0"),
    ];
    [start("axum_receiver", &env).await, start("actix_receiver", &env).await]
}

/// A worker process on the inbox at `url`, with `env`.
struct Worker {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    fn start(url: &str, name: &str, env: &[(&str, &str)]) -> Self {
        let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "inbox::worker_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("YOCO_TEST_WORKER_URL", url)
            .env("YOCO_TEST_WORKER_NAME", name)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, stdout }
    }

    /// Waits for the worker's line `line`; fails with what it said instead.
    async fn said(&mut self, line: &str) {
        let mut heard = Vec::new();
        let wait = async {
            while let Some(said) = self.stdout.next_line().await.unwrap() {
                // The first may follow libtest's `test ... ` on its line.
                if said.ends_with(line) {
                    return true;
                }
                heard.push(said);
            }
            false
        };
        let said = tokio::time::timeout(PATIENCE, wait).await;
        assert_eq!(said, Ok(true), "the worker did not say {line:?}, but {heard:?}");
    }
}

/// How many times each delivery was processed (committed).
pub(crate) async fn processed(pool: &PgPool) -> HashMap<String, i64> {
    sqlx::query_as("SELECT webhook_id, count(*) FROM processed GROUP BY webhook_id")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// (state, attempts, last_error) of delivery `id`.
pub(crate) async fn row(pool: &PgPool, id: &str) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT state, attempts, last_error FROM yoco_webhook_inbox WHERE webhook_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Waits until `check` holds, polling the database; fails after [`PATIENCE`].
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !check().await {
        assert!(started.elapsed() < PATIENCE, "not within {PATIENCE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------
// The worker process.

/// Not a test: the worker process the tests below start (this binary, run
/// again); does nothing unless `YOCO_TEST_WORKER_URL` is set.
#[test]
#[ignore = "a worker process for the inbox tests, started by them"]
fn worker_process() {
    let Ok(url) = std::env::var("YOCO_TEST_WORKER_URL") else {
        return;
    };
    let name = std::env::var("YOCO_TEST_WORKER_NAME").unwrap();
    let hold = std::env::var_os("YOCO_TEST_HOLD").is_some();
    let healed = std::env::var_os("YOCO_TEST_HEALED").is_some();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let pool = crate::postgres::pool_options().connect_lazy(&url).unwrap();
        let inbox = Inbox::new(pool)
            .max_attempts(3)
            .backoff(Duration::from_millis(100), Duration::from_millis(400));
        let receiver = receiver();
        loop {
            let mut taken = match inbox.next().await {
                Ok(Some(taken)) => taken,
                Ok(None) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Err(err) => {
                    eprintln!("worker {name}: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let id = taken.stored().webhook_id().to_string();
            let delivery = match taken.check(&receiver) {
                Ok(Outcome::Process(delivery)) => delivery,
                Ok(_) => panic!("every test delivery is the shop's"),
                Err(refused) => {
                    let _ = taken.refused(&refused.to_string()).await;
                    println!("refused {id}");
                    continue;
                }
            };
            let attempt = taken.attempt();
            let recorded = sqlx::query("INSERT INTO processed (webhook_id, worker, attempt) VALUES ($1, $2, $3)")
                .bind(delivery.webhook_id.as_str())
                .bind(&name)
                .bind(i32::try_from(attempt).unwrap())
                .execute(taken.connection())
                .await;
            if let Err(err) = recorded {
                eprintln!("worker {name}: {err}");
                continue; // dropped: rolled back, due again
            }
            if hold && id.starts_with("hold-") {
                println!("holding {id}");
                std::future::pending::<()>().await;
            }
            let fails = (id.starts_with("fail2-") && attempt <= 2) || (id.starts_with("always-") && !healed);
            if fails {
                let _ = taken.failed("told to fail").await;
                println!("failed {id} {attempt}");
                continue;
            }
            match taken.done().await {
                Ok(()) => println!("done {id}"),
                Err(err) => eprintln!("worker {name}: {err}"),
            }
        }
    });
}

// ---------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_deliveries_sent_twice_to_two_receivers_are_processed_once_by_three_workers() {
    const DELIVERIES: usize = 500;
    let db = TestDb::new("inbox_many").await;
    let pool = db.pool().await;
    let inbox = prepare(&pool).await;
    let receivers = receivers(&db.url).await;
    let _workers: Vec<Worker> = (0..3).map(|n| Worker::start(&db.url, &format!("w{n}"), &[])).collect();

    let client = reqwest::Client::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(64));
    let mut posts = tokio::task::JoinSet::new();
    for n in 0..DELIVERIES {
        // Each delivery to both receivers at once, as a retry racing the first attempt.
        for receiver in &receivers {
            let (client, url, permits) = (client.clone(), receiver.url.clone(), Arc::clone(&permits));
            posts.spawn(async move {
                let _permit = permits.acquire().await.unwrap();
                // A 503 (the pool busy under this load) is retried, as Yoco
                // retries it; what counts is that each is queued and
                // processed once.
                let mut answer = post(&client, &url, &format!("msg_{n}")).await;
                let mut refused = false;
                for _ in 0..20 {
                    if answer.0 != 503 {
                        break;
                    }
                    refused = true;
                    answer = post(&client, &url, &format!("msg_{n}")).await;
                }
                (n, answer, refused)
            });
        }
    }
    // One copy of each is queued, the other answered as the duplicate it is
    // (a 503 may hide which one queued it: then at most one says so).
    let mut queued = vec![(0, false); DELIVERIES];
    while let Some(answer) = posts.join_next().await {
        let (n, (status, text), refused) = answer.unwrap();
        assert!(
            status == 200 && (text == "queued" || text == "duplicate"),
            "msg_{n}: {status} {text}"
        );
        queued[n].0 += usize::from(text == "queued");
        queued[n].1 |= refused;
    }
    for (n, (times, refused)) in queued.into_iter().enumerate() {
        assert!(
            times == 1 || (refused && times == 0),
            "msg_{n} answered queued {times} times"
        );
    }

    eventually("every delivery processed", || async {
        processed(&pool).await.len() == DELIVERIES && inbox.list(InboxState::Pending, 1).await.unwrap().is_empty()
    })
    .await;
    let counts = processed(&pool).await;
    assert!(
        counts.values().all(|&count| count == 1),
        "processed more than once: {counts:?}"
    );
    // Done, each once. (Not always at the first attempt: under load a
    // worker's own write can time out, and that attempt, rolled back,
    // counts as one.)
    let done: i64 = sqlx::query_scalar("SELECT count(*) FROM yoco_webhook_inbox WHERE state = 'done'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(done, DELIVERIES as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_finishes_another_delivery_while_one_is_held_and_a_killed_worker_s_attempt_counts() {
    let db = TestDb::new("inbox_killed").await;
    let pool = db.pool().await;
    let inbox = prepare(&pool).await;
    assert_eq!(inbox.enqueue(&stored("hold-1")).await.unwrap(), Enqueued::New);

    let mut holder = Worker::start(&db.url, "holder", &[("YOCO_TEST_HOLD", "1")]);
    holder.said("holding hold-1").await;
    // hold-1 is due again (its backoff is 100 ms) and older than next-1, so
    // a worker that waited on a locked row would wait on it, not reach next-1.
    eventually("hold-1 due again", || async { due(&pool, "hold-1").await }).await;
    assert_eq!(inbox.enqueue(&stored("next-1")).await.unwrap(), Enqueued::New);
    let mut other = Worker::start(&db.url, "other", &[]);
    other.said("done next-1").await;
    assert_eq!(holder.child.try_wait().unwrap(), None, "the holder still holds hold-1");
    assert_eq!(processed(&pool).await.get("hold-1"), None);
    assert_eq!(row(&pool, "hold-1").await, ("pending".to_owned(), 1, None));

    holder.child.kill().await.unwrap(); // SIGKILL: no rollback of its own
    other.said("done hold-1").await;
    let by: Vec<(String, i32)> = sqlx::query_as("SELECT worker, attempt FROM processed WHERE webhook_id = 'hold-1'")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        by,
        [("other".to_owned(), 2)],
        "the killed attempt counts, and its insert rolled back"
    );
    assert_eq!(row(&pool, "hold-1").await, ("done".to_owned(), 2, None));
}

/// The `last_error` of a delivery whose last attempt never answered.
const ABANDONED: &str =
    "abandoned: the attempt never answered (its worker stopped, its handler panicked, or it was dropped)";

/// An inbox on `pool` giving each delivery two attempts an hour apart: "not
/// due again yet" is plain without waiting, and [`make_due`] moves time on.
async fn two_attempts_an_hour_apart(pool: &PgPool) -> Inbox {
    let hour = Duration::from_secs(60 * 60);
    prepare(pool).await.max_attempts(2).backoff(hour, hour)
}

/// Whether delivery `id` is due now.
async fn due(pool: &PgPool, id: &str) -> bool {
    sqlx::query_scalar("SELECT due_at <= statement_timestamp() FROM yoco_webhook_inbox WHERE webhook_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Whether delivery `id` waits out its hour's backoff (more than 59 minutes to go).
async fn backed_off(pool: &PgPool, id: &str) -> bool {
    sqlx::query_scalar(
        "SELECT due_at > statement_timestamp() + interval '59 minutes' FROM yoco_webhook_inbox WHERE webhook_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Makes delivery `id` due now, as if its backoff had passed. The update
/// waits for the row's lock: until an abandoned attempt's transaction has
/// rolled back.
async fn make_due(pool: &PgPool, id: &str) {
    sqlx::query("UPDATE yoco_webhook_inbox SET due_at = statement_timestamp() WHERE webhook_id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
}

/// Takes the next delivery with `Inbox::work` and a handler that must not run.
async fn work_expecting_nothing(inbox: &Inbox) -> Worked<(), String> {
    inbox
        .work(&receiver(), |delivery| async move {
            panic!("{} ran, but nothing was due", delivery.webhook_id)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_panics_counts_as_an_attempt_is_backed_off_and_dead_after_the_last() {
    let db = TestDb::new("inbox_panics").await;
    let pool = db.pool().await;
    let inbox = two_attempts_an_hour_apart(&pool).await;
    inbox.enqueue(&stored("panics-1")).await.unwrap();
    let runs = Arc::new(AtomicU32::new(0));
    for attempt in 1..=2 {
        let (worker_inbox, worker_runs) = (inbox.clone(), Arc::clone(&runs));
        let worker = tokio::spawn(async move {
            worker_inbox
                .work(&receiver(), |_| async move {
                    worker_runs.fetch_add(1, Ordering::SeqCst);
                    panic!("the handler's bug");
                    #[allow(unreachable_code)]
                    Ok::<(), String>(())
                })
                .await
        });
        assert!(worker.await.unwrap_err().is_panic());
        assert_eq!(runs.load(Ordering::SeqCst), attempt);
        let (state, attempts, _) = row(&pool, "panics-1").await;
        assert_eq!(
            (state.as_str(), attempts),
            ("pending", attempt as i32),
            "attempt {attempt} counted"
        );
        assert!(backed_off(&pool, "panics-1").await, "attempt {attempt} backed off");
        assert!(matches!(work_expecting_nothing(&inbox).await, Worked::Idle));
        make_due(&pool, "panics-1").await;
    }
    // Both attempts used: the next worker to take it records it dead, and
    // does not run it a third time.
    assert!(matches!(work_expecting_nothing(&inbox).await, Worked::Idle));
    assert_eq!(
        row(&pool, "panics-1").await,
        ("dead".to_owned(), 2, Some(ABANDONED.to_owned()))
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_dropped_without_an_answer_counts_as_an_attempt_is_backed_off_and_dead_after_the_last() {
    let db = TestDb::new("inbox_dropped").await;
    let pool = db.pool().await;
    let inbox = two_attempts_an_hour_apart(&pool).await;
    inbox.enqueue(&stored("dropped-1")).await.unwrap();
    for attempt in 1..=2 {
        let taken = inbox.next().await.unwrap().expect("dropped-1 is due");
        assert_eq!(taken.attempt(), attempt);
        drop(taken);
        let (state, attempts, _) = row(&pool, "dropped-1").await;
        assert_eq!(
            (state.as_str(), attempts),
            ("pending", attempt as i32),
            "attempt {attempt} counted"
        );
        assert!(backed_off(&pool, "dropped-1").await, "attempt {attempt} backed off");
        assert!(inbox.next().await.unwrap().is_none(), "not due again at once");
        make_due(&pool, "dropped-1").await;
    }
    assert!(inbox.next().await.unwrap().is_none(), "both attempts used");
    assert_eq!(
        row(&pool, "dropped-1").await,
        ("dead".to_owned(), 2, Some(ABANDONED.to_owned()))
    );
    // A person retries it: pending, with its attempts again.
    assert!(inbox.retry(&"dropped-1".into()).await.unwrap());
    let taken = inbox.next().await.unwrap().expect("retried");
    assert_eq!(taken.attempt(), 1);
    taken.done().await.unwrap();
    assert_eq!(row(&pool, "dropped-1").await, ("done".to_owned(), 1, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_are_retried_with_backoff_until_dead_and_a_dead_one_is_retried_from_the_command_line() {
    let db = TestDb::new("inbox_failures").await;
    let pool = db.pool().await;
    let inbox = prepare(&pool).await;
    for id in ["fail2-1", "always-1"] {
        inbox.enqueue(&stored(id)).await.unwrap();
    }
    let mut worker = Worker::start(&db.url, "w", &[]);
    worker.said("failed always-1 3").await;
    eventually("fail2-1 done", || async { row(&pool, "fail2-1").await.0 == "done" }).await;
    assert_eq!(row(&pool, "fail2-1").await, ("done".to_owned(), 3, None));
    let attempts: Vec<i32> = sqlx::query_scalar("SELECT attempt FROM processed WHERE webhook_id = 'fail2-1'")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(attempts, [3], "the failed attempts' changes rolled back");
    assert_eq!(
        row(&pool, "always-1").await,
        ("dead".to_owned(), 3, Some("told to fail".to_owned()))
    );
    assert_eq!(processed(&pool).await.get("always-1"), None);
    worker.child.kill().await.unwrap();

    #[cfg(feature = "cli")]
    {
        let cli = |args: &'static [&'static str]| {
            let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_yoco-webhooks"));
            command
                .args(args)
                .env("YOCO_DATABASE_URL", &db.url)
                .env_remove("YOCO_SECRET_KEY");
            async move { command.output().await.unwrap() }
        };
        let dead = cli(&["inbox", "dead", "--json"]).await;
        assert!(dead.status.success(), "{dead:?}");
        let lines: Vec<serde_json::Value> = String::from_utf8(dead.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["webhook_id"], "always-1");
        assert_eq!(lines[0]["state"], "dead");
        assert_eq!(lines[0]["type"], "payment.succeeded");
        assert_eq!(lines[0]["checkout_id"], "ch_shop");
        assert_eq!(
            (&lines[0]["amount"], &lines[0]["currency"]),
            (&900.into(), &"ZAR".into())
        );
        assert_eq!(lines[0]["mode"], "test");
        assert_eq!(lines[0]["attempts"], 3);
        assert_eq!(lines[0]["last_error"], "told to fail");
        // A dead delivery waits for no next attempt: no due time, but when it died.
        assert_eq!(lines[0]["due_at"], serde_json::Value::Null);
        assert!(lines[0]["finished_at"].is_string(), "{lines:?}");
        let dead = String::from_utf8(cli(&["inbox", "dead"]).await.stdout).unwrap();
        let found = "always-1  payment.succeeded  checkout=ch_shop  amount=9.00 ZAR  mode=test  event=evt_always-1";
        assert!(dead.starts_with(found), "{dead}");
        assert!(dead.contains("  dead=20") && !dead.contains("due="), "{dead}");
        let pending = cli(&["inbox", "pending"]).await;
        assert_eq!(String::from_utf8_lossy(&pending.stdout), "no pending deliveries\n");

        // The bug is fixed and deployed; a person retries the dead delivery.
        let _healed = Worker::start(&db.url, "healed", &[("YOCO_TEST_HEALED", "1")]);
        let retried = cli(&["inbox", "retry", "always-1"]).await;
        assert!(retried.status.success(), "{retried:?}");
        eventually("always-1 done", || async { row(&pool, "always-1").await.0 == "done" }).await;
        assert_eq!(processed(&pool).await.get("always-1"), Some(&1));
        // Each refusal has its own exit code and says why.
        let again = cli(&["inbox", "retry", "always-1"]).await;
        assert_eq!(again.status.code(), Some(5), "not dead any more: {again:?}");
        let said = String::from_utf8_lossy(&again.stderr);
        assert!(said.contains("always-1 is done, not dead"), "{said}");
        let unknown = cli(&["inbox", "retry", "never-sent"]).await;
        assert_eq!(unknown.status.code(), Some(5), "{unknown:?}");
        assert!(String::from_utf8_lossy(&unknown.stderr).contains("no delivery never-sent in yoco_webhook_inbox"));
        let missing = cli(&["inbox", "dead", "--table", "not_migrated"]).await;
        assert_eq!(
            missing.status.code(),
            Some(2),
            "a table missing is a configuration error: {missing:?}"
        );

        let kept = cli(&["inbox", "purge"]).await;
        assert_eq!(
            String::from_utf8_lossy(&kept.stdout),
            "purged 0 done deliveries older than 28 hours\n"
        );
        // Both finished in earlier statements, so at or before this one's time.
        let purged = cli(&["inbox", "purge", "--older-than-hours", "0"]).await;
        assert_eq!(
            String::from_utf8_lossy(&purged.stdout),
            "purged 2 done deliveries older than 0 hours\n"
        );

        let unset = tokio::process::Command::new(env!("CARGO_BIN_EXE_yoco-webhooks"))
            .args(["inbox", "dead"])
            .env_remove("YOCO_DATABASE_URL")
            .output()
            .await
            .unwrap();
        assert_eq!(unset.status.code(), Some(2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_stopped_mid_run_means_503_and_nothing_is_lost_once_it_is_back() {
    let server = Arc::new(tokio::task::spawn_blocking(PgServer::start).await.unwrap());
    let url = server.url("postgres");
    let pool = pool(&url).await;
    prepare(&pool).await;
    let receivers = receivers(&url).await;
    let _worker = Worker::start(&url, "w", &[]);
    let client = reqwest::Client::new();
    for n in 0..10 {
        let answer = post(&client, &receivers[n % 2].url, &format!("before-{n}")).await;
        assert_eq!(answer, (200, "queued".to_owned()), "before-{n}");
    }

    let stopping = Arc::clone(&server);
    tokio::task::spawn_blocking(move || stopping.stop()).await.unwrap();
    for n in 0..10 {
        let answer = post(&client, &receivers[n % 2].url, &format!("during-{n}")).await;
        assert_eq!(answer, (503, "queue unavailable".to_owned()), "during-{n}");
    }

    let starting = Arc::clone(&server);
    tokio::task::spawn_blocking(move || starting.start_again())
        .await
        .unwrap();
    // Yoco's retries, to the same receivers, never restarted.
    for n in 0..10 {
        let answer = post(&client, &receivers[n % 2].url, &format!("during-{n}")).await;
        assert_eq!(answer, (200, "queued".to_owned()), "during-{n}");
    }
    let pool = crate::postgres::pool(&url).await;
    eventually("all twenty processed", || async { processed(&pool).await.len() == 20 }).await;
    let counts = processed(&pool).await;
    assert!(counts.values().all(|&count| count == 1), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stored_delivery_with_one_byte_changed_is_refused_by_the_worker() {
    let db = TestDb::new("inbox_tampered").await;
    let pool = db.pool().await;
    let inbox = prepare(&pool).await;
    for id in ["tampered-1", "intact-1"] {
        inbox.enqueue(&stored(id)).await.unwrap();
    }
    // One byte of the amount changed, in the table.
    let body: String = sqlx::query_scalar("SELECT body FROM yoco_webhook_inbox WHERE webhook_id = 'tampered-1'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let at = body.find("\"amount\":").unwrap() + "\"amount\":".len();
    let mut bytes = body.into_bytes();
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    sqlx::query("UPDATE yoco_webhook_inbox SET body = $1 WHERE webhook_id = 'tampered-1'")
        .bind(String::from_utf8(bytes).unwrap())
        .execute(&pool)
        .await
        .unwrap();
    let mut worker = Worker::start(&db.url, "w", &[]);
    worker.said("refused tampered-1").await;
    eventually("intact-1 done", || async { row(&pool, "intact-1").await.0 == "done" }).await;
    let not_authentic = ReceiveError::Verify(VerifyError::SignatureMismatch).to_string();
    assert_eq!(
        row(&pool, "tampered-1").await,
        ("dead".to_owned(), 1, Some(not_authentic))
    );
    assert_eq!(processed(&pool).await.get("tampered-1"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stored_delivery_whose_time_of_receipt_was_moved_is_refused() {
    let db = TestDb::new("inbox_moved").await;
    let pool = db.pool().await;
    let inbox = prepare(&pool).await;
    let intact = stored("intact-2");
    for delivery in [stored("moved-1"), intact.clone()] {
        inbox.enqueue(&delivery).await.unwrap();
    }
    // One second later, well within the tolerance of its signed timestamp:
    // as a queue writer would make an old delivery look fresh.
    sqlx::query(
        "UPDATE yoco_webhook_inbox SET received_at = received_at + interval '1 second', due_at = due_at - interval '1 hour' \
         WHERE webhook_id = 'moved-1'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let moved = inbox.next().await.unwrap().expect("moved-1 is due first");
    assert_eq!(moved.stored().webhook_id().as_str(), "moved-1");
    let err = moved.check(&receiver()).unwrap_err();
    assert!(
        matches!(
            err,
            yoco_webhooks::ReceiveError::Verify(yoco_webhooks::VerifyError::ReceiptMismatch)
        ),
        "{err:?}"
    );
    moved.refused(&err.to_string()).await.unwrap();
    // The receipt made the round trip through its column.
    let taken = inbox.next().await.unwrap().expect("intact-2 is due");
    assert_eq!(taken.stored(), &intact);
    assert!(matches!(taken.check(&receiver()), Ok(Outcome::Process(_))));
    taken.done().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_example_receivers_answer_at_once_and_print_from_a_worker_task() {
    let db = TestDb::new("inbox_examples").await;
    let env = [("YOCO_INBOX", "postgres"), ("YOCO_DATABASE_URL", db.url.as_str())];
    let client = reqwest::Client::new();
    let pool = db.pool().await;
    for name in ["axum_receiver", "actix_receiver"] {
        let mut running = start(name, &env).await;
        let id = format!("msg_{name}");
        assert_eq!(post(&client, &running.url, &id).await, (200, "queued".to_owned()));
        let line = running.next_line().await;
        assert_eq!(line["webhook_id"], id.as_str(), "{name}");
        assert_eq!(line["checkout_id"], "ch_shop", "{name}");
        // A retry is queued once: answered as a duplicate, never printed again.
        assert_eq!(post(&client, &running.url, &id).await, (200, "duplicate".to_owned()));
        // The worker prints before it commits "done": a receiver stopped in
        // between would leave the delivery for the next one, as it should.
        eventually("the delivery done", || async { row(&pool, &id).await.0 == "done" }).await;
    }
    let done: i64 = sqlx::query_scalar("SELECT count(*) FROM yoco_webhook_inbox WHERE state = 'done'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(done, 2);
}

/// The inbox table as the versions before the `lease` column created it.
const EARLIER_TABLE: &str = r#"CREATE TABLE "yoco_webhook_inbox" (
    webhook_id        text        PRIMARY KEY,
    webhook_timestamp text        NOT NULL,
    webhook_signature text        NOT NULL,
    body              text        NOT NULL,
    received_at       timestamptz NOT NULL,
    state             text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
    attempts          integer     NOT NULL DEFAULT 0,
    due_at            timestamptz NOT NULL DEFAULT statement_timestamp(),
    finished_at       timestamptz,
    last_error        text
)"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_brings_a_table_of_an_earlier_version_up_to_date_and_runs_again_harmlessly() {
    let db = TestDb::new("inbox_upgraded").await;
    let pool = db.pool().await;
    sqlx::raw_sql(EARLIER_TABLE).execute(&pool).await.unwrap();
    let inbox = Inbox::new(pool.clone());
    // Queued by the earlier version, which had no receipts.
    let earlier = stored("earlier-1");
    sqlx::query(
        "INSERT INTO yoco_webhook_inbox (webhook_id, webhook_timestamp, webhook_signature, body, received_at)
         VALUES ($1, $2, $3, $4, now())",
    )
    .bind(earlier.webhook_id().as_str())
    .bind(earlier.webhook_timestamp())
    .bind(earlier.webhook_signature())
    .bind(earlier.body())
    .execute(&pool)
    .await
    .unwrap();
    // This version before the migration: a mistake to fix, not an outage to wait out.
    let not_migrated = inbox.enqueue(&stored("later-1")).await.unwrap_err();
    assert_eq!(not_migrated.kind(), StoreErrorKind::Configuration, "{not_migrated}");
    let not_migrated = inbox.next().await.unwrap_err();
    assert_eq!(not_migrated.kind(), StoreErrorKind::Configuration, "{not_migrated}");
    assert_eq!(
        not_migrated.to_string(),
        "misconfigured: PostgreSQL could not take a delivery: column inbox.lease does not exist \
         (SQLSTATE 42703)"
    );
    inbox.migrate().await.unwrap();
    inbox.migrate().await.unwrap();
    let taken = inbox.next().await.unwrap().expect("earlier-1 is due");
    assert_eq!(taken.attempt(), 1);
    // No receipt vouches for its time of receipt: refused when checked.
    assert_eq!(taken.stored().receipt(), "");
    taken.done().await.unwrap();
    assert_eq!(row(&pool, "earlier-1").await, ("done".to_owned(), 1, None));
    assert_eq!(inbox.enqueue(&stored("later-1")).await.unwrap(), Enqueued::New);
    // A retry of a pending delivery, or of a done one, changes nothing.
    assert_eq!(
        inbox.enqueue(&stored("later-1")).await.unwrap(),
        Enqueued::AlreadyQueued
    );
    assert_eq!(
        inbox.enqueue(&stored("earlier-1")).await.unwrap(),
        Enqueued::AlreadyQueued
    );
    assert_eq!(row(&pool, "earlier-1").await, ("done".to_owned(), 1, None));
}
