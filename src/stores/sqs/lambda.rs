//! [`SqsWorker::handle_batch`]: the worker in a Lambda function that the
//! queue triggers. Lambda receives the messages and deletes those the
//! function does not name as failed; the function names the others.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};

use super::SqsWorker;
use super::attempt::{Message, SqsHandler};
use crate::dedup::IdempotencyStore;

/// The attribute Lambda's SQS event carries the receive count in.
const RECEIVE_COUNT: &str = "ApproximateReceiveCount";

impl<S: IdempotencyStore + 'static, H: SqsHandler> SqsWorker<S, H> {
    /// Processes a Lambda function's SQS event, each message as
    /// [`run_until`](Self::run_until) does (all at once), and names the
    /// messages to keep in the answer's `batch_item_failures`: the failed,
    /// the refused and the unreadable ones, and those whose store did not
    /// answer. Lambda deletes the others.
    ///
    /// Configure the event source mapping with
    /// `FunctionResponseTypes: ["ReportBatchItemFailures"]`: without it
    /// Lambda ignores the answer, deletes the whole batch when the
    /// function returns, and a failed delivery is lost. Keep the
    /// function's timeout below the queue's visibility timeout (AWS
    /// suggests six times below), and the attempt timeout below the
    /// function's. The SQS client of the [`SqsQueue`](super::SqsQueue) is
    /// not used here: Lambda receives and deletes.
    ///
    /// ```no_run
    /// use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
    /// # use yoco_webhooks::{Delivery, Receiver, dedup::MemoryStore};
    /// # use yoco_webhooks::sqs::{SqsQueue, SqsWorker};
    /// # type Handler = fn(Delivery) -> std::future::Ready<Result<(), std::io::Error>>;
    /// // In `main`: the worker, then
    /// // `lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| on_batch(&worker, event.payload)))`.
    /// async fn on_batch(
    ///     worker: &SqsWorker<MemoryStore, Handler>,
    ///     event: SqsEvent,
    /// ) -> Result<SqsBatchResponse, std::convert::Infallible> {
    ///     Ok(worker.handle_batch(event).await)
    /// }
    /// ```
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        let attempts = event.records.iter().map(|record| async move {
            let receive_count = record
                .attributes
                .get(RECEIVE_COUNT)
                .and_then(|count| count.parse().ok());
            let message = Message {
                message_id: record.message_id.as_deref().unwrap_or_default(),
                body: record.body.as_deref(),
                receive_count,
            };
            let result = self.attempts().attempt(&message, std::future::pending()).await;
            (!result.settled()).then(|| failed_id(record))
        });
        let failed = futures_util::future::join_all(attempts).await;
        let mut answer = SqsBatchResponse::default();
        for id in failed.into_iter().flatten() {
            answer.add_failure(id);
        }
        answer
    }
}

/// The id Lambda keeps the message by. A record without one is named by
/// an empty id, which Lambda takes as the whole batch failed: kept, not
/// lost.
fn failed_id(record: &SqsMessage) -> String {
    record.message_id.clone().unwrap_or_default()
}
