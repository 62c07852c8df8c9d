//! The shared stores: deduplication across instances on Redis or Valkey
//! (`redis`), and on PostgreSQL with the inbox queue (`postgres`). Each is
//! public at the crate's root (`yoco_webhooks::redis`, ...).

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqs")]
pub mod sqs;
