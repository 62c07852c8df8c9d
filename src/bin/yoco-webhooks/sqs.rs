//! `yoco-webhooks sqs ...`: the dead-letter queue of an SQS queue, with
//! the AWS configuration of the environment (`AWS_REGION`, credentials,
//! `AWS_PROFILE`, `AWS_ENDPOINT_URL`).

use clap::{Args, Subcommand};
use yoco_webhooks::WebhookId;
use yoco_webhooks::sqs::{DeadLetter, SqsQueue};

use crate::described::{amount_text, delivery_fields};
use crate::failure::{Failure, one_line};

#[derive(Debug, Subcommand)]
pub(super) enum SqsCommand {
    /// List the deliveries in the queue's dead-letter queue (its
    /// RedrivePolicy's): each failed every receive the policy allows, or
    /// was refused as not authentic. Listing counts as a receive of each.
    Dead {
        #[command(flatten)]
        queue: Queue,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// One JSON object a line: message_id, webhook_id, event_id, type,
        /// checkout_id, amount (minor units), currency, mode, received_at,
        /// receive_count.
        #[arg(long)]
        json: bool,
    },
    /// Move deliveries from the dead-letter queue back to the queue (each
    /// sent, then deleted), all of them or one `webhook-id`.
    Redrive {
        #[command(flatten)]
        queue: Queue,
        /// Only this delivery, as `dead` shows it.
        #[arg(long)]
        webhook_id: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(super) struct Queue {
    /// The queue's URL (the one the endpoint sends to, not its dead-letter queue).
    #[arg(long)]
    queue: String,
}

pub(super) async fn run(command: SqsCommand) -> Result<(), Failure> {
    match command {
        SqsCommand::Dead { queue, limit, json } => {
            let (_, dead) = queues(&queue).await?;
            let letters = dead.dead_letters(limit).await.map_err(unavailable)?;
            if letters.is_empty() && !json {
                println!("no dead deliveries in {}", dead.url());
            }
            for letter in &letters {
                let line = describe(letter);
                if json {
                    println!("{line}");
                } else {
                    println!("{}", one_line_of(&line));
                }
            }
            Ok(())
        }
        SqsCommand::Redrive { queue, webhook_id } => {
            let (queue, dead) = queues(&queue).await?;
            let id = webhook_id.map(WebhookId::new);
            let moved = dead.redrive_to(&queue, id.as_ref()).await.map_err(unavailable)?;
            println!("moved {moved} deliveries from {} to {}", dead.url(), queue.url());
            match id {
                Some(id) if moved == 0 => Err(Failure(NOT_DEAD, format!("no delivery {id} in the dead-letter queue"))),
                _ => Ok(()),
            }
        }
    }
}

/// The queue and its dead-letter queue.
async fn queues(queue: &Queue) -> Result<(SqsQueue, SqsQueue), Failure> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    if sdk.region().is_none() {
        return Err(Failure(2, "set AWS_REGION (or a profile with a region)".to_owned()));
    }
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), &queue.queue);
    let dead = queue
        .dead_letter_queue()
        .await
        .map_err(unavailable)?
        .ok_or_else(|| Failure(2, format!("{} has no RedrivePolicy: no dead-letter queue", queue.url())))?;
    Ok((queue, dead))
}

/// What a person needs of a dead delivery to find the order; never the
/// signature.
fn describe(letter: &DeadLetter) -> serde_json::Value {
    let mut described = serde_json::Map::new();
    described.insert("message_id".to_owned(), letter.message_id.clone().into());
    described.extend(delivery_fields(letter.stored.as_ref()));
    described.insert("receive_count".to_owned(), letter.receive_count.into());
    serde_json::Value::Object(described)
}

/// `described` on one line: `?` for what the message does not say.
fn one_line_of(described: &serde_json::Value) -> String {
    let text = |key: &str| described[key].as_str().unwrap_or("?").to_owned();
    let amount = amount_text(described);
    format!(
        "{}  {}  checkout={}  amount={amount}  mode={}  event={}  received={}  receives={}  message={}",
        text("webhook_id"),
        text("type"),
        text("checkout_id"),
        text("mode"),
        text("event_id"),
        text("received_at"),
        described["receive_count"],
        text("message_id"),
    )
}

/// The exit code when SQS could not answer.
const QUEUE_UNAVAILABLE: u8 = 4;
/// The exit code of `sqs redrive --webhook-id` when the delivery is not in
/// the dead-letter queue.
const NOT_DEAD: u8 = 5;

/// SQS that could not answer (4), or a queue set up wrong: no such queue,
/// access denied (2).
fn unavailable(err: yoco_webhooks::dedup::StoreError) -> Failure {
    let code = if err.is_configuration() { 2 } else { QUEUE_UNAVAILABLE };
    Failure(code, one_line(&err))
}
