//! The extracted webhook: an authentic delivery for one of the merchant's
//! checkouts, and the protocol that processes it once.

use std::fmt;

use bytes::Bytes;

use super::erased::AnyDeduplicator;
use super::observe::{Observation, Stopwatch, TimedStore};
use crate::dedup::ClaimToken;
use crate::dedup::process::Processed;
use crate::receive::Delivery;

/// An authentic delivery for one of your checkouts, taken from the request.
/// Anything else (not authentic, not an event, not yours, too large) was
/// answered before your handler ran.
///
/// Call [`process`](Self::process) with your handler: it runs at most once
/// per delivery, and its [`Processed`] is the answer to give Yoco.
pub struct YocoWebhook {
    delivery: Delivery,
    body: Bytes,
    dedup: Option<AnyDeduplicator>,
    observation: Observation,
}

impl fmt::Debug for YocoWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YocoWebhook")
            .field("delivery", &self.delivery)
            .field("body_len", &self.body.len())
            .field("dedup", &self.dedup.is_some())
            .finish()
    }
}

impl YocoWebhook {
    pub(crate) fn new(
        delivery: Delivery,
        body: Bytes,
        dedup: Option<AnyDeduplicator>,
        observation: Observation,
    ) -> Self {
        Self {
            delivery,
            body,
            dedup,
            observation,
        }
    }

    /// The delivery: its `webhook-id`, timestamp and typed event.
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// The raw body, as signed, to store or forward.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Answers that the delivery is not yours after all, without processing
    /// it: for a route that finds out itself, say by looking the checkout id
    /// up in its own database, where [`CheckoutFilter`](crate::CheckoutFilter)
    /// cannot. Answered 200 (`ignored: not for this receiver`), so that Yoco
    /// does not retry it, and counted and logged as ignored with `reason`
    /// (a short label: keep it to a few fixed values, as metrics label by
    /// it). Nothing is recorded in the store: a retry is looked up again.
    ///
    /// ```
    /// use yoco_webhooks::{Processed, YocoWebhook};
    ///
    /// async fn route(webhook: YocoWebhook) -> Processed<(), std::io::Error> {
    ///     let known = webhook.delivery().event.checkout_id().is_some_and(|id| id.as_str().starts_with("ch_"));
    ///     if !known {
    ///         return webhook.ignore("unknown_checkout");
    ///     }
    ///     webhook.process(|_delivery| async { Ok(()) }).await
    /// }
    /// ```
    pub fn ignore<T, E: std::fmt::Display>(self, reason: &'static str) -> Processed<T, E> {
        let processed = Processed::Ignored(reason);
        self.observation.processed(&processed, None, None);
        processed
    }

    /// Runs `handler` unless this delivery was processed already or is being
    /// processed elsewhere, and gives the answer for Yoco: an `Err` from the
    /// handler answers 500 and releases the delivery, so that Yoco's retry
    /// processes it. A handler that panics releases it too, and the panic
    /// goes on to the server, whose answer is never 2xx (axum, actix-web,
    /// Poem and hyper drop the connection, Rocket answers 500): Yoco
    /// retries either.
    pub async fn process<F, Fut, T, E>(self, handler: F) -> Processed<T, E>
    where
        F: FnOnce(Delivery) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: std::fmt::Display,
    {
        self.process_claimed(|delivery, _| handler(delivery)).await
    }

    /// [`process`](Self::process), handing `handler` the claim's token too,
    /// so that it can mark the delivery done inside its own database
    /// transaction (see [`Deduplicator::process_claimed`](crate::dedup::Deduplicator::process_claimed)).
    /// The token is `None` when deduplication is off
    /// ([`YocoWebhookConfig::without_dedup`](crate::YocoWebhookConfig::without_dedup)):
    /// there is no claim then, and every delivery, retries included, runs
    /// the handler.
    pub async fn process_claimed<F, Fut, T, E>(self, handler: F) -> Processed<T, E>
    where
        F: FnOnce(Delivery, Option<ClaimToken>) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: std::fmt::Display,
    {
        let Self {
            delivery,
            dedup,
            observation,
            ..
        } = self;
        let mut handler_took = None;
        let took = &mut handler_took;
        let timed_handler = move |delivery, token| {
            let watch = Stopwatch::start();
            let handled = handler(delivery, token);
            async move {
                let result = handled.await;
                *took = watch.elapsed();
                result
            }
        };
        let (processed, store_took) = match dedup {
            Some(dedup) => {
                let dedup = dedup.map_store(TimedStore::new);
                let webhook_id = delivery.webhook_id.clone();
                let processed = observation
                    .in_span(dedup.process_claimed(&webhook_id, |token| timed_handler(delivery, Some(token))))
                    .await;
                (processed, dedup.store().spent())
            }
            None => {
                let processed = match observation.in_span(timed_handler(delivery, None)).await {
                    Ok(value) => Processed::Done {
                        value,
                        recorded: Ok(()),
                    },
                    Err(err) => Processed::Failed(err),
                };
                (processed, None)
            }
        };
        observation.processed(&processed, store_took, handler_took);
        processed
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::dedup::{Deduplicator, MemoryStore};
    use crate::ids::WebhookId;
    use crate::server::erased::erase;

    fn webhook(dedup: Option<AnyDeduplicator>) -> YocoWebhook {
        let body = crate::testing::DOCUMENTED_SAMPLE.as_bytes();
        let secret = crate::WebhookSecret::parse(crate::testing::TEST_SECRET).unwrap();
        let receipt_key = std::sync::Arc::new(crate::verify::receipt::ReceiptKey::derive(&secret));
        let delivery = Delivery {
            webhook_id: WebhookId::new("msg_1"),
            timestamp: time::OffsetDateTime::UNIX_EPOCH,
            secret: crate::SecretName::from("secret-1"),
            event: crate::event::parse(body).unwrap(),
            raw: crate::receive::Raw::new(body, None, b"0", b"v1,", 0, receipt_key),
        };
        YocoWebhook::new(delivery, Bytes::from_static(b"{}"), dedup, Observation::start())
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn without_dedup_the_handler_gets_no_token_and_every_retry_runs() {
        let runs = &AtomicUsize::new(0);
        for _ in 0..2 {
            let answer: Processed<bool, &'static str> =
                block_on(webhook(None).process_claimed(|_, token| async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok(token.is_none())
                }));
            assert!(matches!(answer, Processed::Done { value: true, .. }));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn with_any_store_a_retry_is_a_duplicate() {
        let dedup = erase(Deduplicator::new(MemoryStore::default()));
        let first: Processed<bool, &'static str> = block_on(webhook(Some(dedup.clone())).process_claimed(
            |delivery, token| async move { Ok(token.is_some_and(|token| token.webhook_id() == &delivery.webhook_id)) },
        ));
        assert!(matches!(
            first,
            Processed::Done {
                value: true,
                recorded: Ok(())
            }
        ));
        let retry: Processed<(), &'static str> = block_on(webhook(Some(dedup)).process(|_| async { Err("failed") }));
        assert!(matches!(retry, Processed::Duplicate));
    }
}
