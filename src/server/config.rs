//! How a server receives Yoco webhooks: the receiver, the body limit and the
//! deduplicator, shared by every server integration.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use super::answered::Answered;
use super::erased::{AnyDeduplicator, AnyQueue, erase};
use super::observe::{Observation, Stopwatch, store_call};
use super::rejection::YocoRejection;
use super::webhook::YocoWebhook;
use crate::dedup::{Deduplicator, IdempotencyStore};
use crate::handoff::{DeliveryQueue, Enqueued};
use crate::headers::{Found, Headers, Lookup, SVIX_ID, WEBHOOK_ID, Which, webhook_header};
use crate::receive::{Delivery, Outcome, Receiver};

/// The largest body read by default, 1 MiB. Yoco's events are a few
/// kilobytes, but the sender (Svix) accepts payloads up to about 350 KB:
/// a body over the limit is answered 413 on every retry and never
/// processed. A body is read once, and never past the limit.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// How webhooks are received: the [`Receiver`], the body limit and the
/// deduplication store, whatever the server. On axum put it in your state
/// (or make it `FromRef` of your state); on actix-web register it with
/// `App::app_data`; on Poem add it to the endpoint with `.data(config)`; on
/// a tower stack give it to `YocoWebhookLayer::new`; on AWS Lambda pass it
/// to `lambda::run` or `lambda::handle`;
/// elsewhere pass it to [`http_request::handle`](crate::http_request::handle).
///
/// Deduplication is on by default, in this process's memory
/// ([`MemoryStore`](crate::dedup::MemoryStore)); several instances share a
/// store with [`with_store`](Self::with_store) (Redis, PostgreSQL or your
/// own [`IdempotencyStore`]). The store is not part of the type: handlers
/// name `YocoWebhook` whatever the store. Clones share the receiver and the
/// store.
///
/// To answer Yoco at once and process later, give it a
/// [`DeliveryQueue`] with [`with_queue`](Self::with_queue) (an inbox table
/// on PostgreSQL, `postgres::Inbox`): every verified delivery for your
/// checkouts is then queued and answered 200 `queued` (503 if the queue
/// cannot record it), and the route's handler does not run.
///
/// ```
/// use yoco_webhooks::dedup::MemoryStore;
/// use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret, YocoWebhookConfig};
///
/// let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let receiver = Receiver::new(Verifier::new(secret), CheckoutFilter::checkout("ch_123"));
/// let config = YocoWebhookConfig::new(receiver)
///     .with_store(MemoryStore::with_capacity(10_000)) // or a RedisStore, a PostgresStore, ...
///     .body_limit(64 * 1024);
/// # Ok::<(), yoco_webhooks::SecretError>(())
/// ```
#[derive(Clone)]
pub struct YocoWebhookConfig {
    receiver: Arc<Receiver>,
    dedup: Option<AnyDeduplicator>,
    queue: Option<AnyQueue>,
    body_limit: usize,
}

impl fmt::Debug for YocoWebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YocoWebhookConfig")
            .field("receiver", &self.receiver)
            .field("dedup", &self.dedup.is_some())
            .field("queue", &self.queue.as_ref().map(AnyQueue::kind))
            .field("body_limit", &self.body_limit)
            .finish()
    }
}

impl YocoWebhookConfig {
    /// Receives with `receiver`, deduplicating in this process's memory,
    /// with a body limit of [`DEFAULT_BODY_LIMIT`].
    ///
    /// Not on `wasm32-unknown-unknown`, which has no clock for
    /// [`MemoryStore`](crate::dedup::MemoryStore)'s leases: there, start
    /// from [`new_without_dedup`](Self::new_without_dedup) and give it a
    /// store (on Cloudflare Workers, the `worker` module's Durable Object).
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn new(receiver: Receiver) -> Self {
        Self::new_without_dedup(receiver).with_store(crate::dedup::MemoryStore::default())
    }

    /// Receives with `receiver`, without deduplication until a store is
    /// given ([`with_store`](Self::with_store)), with a body limit of
    /// [`DEFAULT_BODY_LIMIT`]. The constructor on every target, and the one
    /// for a server whose instances share nothing in memory (a Worker).
    pub fn new_without_dedup(receiver: Receiver) -> Self {
        Self {
            receiver: Arc::new(receiver),
            dedup: None,
            queue: None,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Deduplicates in `store` (a shared one, for several instances), with
    /// the default lease and retention.
    #[must_use]
    pub fn with_store<S: IdempotencyStore + 'static>(self, store: S) -> Self {
        self.with_dedup(Deduplicator::new(store))
    }

    /// Deduplicates with `dedup`: a store with its own lease and retention.
    #[must_use]
    pub fn with_dedup<S: IdempotencyStore + 'static>(mut self, dedup: Deduplicator<S>) -> Self {
        self.dedup = Some(erase(dedup));
        self
    }

    /// Turns deduplication off: every authentic delivery runs the handler,
    /// retries included.
    #[must_use]
    pub fn without_dedup(mut self) -> Self {
        self.dedup = None;
        self
    }

    /// Answers now, processes later: queues every verified delivery for
    /// your checkouts in `queue` and answers 200 (`queued`) once it is
    /// recorded, or 503 if the queue could not record it, so that Yoco
    /// retries; the route's handler never runs (an extractor rejects with
    /// [`Answered::Queued`], a tower layer answers without calling its
    /// inner service). Your workers process the queue. Deduplication is
    /// the queue's: a repeated `webhook-id` is queued once.
    ///
    /// ```no_run
    /// # use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret, YocoWebhookConfig};
    /// # async fn start(receiver: Receiver) -> Result<(), Box<dyn std::error::Error>> {
    /// use yoco_webhooks::postgres::Inbox;
    /// use yoco_webhooks::postgres::sqlx::PgPool;
    ///
    /// let inbox = Inbox::new(PgPool::connect(&std::env::var("YOCO_DATABASE_URL")?).await?);
    /// inbox.migrate().await?;
    /// let config = YocoWebhookConfig::new(receiver).with_queue(inbox.clone());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_queue<Q: DeliveryQueue + 'static>(mut self, queue: Q) -> Self {
        self.queue = Some(AnyQueue::new(queue));
        self
    }

    /// The largest body accepted; a larger one is refused with 413 while it
    /// is read (or before, when `content-length` says so).
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The receiver.
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }

    /// The steps before the handler, the same on every server: the method,
    /// the body limit (`content-length` first, then while `read` reads at
    /// most the limit it is given), and the receiver's verdict at the
    /// system clock's time. The delivery to hand to the handler, or why
    /// not; observed either way.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub(crate) async fn extract<H, Read>(
        &self,
        method: &str,
        headers: &H,
        read: impl FnOnce(usize) -> Read,
    ) -> Result<YocoWebhook, Answered>
    where
        H: Headers + ?Sized,
        Read: Future<Output = Result<Bytes, YocoRejection>>,
    {
        self.extract_within(usize::MAX, method, headers, read).await
    }

    /// [`extract`](Self::extract) for a server that has a body limit of its
    /// own: the smaller of the two is the one checked against
    /// `content-length`, given to `read` and checked after it.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub(crate) async fn extract_within<H, Read>(
        &self,
        server_limit: usize,
        method: &str,
        headers: &H,
        read: impl FnOnce(usize) -> Read,
    ) -> Result<YocoWebhook, Answered>
    where
        H: Headers + ?Sized,
        Read: Future<Output = Result<Bytes, YocoRejection>>,
    {
        let clock = crate::verify::unix_now;
        self.extract_at(server_limit, clock, method, headers, read).await
    }

    /// [`extract_within`](Self::extract_within) with the time from `clock`
    /// (Unix seconds), read once the body is: for runtimes that have no
    /// system clock (`wasm32-unknown-unknown`) but a clock of their own (a
    /// Worker's `Date.now()`).
    pub(crate) async fn extract_at<H, Read>(
        &self,
        server_limit: usize,
        clock: impl FnOnce() -> i64,
        method: &str,
        headers: &H,
        read: impl FnOnce(usize) -> Read,
    ) -> Result<YocoWebhook, Answered>
    where
        H: Headers + ?Sized,
        Read: Future<Output = Result<Bytes, YocoRejection>>,
    {
        let mut observation = Observation::start();
        let limit = self.body_limit.min(server_limit);
        match self.steps(limit, clock, method, headers, read).await {
            Ok((delivery, body)) => {
                observation.received(&delivery);
                match &self.queue {
                    None => Ok(YocoWebhook::new(delivery, body, self.dedup.clone(), observation)),
                    Some(queue) => {
                        let answered = enqueue(queue, delivery).await;
                        observation.answered_itself(&answered);
                        Err(answered)
                    }
                }
            }
            Err(answered) => {
                match &answered {
                    // Verified, so its `webhook-id` is authentic and worth a log.
                    Answered::Refused(YocoRejection::NotAnEvent(_)) => {
                        if let Found::One(id) = webhook_header(headers, Which::Id) {
                            observation.authentic_id(id);
                        }
                    }
                    // Not verified: the id it claims, apart, so that the
                    // refusal can be found in the sender's attempt log.
                    Answered::Refused(
                        YocoRejection::NotAuthentic(_)
                        | YocoRejection::BodyTooLarge
                        | YocoRejection::BodyUnreadable(_)
                        | YocoRejection::MethodNotAllowed,
                    ) => {
                        if let Some(id) = claimed_id(headers) {
                            observation.claimed_id(id);
                        }
                    }
                    _ => {}
                }
                if let Answered::Refused(YocoRejection::BodyTooLarge) = answered {
                    observation.over_limit(limit);
                }
                observation.answered_itself(&answered);
                Err(answered)
            }
        }
    }

    async fn steps<H, Read>(
        &self,
        limit: usize,
        clock: impl FnOnce() -> i64,
        method: &str,
        headers: &H,
        read: impl FnOnce(usize) -> Read,
    ) -> Result<(Delivery, Bytes), Answered>
    where
        H: Headers + ?Sized,
        Read: Future<Output = Result<Bytes, YocoRejection>>,
    {
        if method != "POST" {
            return Err(YocoRejection::MethodNotAllowed.into());
        }
        if let Lookup::One(length) = headers.lookup("content-length")
            && declared_over(length, limit)
        {
            return Err(YocoRejection::BodyTooLarge.into());
        }
        let body = read(limit).await?;
        if body.len() > limit {
            return Err(YocoRejection::BodyTooLarge.into());
        }
        match self.receiver.receive_at_unix(headers, &body, clock())? {
            Outcome::Process(delivery) => Ok((delivery, body)),
            Outcome::Ignore(ignored) => Err(Answered::Ignored(ignored)),
        }
    }
}

/// Queues `delivery`: [`Answered::Queued`] once it is recorded, or
/// [`Answered::AlreadyQueued`] when it was there already, both 200;
/// [`YocoRejection::QueueUnavailable`] otherwise, 503.
async fn enqueue(queue: &AnyQueue, delivery: Delivery) -> Answered {
    let watch = Stopwatch::start();
    let queued = queue.enqueue(&delivery.to_stored()).await;
    store_call(queue.kind(), "enqueue", watch.elapsed());
    match queued {
        Ok(Enqueued::New) => Answered::Queued(delivery.webhook_id),
        Ok(Enqueued::AlreadyQueued) => Answered::AlreadyQueued(delivery.webhook_id),
        Err(err) => YocoRejection::QueueUnavailable(err).into(),
    }
}

/// The `webhook-id` (else the `svix-id`) a request claims, before (or
/// without) verification.
fn claimed_id<H: Headers + ?Sized>(headers: &H) -> Option<&[u8]> {
    [WEBHOOK_ID, SVIX_ID]
        .into_iter()
        .find_map(|name| match headers.lookup(name) {
            Lookup::One(id) => Some(id),
            Lookup::Missing | Lookup::Repeated => None,
        })
}

/// Whether a declared `content-length` is over `limit`; one that does not
/// parse is left to the limit applied while reading.
fn declared_over(content_length: &[u8], limit: usize) -> bool {
    std::str::from_utf8(content_length)
        .ok()
        .and_then(|length| length.parse::<u64>().ok())
        .is_some_and(|length| length > limit as u64)
}
