//! [`SqsQueue`]: the endpoint's side. Each verified delivery is one
//! `SendMessage` of its [`StoredDelivery`] as JSON; the endpoint answers
//! 200 `queued` once SQS accepted it, 503 when it did not.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageAttributeValue;

use super::error::sqs_error;
use crate::dedup::StoreError;
use crate::handoff::{DeliveryQueue, Enqueued, StoredDelivery};

/// The message attribute that carries the delivery's `webhook-id`, for
/// operators (the console, `yoco-webhooks sqs dead`): the body says it too.
pub const WEBHOOK_ID_ATTRIBUTE: &str = "webhook_id";

/// SQS's largest message, body and attributes: 1 MiB (256 KiB before
/// August 2025, and still the default of many queues).
pub const SQS_MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// A [`DeliveryQueue`] on an Amazon SQS queue: give it to
/// [`YocoWebhookConfig::with_queue`](crate::YocoWebhookConfig::with_queue)
/// and the endpoint answers Yoco as soon as SQS holds the delivery; an
/// [`SqsWorker`](super::SqsWorker) (a process, or a Lambda function the
/// queue triggers) processes it later. See the
/// [module docs](super) for the queue's settings.
///
/// - **One round trip**: one `SendMessage` per delivery, its body the
///   [`StoredDelivery`] as JSON, with the `webhook-id` in the message
///   attribute [`WEBHOOK_ID_ATTRIBUTE`].
/// - **Standard queue**: SQS delivers each message at least once, and Yoco
///   may send a delivery twice (a retry racing the first attempt), so the
///   queue may hold copies; the worker's [`IdempotencyStore`](crate::dedup::IdempotencyStore)
///   processes each `webhook-id` once. Every enqueue answers
///   [`Enqueued::New`]: SQS cannot say it has seen the delivery.
/// - **FIFO queue** (its URL ends in `.fifo`): the `webhook-id` is the
///   `MessageDeduplicationId`, so a copy sent within SQS's five-minute
///   deduplication window is dropped by SQS; SQS answers a dropped copy as
///   it answers a new message, so this still says [`Enqueued::New`]. The
///   `webhook-id` is the `MessageGroupId` too: each delivery its own group,
///   so that one slow or failing delivery never holds up the others behind
///   it (a FIFO group is processed in order, one message at a time); Yoco
///   promises no order between deliveries anyway. The worker's store is
///   still what makes processing once certain (a retry after five minutes).
/// - **Errors** are [`StoreError`]s: unavailable for throttling, a 5xx, no
///   connection or a timeout; misconfigured for a queue that does not
///   exist, access denied, or a message SQS refuses, such as one larger
///   than the queue's `MaximumMessageSize` (256 KiB for many queues, at
///   most 1 MiB; Yoco's events are a few KiB, but the endpoint accepts
///   bodies up to its body limit, 1 MiB by default, and the stored
///   delivery adds its headers and JSON escapes). A message over
///   [`max_message_bytes`](Self::max_message_bytes) is refused before it
///   is sent. The endpoint answers 503 for each, so a delivery SQS did not
///   take is never acknowledged, and Yoco retries it (and the operator
///   sees a misconfiguration).
///
/// Cloning is cheap: clones share the client.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: Arc<str>,
    fifo: bool,
    max_bytes: usize,
}

impl SqsQueue {
    /// The queue at `queue_url`, through `client` (built from your
    /// `aws_config`, which brings the credentials, the region and the HTTP
    /// client). A URL ending in `.fifo` is a FIFO queue.
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        let url: String = queue_url.into();
        let fifo = url.trim_end_matches('/').ends_with(".fifo");
        Self {
            client,
            url: Arc::from(url),
            fifo,
            max_bytes: SQS_MAX_MESSAGE_BYTES,
        }
    }

    /// The largest message sent, body and attributes, as SQS counts it:
    /// set it to the queue's `MaximumMessageSize` (default
    /// [`SQS_MAX_MESSAGE_BYTES`]). A larger delivery is refused as a
    /// misconfiguration (503) without a round trip.
    #[must_use]
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the queue is FIFO (its URL ends in `.fifo`).
    pub fn is_fifo(&self) -> bool {
        self.fifo
    }

    /// Sends `delivery` as one message: what [`DeliveryQueue::enqueue`] does.
    ///
    /// # Errors
    /// [`StoreError`] if SQS did not accept the message, or did not say.
    pub async fn send(&self, delivery: &StoredDelivery) -> Result<Enqueued, StoreError> {
        let body = serde_json::to_string(delivery)
            .map_err(|err| StoreError::configuration(format!("the delivery could not be written as JSON: {err}")))?;
        self.send_body(body, delivery.webhook_id().as_str(), delivery.webhook_id().as_str())
            .await?;
        Ok(Enqueued::New)
    }

    /// Sends `body` with the `webhook-id` attribute; on a FIFO queue with
    /// `dedup_id` as its deduplication id and the `webhook-id` as its group.
    pub(super) async fn send_body(&self, body: String, webhook_id: &str, dedup_id: &str) -> Result<(), StoreError> {
        // SQS counts the body, and each attribute's name, type and value.
        let size = [body.len(), WEBHOOK_ID_ATTRIBUTE.len(), "String".len(), webhook_id.len()]
            .iter()
            .fold(0_usize, |total, part| total.saturating_add(*part));
        if size > self.max_bytes {
            return Err(StoreError::configuration(format!(
                "the delivery is {size} bytes as a message, over the queue's {} (raise MaximumMessageSize, \
                 at most 1 MiB, and `max_message_bytes`, or lower the endpoint's body limit)",
                self.max_bytes
            )));
        }
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(webhook_id)
            .build()
            .map_err(|err| StoreError::configuration(format!("the message attribute: {err}")))?;
        let mut send = self
            .client
            .send_message()
            .queue_url(self.url.as_ref())
            .message_body(body)
            .message_attributes(WEBHOOK_ID_ATTRIBUTE, attribute);
        if self.fifo {
            send = send.message_group_id(webhook_id).message_deduplication_id(dedup_id);
        }
        send.send()
            .await
            .map_err(|err| sqs_error("SQS did not accept the delivery", err))?;
        Ok(())
    }
}

/// One `SendMessage`; answers [`Enqueued::New`] whenever SQS accepted the
/// message (see [`SqsQueue`] on copies).
impl DeliveryQueue for SqsQueue {
    fn enqueue(&self, delivery: &StoredDelivery) -> impl Future<Output = Result<Enqueued, StoreError>> + Send {
        self.send(delivery)
    }
}

impl fmt::Debug for SqsQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqsQueue")
            .field("url", &self.url)
            .field("fifo", &self.fifo)
            .field("max_message_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::StoreErrorKind;

    /// A client that can send nothing: the checks before a round trip.
    fn client() -> Client {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("eu-west-1"))
            .build();
        Client::from_conf(config)
    }

    #[test]
    fn a_url_ending_in_fifo_is_a_fifo_queue() {
        assert!(SqsQueue::new(client(), "https://sqs.eu-west-1.amazonaws.com/1/yoco.fifo").is_fifo());
        assert!(SqsQueue::new(client(), "https://sqs.eu-west-1.amazonaws.com/1/yoco.fifo/").is_fifo());
        assert!(!SqsQueue::new(client(), "https://sqs.eu-west-1.amazonaws.com/1/yoco").is_fifo());
    }

    #[tokio::test]
    async fn a_message_over_the_limit_is_refused_as_misconfigured_before_it_is_sent() {
        let queue = SqsQueue::new(client(), "http://127.0.0.1:9/q").max_message_bytes(100);
        let refused = queue.send_body("x".repeat(80), "msg_1", "msg_1").await.unwrap_err();
        assert_eq!(refused.kind(), StoreErrorKind::Configuration);
        assert!(
            refused
                .to_string()
                .contains("101 bytes as a message, over the queue's 100"),
            "{refused}"
        );
        let debug = format!("{queue:?}");
        assert!(debug.contains("max_message_bytes: 100"), "{debug}");
    }
}
