//! Integration tests of `yoco-webhooks`, as one test binary (one link).
//!
//! - [`cross_check`]: interoperability with the `standardwebhooks` crate, both
//!   ways: its signatures verify with our [`Verifier`], our
//!   [`Signer`](yoco_webhooks::testing::Signer)'s headers verify with it.
//! - [`vectors`]: table-driven signature and secret vectors from
//!   `tests/data/vectors.json`, computed independently by
//!   `tests/data/vectors.py`; they cover the "known failures of other
//!   implementations" of the reference notes.
//! - [`properties`]: proptest round trips, single-byte tampering and
//!   no-panic properties of verification.
//! - [`receive`]: the [`Receiver`](yoco_webhooks::Receiver) end to end:
//!   typed events, filters, ignore reasons, statuses, and errors that never
//!   show a secret or an expected signature.
//! - [`duplicate_keys`]: bodies with repeated keys: the event, the filter
//!   and `serde_json::Value` all read a repeated key's last value.
//! - `registration`: the registration client and the `yoco-webhooks`
//!   command line against a local imitation of Yoco's API (features
//!   `client`, `cli`).
//! - [`one_reader`]: the receiver's verdict on generated, mutated and
//!   hostile signed bodies is what `serde_json::Value` reads of them
//!   ([`by_value`], the reference), and a body `Value` cannot read is never
//!   ignored.
//! - [`adapters`]: one suite for every HTTP adapter over a real server:
//!   statuses, retries, concurrent duplicates, hostile headers, oversized,
//!   chunked and aborted bodies; `axum`, `actix_web`, `poem` and `rocket`
//!   run it (features `axum`, `actix-web`, `poem`, `rocket`), with their own configuration
//!   tests.
//! - `lambda`: the Lambda handler under cargo-lambda's Lambda runtime
//!   emulator: the adapter suite through function URLs, and API Gateway
//!   REST, HTTP API and function-URL events (base64 and not) answered as
//!   axum answers them (feature `lambda`).
//! - `tower`: the tower layer over a plain hyper server and on an axum
//!   route: statuses, the delivery and raw body handed on, retries,
//!   concurrent duplicates, oversized and chunked bodies (feature `tower`).
//! - `worker`: the example Worker (`examples/worker`, built for
//!   `wasm32-unknown-unknown` by `scripts/build-worker`) served by `workerd`,
//!   the Workers runtime, on loopback: the adapter suite over HTTP, with a
//!   Durable Object for deduplication, and the receivers' contract
//!   (feature `worker`).
//! - [`example_receivers`]: the `axum_receiver`, `actix_receiver` and
//!   `poem_receiver` and `rocket_receiver` examples, run as processes,
//!   held to their contract.
//! - [`trigger`]: `yoco-webhooks trigger` against a verifying, deduplicating receiver.
//! - [`doctor`]: `yoco-webhooks doctor` on captured requests and on headers
//!   and bodies given apart: its causes, `--json`, exit codes, no secret shown.
//! - `listen`: `yoco-webhooks listen` end to end: the imitation of Yoco's
//!   API (`fake_yoco`, shared with `registration`), a stand-in for Yoco
//!   posting signed deliveries, and the `axum_receiver` example as the app
//!   (feature `cli`).
//! - [`conformance`]: the idempotency-store contract, checked by the public
//!   `testing::check_store` against the in-memory store (`postgres` and
//!   `redis` run it on theirs); and the check checked: a store with one
//!   flaw per promise, each caught as the matching `ContractViolation`.
//! - `postgres`: `PostgresStore` against a real PostgreSQL server started
//!   by the test (feature `postgres`): the contract, two instances, a
//!   database that goes down, completion inside the merchant's transaction.
//! - `inbox`: the PostgreSQL inbox as processes (feature `postgres`): the
//!   example receivers answering `queued`, worker processes (this test
//!   binary run again) draining one inbox exactly once, a worker passing a
//!   delivery another holds, a worker killed mid-transaction, handlers that
//!   panic and deliveries dropped (each attempt counted, backed off, dead
//!   after the last), retries and dead deliveries retried from the command
//!   line, a database restarted mid-run, a stored delivery changed, a table
//!   of an earlier version migrated.
//! - `redis`: the Redis store against a real `redis-server` (feature
//!   `redis`): the contract, outages, crashes, several instances, and the
//!   `axum_receiver` example twice on one Redis.
//! - `deliveries`: the deliveries the queue tests send (features
//!   `postgres`, `sqs`).
//! - `dynamodb`: the DynamoDB store against moto's server (feature
//!   `dynamodb`): the contract, the table and its time to live, errors,
//!   the requests per delivery, the adapter suite, and two example
//!   receivers on one table.
//! - `moto`: moto's server, the emulator of AWS's APIs, on loopback, for
//!   the DynamoDB and SQS tests (features `dynamodb`, `sqs`), and what an
//!   emulator cannot prove.
//! - `redis_cluster`: the Redis store on a real Redis Cluster of six
//!   `valkey-server` nodes made by `valkey-cli --cluster create` (feature
//!   `redis`): the contract, the adapter suite, two example receivers, the
//!   round trips on the key's node, and a primary killed mid-run.
//! - `sqs`: the SQS queue and worker against moto (feature `sqs`): `queued`
//!   over HTTP, 503 when SQS is down or refuses, FIFO deduplication, a
//!   failing delivery to the dead-letter queue and re-driven by the command
//!   line, Lambda's partial batch answers, round trips counted;
//!   `sqs_processes`: receiver and worker processes on one queue, each
//!   delivery processed once through one DynamoDB table, a killed worker's
//!   delivery processed by another (features `sqs`, `dynamodb`, `redis`).
//! - `servers`: starts every server those tests need (PostgreSQL, Redis,
//!   Valkey, the Lambda emulator, workerd) one way: on a port chosen as it
//!   starts, tried again on a new port, ready when it says so, its log in
//!   the failure, stopped with the run.
//! - [`observe`]: the span and the metrics of every case of the adapter
//!   suite, and nothing secret in them (features `tracing`, `metrics`).
//! - [`readme`]: the testing guide's shell recipe for signing a request by hand,
//!   run against a verifying receiver.
//! - [`alloc`]: verification allocates nothing, and receiving at most 3
//!   times for a processed event, none for a foreign one, counted by this
//!   binary's global allocator below.
//! - [`memory_size`]: the bytes a full `MemoryStore` holds per remembered
//!   delivery, counted by the same allocator.
//!
//! No test depends on timing: they wait for events (a server's own ready
//! line, a sentinel delivery's printed line, a held handler's arrival, a
//! key gone), and their deadlines only bound a failure; concurrent requests
//! overlap because a handler is held, not because it is slow. The few that
//! use the system clock sign "now" and verify within the default tolerance
//! of minutes; the few that let a lease run out wait at least that long.

// Tests assert by unwrapping and indexing; the crate's lints against that are
// for library code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

#[cfg(feature = "actix-web")]
mod actix_web;
mod adapters;
mod alloc;
#[cfg(feature = "axum")]
mod axum;
mod by_value;
mod canaries;
mod conformance;
mod cross_check;
#[cfg(any(feature = "postgres", feature = "sqs"))]
mod deliveries;
#[cfg(feature = "cli")]
mod doctor;
mod duplicate_keys;
#[cfg(feature = "dynamodb")]
mod dynamodb;
mod example_receivers;
#[cfg(feature = "client")]
mod fake_yoco;
#[cfg(feature = "postgres")]
mod inbox;
#[cfg(feature = "lambda")]
mod lambda;
#[cfg(feature = "cli")]
mod listen;
mod memory_size;
#[cfg(any(feature = "dynamodb", feature = "sqs"))]
mod moto;
mod observe;
mod one_reader;
#[cfg(feature = "poem")]
mod poem;
#[cfg(feature = "postgres")]
mod postgres;
mod properties;
mod readme;
mod receive;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_cluster;
#[cfg(feature = "client")]
mod registration;
#[cfg(feature = "rocket")]
mod rocket;
#[cfg(feature = "postgres")]
mod runner;
#[cfg(any(
    feature = "redis",
    feature = "postgres",
    feature = "lambda",
    feature = "worker",
    feature = "dynamodb",
    feature = "sqs"
))]
mod servers;
#[cfg(feature = "sqs")]
mod sqs;
#[cfg(all(feature = "sqs", feature = "dynamodb", feature = "redis"))]
mod sqs_processes;
#[cfg(feature = "tower")]
mod tower;
#[cfg(feature = "cli")]
mod trigger;
mod vectors;
#[cfg(feature = "worker")]
mod worker;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use time::OffsetDateTime;
use yoco_webhooks::Verifier;

thread_local! {
    /// Allocations made by the current thread. Tests run in parallel threads,
    /// so a per-thread count is not disturbed by the others. `const`
    /// initialisation and a `Cell<u64>` (no destructor) mean the counter
    /// itself never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Bytes the current thread allocated and has not freed (what it freed
    /// of another thread's counts against it), as the sizes asked for, not
    /// what the system allocator rounds them up to.
    static LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
}

/// The system allocator, counting each allocation (and reallocation), and
/// the bytes held, on the calling thread.
struct CountingAllocator;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Counts one allocation on this thread. `try_with` because a thread's own
/// teardown may allocate after its thread-locals are gone.
fn count_one() {
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get().wrapping_add(1)));
}

/// Adds `delta` bytes to this thread's live bytes (negative when freed).
fn count_bytes(delta: i64) {
    let _ = LIVE_BYTES.try_with(|bytes| bytes.set(bytes.get().wrapping_add(delta)));
}

/// A size as a signed byte count (no allocation reaches `i64::MAX`).
fn signed(size: usize) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

// The crate forbids `unsafe` in `src/lib.rs`; Cargo.toml's `[lints.rust]` sets
// `unsafe_code = "deny"` (not "forbid") so that this one impl may allow it.
// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; counting touches only a
// thread-local `Cell`.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        count_bytes(signed(layout.size()));
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        count_bytes(signed(layout.size()));
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        count_bytes(signed(new_size).wrapping_sub(signed(layout.size())));
        // SAFETY: as above; `ptr` was allocated by `System` through this type.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count_bytes(signed(layout.size()).wrapping_neg());
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f` and returns how many allocations the current thread made
/// meanwhile, with `f`'s result.
pub(crate) fn count_allocations<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let before = ALLOCATIONS.with(Cell::get);
    let result = f();
    let after = ALLOCATIONS.with(Cell::get);
    (after.wrapping_sub(before), result)
}

/// Runs `f` and returns how many bytes the current thread allocated
/// meanwhile and still holds (the sizes asked for), with `f`'s result.
pub(crate) fn count_live_bytes<R>(f: impl FnOnce() -> R) -> (i64, R) {
    let before = LIVE_BYTES.with(Cell::get);
    let result = f();
    let after = LIVE_BYTES.with(Cell::get);
    (after.wrapping_sub(before), result)
}

/// A UTF-8 JSON body of exactly 16 KiB, with multi-byte characters in it.
pub(crate) fn body_16k() -> Vec<u8> {
    const SIZE: usize = 16 * 1024;
    let mut body = String::from(r#"{"id":"evt_big","note":""#);
    let filler = "Zoë paid R9.00 at the café ☕ ";
    while body.len() + filler.len() + 2 <= SIZE {
        body.push_str(filler);
    }
    while body.len() + 2 < SIZE {
        body.push('x');
    }
    body.push_str(r#""}"#);
    assert_eq!(body.len(), SIZE);
    body.into_bytes()
}

/// The instant `secs` seconds after the Unix epoch.
pub(crate) fn unix(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap()
}

/// `subscriber` as this thread's default until the guard drops: what a
/// test captures of its own thread while other tests run beside it.
///
/// It also holds a second dispatcher: while only one exists, tracing-core
/// asks just the current thread's default about a callsite reached for the
/// first time, so a span first reached by another test's thread (with no
/// subscriber) would be cached as disabled for everyone, this test too.
pub(crate) fn capture_this_thread<S>(subscriber: S) -> ThisThread
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    let second = tracing::Dispatch::new(tracing_subscriber::registry());
    ThisThread {
        _default: tracing::subscriber::set_default(subscriber),
        _second: second,
    }
}

/// The guard of [`capture_this_thread`]; fields drop in this order.
pub(crate) struct ThisThread {
    _default: tracing::subscriber::DefaultGuard,
    _second: tracing::Dispatch,
}

/// `verifier`'s verdict, without the borrowed [`yoco_webhooks::Verified`].
pub(crate) fn verdict<H: yoco_webhooks::headers::Headers + ?Sized>(
    verifier: &Verifier,
    headers: &H,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<(), yoco_webhooks::VerifyError> {
    verifier.verify_at(headers, body, now).map(|_| ())
}

/// An example's binary, which `cargo test` builds beside the test binaries;
/// its environment cleared of the variables the examples read.
fn example_binary(name: &str) -> tokio::process::Command {
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.push("examples");
    path.push(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run the whole suite with `cargo test`",
        path.display()
    );
    let mut command = tokio::process::Command::new(path);
    for variable in [
        "YOCO_WEBHOOK_SECRET",
        "YOCO_WEBHOOK_SECRET_TEST",
        "YOCO_CHECKOUT_IDS",
        "BIND_ADDR",
        "YOCO_SECRET_KEY",
        "YOCO_API_BASE",
        "YOCO_REDIS_URL",
        "YOCO_REDIS_CLUSTER",
        "YOCO_DATABASE_URL",
        "YOCO_DYNAMODB_TABLE",
        "YOCO_INBOX",
        "YOCO_INBOX_WORKERS",
        "YOCO_SQS_QUEUE_URL",
    ] {
        command.env_remove(variable);
    }
    command.kill_on_drop(true);
    command
}
