//! Helpers for testing webhook handlers and idempotency stores: a signer
//! that plays Yoco's part, sample events, and the store contract's
//! conformance suite. Behind the `testing` feature; enable it in
//! `[dev-dependencies]`.
//!
//! ```
//! use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
//! use yoco_webhooks::{CheckoutFilter, Outcome, Receiver, Verifier, WebhookSecret};
//!
//! let secret = WebhookSecret::parse(TEST_SECRET)?;
//! let receiver = Receiver::new(Verifier::new(secret.clone()), CheckoutFilter::checkout("ch_mine"));
//!
//! let body = SampleEvent::payment_succeeded().checkout_id("ch_mine").amount(2500).to_json();
//! let headers = Signer::new(secret).sign_now("msg_1", &body);
//! let outcome = receiver.receive(&headers, &body)?;
//! assert!(matches!(outcome, Outcome::Process(_)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Checking a store
//!
//! A store of your own (DynamoDB, MySQL, ...) proves that it keeps the
//! [`IdempotencyStore`](crate::dedup::IdempotencyStore) contract with
//! [`check_store`], the suite every store shipped here passes. Call it from
//! a test, on a store connected to a test database:
//!
//! ```
//! use yoco_webhooks::dedup::MemoryStore;
//! use yoco_webhooks::testing::check_store;
//!
//! // #[tokio::test]
//! async fn my_store_keeps_the_contract() {
//!     let store = MemoryStore::default(); // yours: MyStore::connect(TEST_URL).await
//!     if let Err(violation) = check_store(&store).await {
//!         panic!("{violation}");
//!     }
//! }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(my_store_keeps_the_contract());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! It checks these promises, in this order, and returns the first one
//! broken as a [`ContractViolation`] saying what the store answered:
//!
//! 1. The first claim of a delivery acquires it, with a token that names
//!    it; while that claim is live, another claim answers in progress.
//! 2. Once the owner completes it, the delivery is done, and stays done.
//! 3. Completing it a second time is `Ok`.
//! 4. Once the owner releases it, the next claim acquires it, with a new
//!    owner token.
//! 5. Only the owner completes or releases: a token with another owner
//!    cannot complete (an error) and changes nothing.
//! 6. A claim whose lease ran out (0.2 s, waited for 0.7 s) is taken over
//!    by the next claim; the late owner then cannot complete or release
//!    what the next owner holds, but once the next owner completed, the
//!    late owner's completion is `Ok`.
//! 7. Of 32 claims of one delivery in flight at once, exactly one acquires
//!    it.
//! 8. Ids are opaque and independent: look-alikes (`x:done`, `X`, `x `),
//!    quotes, SQL and glob characters, non-ASCII and two 1 KiB ids that
//!    differ in their last byte each have their own entry.
//!
//! Every call must answer: a [`StoreError`](crate::dedup::StoreError)
//! where the contract expects an answer is [`ContractViolation::Failed`].
//!
//! ## Ids, runtimes and waiting
//!
//! - Each run names its deliveries under a fresh prefix, so that a store
//!   that outlives the test (a shared Redis or database) can run the check
//!   again, and several checks can share one store.
//!   [`StoreCheck::prefix`] sets it.
//! - The check runs the store's futures on the caller's task, so a store
//!   that needs its runtime's context (tokio for redis-rs or sqlx) has it,
//!   on tokio's current-thread or multi-thread runtime, in
//!   `#[actix_web::test]` (tokio underneath), async-std or smol. The 32
//!   concurrent claims are in flight together on that task: they race at
//!   the store's server or lock wherever a call waits. A store that never
//!   waits (in memory) answers them one after another, so test its
//!   atomicity across threads yourself.
//! - To let a lease run out the check waits 0.7 s in real time, on a
//!   helper thread that wakes the task: the executor is not blocked and no
//!   timer of a runtime is needed. [`StoreCheck::with_sleep`] waits with
//!   the runtime's timer instead (`tokio::time::sleep`,
//!   `async_std::task::sleep`), as needed on `wasm32-unknown-unknown`;
//!   [`StoreCheck::expiring_lease`] sets the lease and the wait, for a
//!   store whose clock is coarser (whole seconds).

mod check;
mod promises;
mod sample;
mod signer;
mod violation;

// Playing Yoco's part: the secret, the signer and its headers.
pub use signer::{SignedHeaders, Signer, TEST_SECRET};
// Event bodies to sign.
pub use sample::{DOCUMENTED_SAMPLE, SampleEvent};
// The store contract's conformance suite, and what it finds.
pub use check::StoreCheck;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use check::check_store;
pub use violation::ContractViolation;
