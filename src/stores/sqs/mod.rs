//! Answer now, process later, on Amazon SQS: [`SqsQueue`], a
//! [`DeliveryQueue`](crate::DeliveryQueue) the endpoint sends each verified
//! delivery to (200 `queued` once SQS accepted it, 503 when it did not),
//! and [`SqsWorker`], which processes each once through any
//! [`IdempotencyStore`](crate::dedup::IdempotencyStore) (DynamoDB, Redis,
//! PostgreSQL), as a long-polling process or in a Lambda function the
//! queue triggers.
//!
//! ```no_run
//! # async fn run(config: yoco_webhooks::YocoWebhookConfig, store: yoco_webhooks::dedup::MemoryStore, sdk: &aws_sdk_sqs::config::Config) {
//! use yoco_webhooks::Delivery;
//! use yoco_webhooks::sqs::SqsQueue;
//!
//! let queue = SqsQueue::new(aws_sdk_sqs::Client::from_conf(sdk.clone()), "https://sqs.eu-west-1.amazonaws.com/123456789012/yoco");
//! // The endpoint: answers `queued` once SQS holds the delivery.
//! let config = config.clone().with_queue(queue.clone());
//! // The worker (another process, or the same one):
//! let worker = queue.worker(config.receiver().clone(), store, |delivery: Delivery| async move {
//!     println!("paid: {:?}", delivery.event.checkout_id());
//!     Ok::<(), std::io::Error>(())
//! });
//! worker.workers(2).run_until(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # }
//! ```
//!
//! The queue's settings are yours (see the guide's
//! [queues page](crate::guide::queues)): a standard queue (the worker's
//! store deduplicates) or a FIFO one; a visibility timeout equal to the
//! worker's [lease](SqsWorker::lease); a `RedrivePolicy` with a
//! dead-letter queue and a `maxReceiveCount` of 5 or more; for Lambda,
//! `ReportBatchItemFailures`.
//!
//! - `queue`: [`SqsQueue`], the endpoint's side: one `SendMessage` per delivery;
//! - `attempt`: one message's attempt, and the [`SqsHandler`];
//! - `worker`: [`SqsWorker`], long polling, timeouts, shutdown;
//! - `lambda`: [`SqsWorker::handle_batch`], Lambda's SQS event and partial batch answer;
//! - `dead`: the dead-letter queue, listed and moved back;
//! - `error`: the SDK's errors as [`StoreError`](crate::dedup::StoreError)s;
//! - [`observe`]: the span and metrics of each attempt.

mod attempt; // one message: read, checked, processed once, and what becomes of it
mod dead; // the dead-letter queue: found, listed, moved back
mod error; // the SDK's errors as `StoreError`s
mod lambda; // `SqsWorker::handle_batch`: an SQS-triggered Lambda function
pub mod observe; // the span and metrics of each attempt
mod queue; // `SqsQueue`: `SendMessage` per delivery
mod worker; // `SqsWorker`: long polling, timeouts, shutdown

pub use attempt::SqsHandler;
pub use dead::DeadLetter;
pub use queue::{SQS_MAX_MESSAGE_BYTES, SqsQueue, WEBHOOK_ID_ATTRIBUTE};
pub use worker::{DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_SQS_LEASE, SqsWorker};
