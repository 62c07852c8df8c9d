//! The processing protocol: claim, run the handler, then complete or
//! release, and what became of the delivery.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::Poll;
use std::time::Duration;

use super::store::{Claim, ClaimToken, IdempotencyStore, StoreError};
use crate::ids::WebhookId;

/// How long a claim holds by default before another attempt may take over:
/// 60 seconds, longer than Yoco waits for an answer (15 s), short enough
/// that a retry after a crash is not refused for long.
///
/// While a claim holds, a retry of the same delivery is answered 409 (in
/// progress) and Yoco retries it later. That includes a claim whose call to
/// a shared store timed out: the store may have written it even though the
/// answer never came back (the adapter answered 503), so the retries get 409
/// until this lease ends, and then the delivery is processed.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// How long a completed delivery is remembered by default: 28 hours, beyond
/// Yoco's whole retry schedule (about 27.6 hours).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(28 * 60 * 60);

/// What became of a delivery. With the `http` feature, `status()` and
/// `text()` give the answer for Yoco, and the adapters answer with it.
#[derive(Debug)]
#[must_use]
pub enum Processed<T, E> {
    /// The handler ran and succeeded: answer 200. `recorded` says whether
    /// the store recorded it; if not, a later retry could run it again.
    Done {
        /// The handler's result.
        value: T,
        /// Whether marking the delivery done succeeded.
        recorded: Result<(), StoreError>,
    },
    /// Processed before: answer 200 without running the handler.
    Duplicate,
    /// Not the merchant's after all, as the route's handler found (say, a
    /// checkout id its own database does not know), with why: answer 200,
    /// counted as ignored. See
    /// [`YocoWebhook::ignore`](crate::YocoWebhook::ignore) (feature `http`).
    Ignored(&'static str),
    /// Another attempt is processing it now: answer 409, Yoco retries later.
    InProgress,
    /// The handler failed and the claim was given up: answer 500, so that
    /// Yoco retries.
    Failed(E),
    /// The store could not answer: answer 503, so that Yoco retries.
    StoreUnavailable(StoreError),
}

/// Runs a handler at most once per delivery, with a store.
#[derive(Debug, Clone)]
pub struct Deduplicator<S> {
    store: S,
    lease: Duration,
    retention: Duration,
}

impl<S> Deduplicator<S> {
    /// The same protocol over `f(store)`: how the adapters hold any store
    /// behind one type.
    #[cfg(feature = "http")]
    pub(crate) fn map_store<T>(self, f: impl FnOnce(S) -> T) -> Deduplicator<T> {
        Deduplicator {
            store: f(self.store),
            lease: self.lease,
            retention: self.retention,
        }
    }
}

impl<S: IdempotencyStore> Deduplicator<S> {
    /// Uses `store` with [`DEFAULT_LEASE`] and [`DEFAULT_RETENTION`].
    pub fn new(store: S) -> Self {
        Self {
            store,
            lease: DEFAULT_LEASE,
            retention: DEFAULT_RETENTION,
        }
    }

    /// How long a claim holds. Keep it longer than your handler ever runs:
    /// past it, a retry may run the handler a second time.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a processed delivery is remembered.
    #[must_use]
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Claims the delivery, runs `handler` if the claim is ours, and marks the
    /// delivery done if it succeeded or gives the claim up if it failed. A
    /// handler that panics gives the claim up too, and the panic goes on to
    /// the caller (the server, which drops the connection or answers 500):
    /// Yoco's retry is processed rather than answered 409 until the lease
    /// ends.
    pub async fn process<F, Fut, T, E>(&self, webhook_id: &WebhookId, handler: F) -> Processed<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.process_claimed(webhook_id, |_| handler()).await
    }

    /// [`process`](Self::process), handing the handler its [`ClaimToken`],
    /// so that it can mark the delivery done itself, inside its own database
    /// transaction (as `PostgresStore::complete_in` does, feature
    /// `postgres`): the merchant's changes and "processed" then commit
    /// together or not at all. Afterwards this method's own completion finds
    /// the delivery done and is a no-op; if the handler's transaction rolled
    /// back, the claim is still held and a failing handler releases it.
    pub async fn process_claimed<F, Fut, T, E>(&self, webhook_id: &WebhookId, handler: F) -> Processed<T, E>
    where
        F: FnOnce(ClaimToken) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let token = match self.store.claim(webhook_id, self.lease).await {
            Ok(Claim::Acquired(token)) => token,
            Ok(Claim::Done) => return Processed::Duplicate,
            Ok(Claim::InProgress) => return Processed::InProgress,
            Err(err) => return Processed::StoreUnavailable(err),
        };
        let mut handled = std::pin::pin!(handler(token.clone().with_retention(self.retention)));
        // A panic in the handler gives the claim up as an `Err` does, then
        // goes on to the server: otherwise every retry would be answered
        // 409 until the lease ran out.
        let outcome =
            std::future::poll_fn(
                |cx| match std::panic::catch_unwind(AssertUnwindSafe(|| handled.as_mut().poll(cx))) {
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
                    Err(panic) => Poll::Ready(Err(panic)),
                },
            )
            .await;
        let result = match outcome {
            Ok(result) => result,
            Err(panic) => {
                let _ = self.store.release(&token).await;
                std::panic::resume_unwind(panic);
            }
        };
        match result {
            Ok(value) => Processed::Done {
                value,
                recorded: self.store.complete(&token, self.retention).await,
            },
            Err(err) => {
                // If the release fails too, the lease runs out and a later
                // retry processes the delivery.
                let _ = self.store.release(&token).await;
                Processed::Failed(err)
            }
        }
    }
}

/// A handler's panic as an error, with its message when it is text: what
/// the workers (the inbox's, SQS's) record when a handler panics.
#[cfg(any(feature = "postgres", feature = "sqs"))]
pub(crate) fn panicked(panic: &(dyn std::any::Any + Send)) -> String {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str));
    match message {
        Some(message) => format!("the handler panicked: {message}"),
        None => "the handler panicked".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::dedup::MemoryStore;
    use crate::dedup::test_support::{block_on, id};

    #[test]
    fn the_protocol_answers_each_case() {
        let once = Deduplicator::new(MemoryStore::default());
        let runs = AtomicUsize::new(0);
        block_on(async {
            let handler = || async {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok::<_, &str>("stored")
            };
            let first = once.process(&id("a"), handler).await;
            assert!(matches!(
                &first,
                Processed::Done {
                    value: "stored",
                    recorded: Ok(())
                }
            ));
            assert!(matches!(once.process(&id("a"), handler).await, Processed::Duplicate));
            assert_eq!(runs.load(Ordering::SeqCst), 1, "a duplicate must not run the handler");

            let failed = once.process(&id("b"), || async { Err::<(), _>("database down") }).await;
            assert!(matches!(failed, Processed::Failed("database down")));
            assert!(
                matches!(once.process(&id("b"), handler).await, Processed::Done { .. }),
                "released, so the retry processes"
            );
            assert_eq!(runs.load(Ordering::SeqCst), 2);

            let Claim::Acquired(_held) = once.store().claim(&id("c"), DEFAULT_LEASE).await.unwrap() else {
                panic!()
            };
            let busy = once.process(&id("c"), handler).await;
            assert!(matches!(busy, Processed::InProgress));
        });
    }

    #[test]
    fn the_handlers_token_carries_the_configured_retention() {
        let retention = Duration::from_secs(90);
        let once = Deduplicator::new(MemoryStore::default()).retention(retention);
        block_on(async {
            let seen = once
                .process_claimed(&id("r"), |token| async move { Ok::<_, &str>(token.retention()) })
                .await;
            assert!(matches!(seen, Processed::Done { value: Some(kept), .. } if kept == retention));
            let made_by_a_store = ClaimToken::new(id("r"), "owner");
            assert_eq!(made_by_a_store.retention(), None);
            assert_eq!(
                made_by_a_store.clone().with_retention(retention),
                made_by_a_store,
                "not part of the claim"
            );
        });
    }

    #[test]
    fn a_panicking_handler_gives_its_claim_up_and_the_panic_goes_on() {
        let once = Deduplicator::new(MemoryStore::default());
        let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
            block_on(once.process(&id("a"), || async {
                panic!("the handler panicked");
                #[allow(unreachable_code)]
                Ok::<(), ()>(())
            }))
        }));
        assert!(panicked.is_err(), "the panic goes on to the caller");
        let retry = block_on(once.process(&id("a"), || async { Ok::<_, ()>(()) }));
        assert!(
            matches!(retry, Processed::Done { recorded: Ok(()), .. }),
            "released, so the retry processes: {retry:?}"
        );
    }

    #[test]
    fn the_handler_gets_its_claim_and_may_complete_it_itself() {
        let once = &Deduplicator::new(MemoryStore::default());
        block_on(async {
            let done = once
                .process_claimed(&id("a"), |token| async move {
                    assert_eq!(token.webhook_id(), &id("a"));
                    // As a store completing inside the handler's transaction would.
                    once.store()
                        .complete(&token, DEFAULT_RETENTION)
                        .await
                        .map_err(|_| "store")
                })
                .await;
            assert!(matches!(done, Processed::Done { recorded: Ok(()), .. }), "{done:?}");
            assert!(matches!(
                once.process(&id("a"), || async { Err::<(), _>("ran") }).await,
                Processed::Duplicate
            ));

            let failed = once
                .process_claimed(&id("b"), |_token| async { Err::<(), _>("rolled back") })
                .await;
            assert!(matches!(failed, Processed::Failed("rolled back")));
            assert!(
                matches!(
                    once.store().claim(&id("b"), DEFAULT_LEASE).await.unwrap(),
                    Claim::Acquired(_)
                ),
                "released"
            );
        });
    }

    /// A store that cannot answer.
    struct Down;

    impl IdempotencyStore for Down {
        fn claim(&self, _: &WebhookId, _: Duration) -> impl Future<Output = Result<Claim, StoreError>> + Send {
            std::future::ready(Err(StoreError::new("connection refused")))
        }
        fn complete(&self, _: &ClaimToken, _: Duration) -> impl Future<Output = Result<(), StoreError>> + Send {
            std::future::ready(Err(StoreError::new("connection refused")))
        }
        fn release(&self, _: &ClaimToken) -> impl Future<Output = Result<(), StoreError>> + Send {
            std::future::ready(Err(StoreError::new("connection refused")))
        }
    }

    #[test]
    fn a_store_that_cannot_answer_means_no_processing() {
        let once = Deduplicator::new(Arc::new(Down));
        let ran = AtomicUsize::new(0);
        let outcome = block_on(once.process(&id("a"), || async {
            ran.fetch_add(1, Ordering::SeqCst);
            Ok::<(), ()>(())
        }));
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        let Processed::StoreUnavailable(err) = outcome else {
            panic!("not a store error")
        };
        assert_eq!(err.to_string(), "unavailable: connection refused");
    }
}
