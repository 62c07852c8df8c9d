//! The dead-letter queue, for a person: find it from the queue's
//! `RedrivePolicy`, list what is in it, and move deliveries back
//! (`yoco-webhooks sqs dead` and `sqs redrive`, feature `cli`).
//!
//! The move is a receive, a send to the queue and a delete, message by
//! message, rather than SQS's `StartMessageMoveTask`: it can move one
//! `webhook-id` alone, and it works on every SQS-compatible server (moto's
//! emulator has no move tasks).

use std::collections::HashSet;

use aws_sdk_sqs::types::{Message as SqsMessage, MessageSystemAttributeName, QueueAttributeName};

use super::SqsQueue;
use super::error::sqs_error;
use crate::dedup::StoreError;
use crate::handoff::StoredDelivery;
use crate::ids::WebhookId;

/// How long listed or skipped messages stay hidden while a person's
/// command reads the queue; they are made visible again at its end.
const HIDDEN_WHILE_READING: i32 = 30;
/// The most receives one command makes: 10 messages each.
const MAX_RECEIVES: usize = 1_000;

/// A message in a dead-letter queue, as [`SqsQueue::dead_letters`] lists it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeadLetter {
    /// SQS's id of the message.
    pub message_id: String,
    /// How many times SQS gave it out (in the queue, then here).
    pub receive_count: Option<u32>,
    /// The stored delivery, when the body is one (see its `Debug`: never
    /// the signature or the body).
    pub stored: Option<StoredDelivery>,
}

impl SqsQueue {
    /// The dead-letter queue of this queue's `RedrivePolicy`, if it has one.
    ///
    /// # Errors
    /// [`StoreError`] if SQS did not answer or refused (access denied,
    /// no such queue), or the policy does not name a queue.
    pub async fn dead_letter_queue(&self) -> Result<Option<SqsQueue>, StoreError> {
        let attributes = self
            .client()
            .get_queue_attributes()
            .queue_url(self.url())
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|err| sqs_error("SQS did not give the queue's redrive policy", err))?;
        let Some(policy) = attributes
            .attributes()
            .and_then(|attributes| attributes.get(&QueueAttributeName::RedrivePolicy))
        else {
            return Ok(None);
        };
        let policy: serde_json::Value = serde_json::from_str(policy)
            .map_err(|err| StoreError::configuration(format!("the queue's RedrivePolicy is not JSON: {err}")))?;
        let arn = policy
            .get("deadLetterTargetArn")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        // arn:aws:sqs:region:account:name
        let mut parts = arn.rsplit(':');
        let (Some(name), Some(account)) = (parts.next(), parts.next()) else {
            return Err(StoreError::configuration(format!(
                "the queue's RedrivePolicy names no queue: {arn:?}"
            )));
        };
        let url = self
            .client()
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(|err| sqs_error("SQS did not give the dead-letter queue's URL", err))?;
        let url = url
            .queue_url()
            .ok_or_else(|| StoreError::new("SQS gave no URL for the dead-letter queue"))?;
        Ok(Some(SqsQueue::new(self.client().clone(), url)))
    }

    /// Up to `limit` messages of this queue (a dead-letter queue), read
    /// without taking them: each is hidden while the queue is read, then
    /// made visible again. Reading counts as a receive of each.
    ///
    /// # Errors
    /// [`StoreError`] if SQS did not answer.
    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let mut read = Vec::new();
        let mut handles = Vec::new();
        let outcome = self
            .read_all(|message| {
                handles.extend(message.receipt_handle().map(str::to_owned));
                if read.len() >= limit {
                    return false;
                }
                read.push(dead_letter(message));
                true
            })
            .await;
        self.show_again(&handles).await;
        outcome.map(|()| read)
    }

    /// Moves the messages of this queue (a dead-letter queue) to `target`,
    /// only those of `webhook_id` if given, each sent then deleted; says
    /// how many moved. On a FIFO target each is sent with its message id
    /// as the deduplication id, so that SQS does not drop it as a copy of
    /// the first sending.
    ///
    /// # Errors
    /// [`StoreError`] if SQS did not answer: what moved before stays moved.
    pub async fn redrive_to(&self, target: &SqsQueue, webhook_id: Option<&WebhookId>) -> Result<usize, StoreError> {
        let mut chosen = Vec::new();
        let mut skipped = Vec::new();
        let outcome = self
            .read_all(|message| {
                let letter = dead_letter(message);
                let id = letter.stored.as_ref().map(|stored| stored.webhook_id());
                if webhook_id.is_none() || id == webhook_id {
                    chosen.push(message.clone());
                } else {
                    skipped.extend(message.receipt_handle().map(str::to_owned));
                }
                true
            })
            .await;
        let mut moved: usize = 0;
        let mut failed = Ok(());
        for message in &chosen {
            match self.move_one(message, target).await {
                Ok(()) => moved = moved.saturating_add(1),
                Err(err) => {
                    skipped.extend(message.receipt_handle().map(str::to_owned));
                    failed = Err(err);
                    break;
                }
            }
        }
        self.show_again(&skipped).await;
        outcome.and(failed).map(|()| moved)
    }

    async fn move_one(&self, message: &SqsMessage, target: &SqsQueue) -> Result<(), StoreError> {
        let letter = dead_letter(message);
        let webhook_id = match &letter.stored {
            Some(stored) => stored.webhook_id().as_str().to_owned(),
            None => letter.message_id.clone(),
        };
        let body = message.body().unwrap_or_default().to_owned();
        target.send_body(body, &webhook_id, &letter.message_id).await?;
        let handle = message.receipt_handle().unwrap_or_default();
        self.client()
            .delete_message()
            .queue_url(self.url())
            .receipt_handle(handle)
            .send()
            .await
            .map_err(|err| sqs_error("SQS did not delete the moved message from the dead-letter queue", err))?;
        Ok(())
    }

    /// Receives every message once (hidden meanwhile), handing each to
    /// `each` until it says stop or the queue gives nothing new.
    async fn read_all(&self, mut each: impl FnMut(&SqsMessage) -> bool) -> Result<(), StoreError> {
        let mut seen = HashSet::new();
        for _ in 0..MAX_RECEIVES {
            let received = self
                .client()
                .receive_message()
                .queue_url(self.url())
                .max_number_of_messages(10)
                .visibility_timeout(HIDDEN_WHILE_READING)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await
                .map_err(|err| sqs_error("SQS could not give messages", err))?;
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(());
            }
            for message in &messages {
                let new = seen.insert(message.message_id().unwrap_or_default().to_owned());
                if new && !each(message) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Makes hidden messages visible again, as far as SQS lets it (a
    /// message it cannot show again reappears after 30 seconds).
    async fn show_again(&self, handles: &[String]) {
        for handle in handles {
            let _ = self
                .client()
                .change_message_visibility()
                .queue_url(self.url())
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await;
        }
    }
}

fn dead_letter(message: &SqsMessage) -> DeadLetter {
    DeadLetter {
        message_id: message.message_id().unwrap_or_default().to_owned(),
        receive_count: message
            .attributes()
            .and_then(|attributes| attributes.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|count| count.parse().ok()),
        stored: message.body().and_then(|body| serde_json::from_str(body).ok()),
    }
}
