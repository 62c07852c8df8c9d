//! [`DynamoDbStore`]: the [`IdempotencyStore`] calls, each one conditional
//! write (`PutItem`, `UpdateItem`, `DeleteItem`) of the
//! [item's expressions](super::item), bounded by the store's timeout.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::error::store_error;
use super::item::{
    CLAIM_CONDITION, CLAIMED, COMPLETE_CONDITION, COMPLETE_UPDATE, DONE, Found, KEY_ATTRIBUTE, LEASE_UNTIL, Now, OWNER,
    RELEASE_CONDITION, STATE, TTL_ATTRIBUTE, expires_at, foreign_item, found, number,
};
use crate::dedup::{Claim, ClaimToken, IdempotencyStore, StoreError};
use crate::ids::WebhookId;
use crate::stores::owners::Owners;

/// How long a store call may take by default, the SDK's retries included:
/// far below the 15 s Yoco waits for an answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// An [`IdempotencyStore`] on a DynamoDB table, shared by every instance
/// (Lambda function, container, server) that uses the same table. Cheap to
/// clone: clones share the client.
///
/// See the [module docs](super) for the table, the guarantees and the
/// permissions it needs.
#[derive(Clone)]
pub struct DynamoDbStore {
    pub(super) client: Client,
    pub(super) table: Arc<str>,
    owners: Arc<Owners>,
}

impl DynamoDbStore {
    /// A store on the table `table`, through `client` (built from your
    /// `aws_config`, which brings the region, the credentials and the HTTP
    /// client). Each call is bounded by [`DEFAULT_TIMEOUT`] (see
    /// [`timeout`](Self::timeout)).
    ///
    /// # Errors
    /// [`StoreError`] if the system has no randomness for the owner tokens.
    pub fn new(client: Client, table: impl Into<String>) -> Result<Self, StoreError> {
        let store = Self {
            client,
            table: Arc::from(table.into()),
            owners: Arc::new(Owners::new()?),
        };
        Ok(store.timeout(DEFAULT_TIMEOUT))
    }

    /// The longest a store call may take, the SDK's retries included
    /// (default [`DEFAULT_TIMEOUT`]): the client's operation timeout for this
    /// store's calls, its other timeouts kept. Past it the call fails with a
    /// [`StoreError`], so that your endpoint answers 503 well within the 15 s
    /// Yoco waits. A client without an async sleep (one configured without
    /// retries or timeouts) is left as it is, bounded by its own settings.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.client = with_operation_timeout(&self.client, timeout);
        self
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The client, with the store's timeout.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn claim_now(&self, webhook_id: &WebhookId, lease: Duration) -> Result<Claim, StoreError> {
        let now = Now::read()?;
        let lease_until = now.after(lease, "lease")?;
        let token = ClaimToken::new(webhook_id.clone(), self.owners.next());
        let put = self
            .client
            .put_item()
            .table_name(self.table.as_ref())
            .item(KEY_ATTRIBUTE, AttributeValue::S(webhook_id.as_str().to_owned()))
            .item(STATE, AttributeValue::S(CLAIMED.to_owned()))
            .item(OWNER, AttributeValue::S(token.owner().to_owned()))
            .item(LEASE_UNTIL, number(lease_until))
            .item(TTL_ATTRIBUTE, expires_at(lease_until))
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_names("#id", KEY_ATTRIBUTE)
            .expression_attribute_names("#expires", TTL_ATTRIBUTE)
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_values(":now_s", now.seconds())
            .expression_attribute_values(":now_ms", now.millis())
            .expression_attribute_values(":claimed", AttributeValue::S(CLAIMED.to_owned()))
            // A refusal returns the item it found: done or claimed, in the
            // same round trip.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::Acquired(token)),
            Err(SdkError::ServiceError(refused)) if refused.err().is_conditional_check_failed_exception() => {
                let item = match refused.err() {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failed) => {
                        failed.item()
                    }
                    _ => None,
                };
                match found(item) {
                    Found::Done => Ok(Claim::Done),
                    Found::Claimed => Ok(Claim::InProgress),
                    Found::Other => Err(foreign_item()),
                }
            }
            Err(err) => Err(store_error("DynamoDB could not claim the delivery", err)),
        }
    }

    async fn complete_now(&self, token: &ClaimToken, retention: Duration) -> Result<(), StoreError> {
        let now = Now::read()?;
        let done_until = now.after(retention, "retention")?;
        let update = self
            .client
            .update_item()
            .table_name(self.table.as_ref())
            .key(KEY_ATTRIBUTE, AttributeValue::S(token.webhook_id().as_str().to_owned()))
            .update_expression(COMPLETE_UPDATE)
            .condition_expression(COMPLETE_CONDITION)
            .expression_attribute_names("#id", KEY_ATTRIBUTE)
            .expression_attribute_names("#expires", TTL_ATTRIBUTE)
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_values(":now_s", now.seconds())
            .expression_attribute_values(":now_ms", now.millis())
            .expression_attribute_values(":claimed", AttributeValue::S(CLAIMED.to_owned()))
            .expression_attribute_values(":done", AttributeValue::S(DONE.to_owned()))
            .expression_attribute_values(":owner", AttributeValue::S(token.owner().to_owned()))
            .expression_attribute_values(":expires", expires_at(done_until))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match update {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(refused)) if refused.err().is_conditional_check_failed_exception() => {
                let item = match refused.err() {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                        failed,
                    ) => failed.item(),
                    _ => None,
                };
                match found(item) {
                    // Done already: by this claim (a second call) or by
                    // another attempt whose lease outlived ours.
                    Found::Done => Ok(()),
                    Found::Claimed => Err(StoreError::new("the claim is held by another attempt")),
                    Found::Other => Err(foreign_item()),
                }
            }
            Err(err) => Err(store_error("DynamoDB could not complete the delivery", err)),
        }
    }

    async fn release_now(&self, token: &ClaimToken) -> Result<(), StoreError> {
        let delete = self
            .client
            .delete_item()
            .table_name(self.table.as_ref())
            .key(KEY_ATTRIBUTE, AttributeValue::S(token.webhook_id().as_str().to_owned()))
            .condition_expression(RELEASE_CONDITION)
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":claimed", AttributeValue::S(CLAIMED.to_owned()))
            .expression_attribute_values(":owner", AttributeValue::S(token.owner().to_owned()))
            .send()
            .await;
        match delete {
            // Refused: the claim is no longer ours, so nothing to give up.
            Err(SdkError::ServiceError(refused)) if refused.err().is_conditional_check_failed_exception() => Ok(()),
            Err(err) => Err(store_error("DynamoDB could not release the claim", err)),
            Ok(_) => Ok(()),
        }
    }
}

/// `client` with `timeout` as its operation timeout, its other timeouts
/// kept. A client without an async sleep (one configured without retries
/// or timeouts) is returned as it is: without one to wait on, the SDK would
/// refuse a timeout.
pub(super) fn with_operation_timeout(client: &Client, timeout: Duration) -> Client {
    let config = client.config();
    if config.sleep_impl().is_none() {
        return client.clone();
    }
    let mut timeouts = TimeoutConfig::builder().operation_timeout(timeout);
    if let Some(theirs) = config.timeout_config() {
        timeouts = timeouts.take_unset_from(theirs.to_builder());
    }
    Client::from_conf(config.to_builder().timeout_config(timeouts.build()).build())
}

impl IdempotencyStore for DynamoDbStore {
    fn claim(&self, webhook_id: &WebhookId, lease: Duration) -> impl Future<Output = Result<Claim, StoreError>> + Send {
        self.claim_now(webhook_id, lease)
    }

    fn complete(&self, token: &ClaimToken, retention: Duration) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.complete_now(token, retention)
    }

    fn release(&self, token: &ClaimToken) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.release_now(token)
    }
}

// By hand: the client's configuration (its credentials provider) stays out.
impl fmt::Debug for DynamoDbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoDbStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}
