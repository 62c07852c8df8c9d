//! The shared stores: deduplication across instances on Redis or Valkey
//! (`redis`), on PostgreSQL with the inbox queue (`postgres`), and on
//! DynamoDB (`dynamodb`). Each is public at the crate's root
//! (`yoco_webhooks::redis`, ...).

#[cfg(any(feature = "postgres", feature = "sqs"))]
mod attempt_report; // what a queue's worker reports of each attempt
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(any(feature = "redis", feature = "dynamodb"))]
mod owners; // the owner tokens of claims, for the stores that draw their own
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqs")]
pub mod sqs;
