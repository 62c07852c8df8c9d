//! An [`IdempotencyStore`] on a DynamoDB table, for several instances on
//! AWS (Lambda functions, containers, servers): a Yoco retry that reaches
//! another instance, while the first is still working or after it died,
//! sees the same claim. Through the official AWS SDK for Rust: you pass an
//! `aws_sdk_dynamodb::Client` built from your own `aws_config`, which
//! brings the region, the credentials and the HTTP client.
//!
//! ```no_run
//! use yoco_webhooks::YocoWebhookConfig;
//! use yoco_webhooks::dynamodb::{DynamoDbStore, aws_sdk_dynamodb};
//!
//! # async fn run(receiver: yoco_webhooks::Receiver) -> Result<(), yoco_webhooks::dedup::StoreError> {
//! // The region, the credentials and the endpoint as the AWS SDK finds them.
//! let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//! let client = aws_sdk_dynamodb::Client::new(&aws);
//! let store = DynamoDbStore::new(client, "yoco-webhook-deliveries")?;
//! let config = YocoWebhookConfig::new(receiver).with_store(store); // handlers name no store type
//! # Ok(()) }
//! ```
//!
//! # The table
//!
//! One item per delivery, keyed by the `webhook-id`: a partition key
//! [`webhook_id`](KEY_ATTRIBUTE) of type `S`, no sort key, and the time to
//! live enabled on [`expires_at`](TTL_ATTRIBUTE) (`N`, seconds since the
//! Unix epoch), so that DynamoDB forgets deliveries after the retention.
//! Any capacity mode; on-demand suits webhook traffic. With the AWS CLI:
//!
//! ```text
//! aws dynamodb create-table --table-name yoco-webhook-deliveries \
//!     --attribute-definitions AttributeName=webhook_id,AttributeType=S \
//!     --key-schema AttributeName=webhook_id,KeyType=HASH \
//!     --billing-mode PAY_PER_REQUEST
//! aws dynamodb update-time-to-live --table-name yoco-webhook-deliveries \
//!     --time-to-live-specification Enabled=true,AttributeName=expires_at
//! ```
//!
//! [`DynamoDbStore::create_table`] does the same, for development and the
//! examples. The [stores guide](crate::guide::stores) has the
//! CloudFormation and the IAM policy: the store needs `dynamodb:PutItem`,
//! `dynamodb:UpdateItem` and `dynamodb:DeleteItem` on the table, nothing
//! else.
//!
//! An item holds `state` (`claimed` or `done`), `owner` (the claim's owner
//! token), `lease_until` (a claim's end, milliseconds since the epoch) and
//! `expires_at`. Give each application its own table; instances of one
//! application share it.
//!
//! # What it guarantees, call by call
//!
//! Each call is one conditional write, and DynamoDB evaluates a write's
//! condition against the item's latest committed version, atomically with
//! the write (writes go through the partition's leader): the store reads
//! nothing, so it never depends on an eventually consistent read.
//!
//! - **Claim**: one `PutItem` whose condition holds only if the item is
//!   absent, its lease ran out, or it is past its time to live but not yet
//!   deleted (DynamoDB deletes expired items lazily, within days). Of any
//!   number of concurrent claims, one acquires. A refused claim returns the
//!   item it found (`ReturnValuesOnConditionCheckFailure=ALL_OLD`), which
//!   tells done from in progress in the same round trip.
//! - **Completion**: one `UpdateItem` that marks the delivery done until
//!   the retention has passed, only while our claim holds it (or no live
//!   claim or completion does: our lease ran out and no one claimed since).
//!   Done already is `Ok`; another attempt's live claim is an error and
//!   changes nothing.
//! - **Release**: one `DeleteItem`, only while our claim holds the item.
//! - Owner tokens are 128 bits, counted up from a random start drawn when
//!   the store is made, as the Redis store's are.
//! - Every call is bounded by the store's [timeout](DynamoDbStore::timeout)
//!   (default 2 s, the SDK's retries of throttling and server errors
//!   included): a DynamoDB that throttles or cannot be reached gives a
//!   [`StoreError`] (your endpoint answers 503 and Yoco retries), never a
//!   hang. A missing table, refused credentials or a missing permission are
//!   [configuration](crate::dedup::StoreErrorKind::Configuration) errors.
//!   Each error keeps the SDK's as its source; neither holds a credential.
//!
//! Leases are compared against the clock of the instance that writes:
//! DynamoDB's conditions have no clock of their own. Keep the instances'
//! clocks synchronised (AWS's compute is, through the Amazon Time Sync
//! Service); a clock ahead by more than a lease could take over a live
//! claim.
//!
//! # Round trips
//!
//! One request per call: two per processed delivery (`PutItem`, then
//! `UpdateItem` or `DeleteItem`) and one per duplicate (the refused
//! `PutItem`). The SDK retries a throttled or failed request within the
//! timeout.
//!
//! [`IdempotencyStore`]: crate::dedup::IdempotencyStore
//! [`StoreError`]: crate::dedup::StoreError

mod error; // the SDK's errors as `StoreError`s, of their kind
mod item; // the attributes, the conditions and the clock: no I/O
mod store; // `DynamoDbStore`: the store calls
mod table; // `create_table`, for development and the examples

/// The AWS SDK's DynamoDB client this store takes, so that yours is of
/// the same version.
pub use aws_sdk_dynamodb;
pub use item::{KEY_ATTRIBUTE, TTL_ATTRIBUTE};
pub use store::{DEFAULT_TIMEOUT, DynamoDbStore};
