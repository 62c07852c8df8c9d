//! [`DynamoDbStore::create_table`]: the table and its time to live, for
//! development and the examples (in production, your infrastructure as
//! code creates them).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
    TimeToLiveStatus,
};

use super::error::store_error;
use super::item::{KEY_ATTRIBUTE, TTL_ATTRIBUTE};
use super::store::{DynamoDbStore, with_operation_timeout};
use crate::dedup::StoreError;

/// How long [`DynamoDbStore::create_table`] waits for a new table to become
/// active (DynamoDB takes seconds).
const ACTIVE_WITHIN: Duration = Duration::from_secs(60);

/// How long each call of [`DynamoDbStore::create_table`] may take, the
/// SDK's retries included: the store's own timeout is for answering Yoco in
/// time, and a start-up can wait longer (several instances starting at once
/// all describe the new table).
const SETUP_CALL_TIMEOUT: Duration = Duration::from_secs(20);

impl DynamoDbStore {
    /// Creates the store's table unless it exists (on-demand capacity, the
    /// partition key [`KEY_ATTRIBUTE`](super::KEY_ATTRIBUTE)), waits until it
    /// is active, and enables its time to live on
    /// [`TTL_ATTRIBUTE`](super::TTL_ATTRIBUTE) unless it is. Safe to run at
    /// every start, from every instance at once. Its calls are bounded by
    /// 20 s each, not by the store's [timeout](DynamoDbStore::timeout),
    /// which is for answering Yoco in time.
    ///
    /// For development, tests and the examples: in production create the
    /// table with your infrastructure as code (the [module docs](super#the-table)
    /// give it), and give the service no permission to create tables. Needs
    /// `dynamodb:CreateTable`, `DescribeTable`, `DescribeTimeToLive` and
    /// `UpdateTimeToLive`.
    ///
    /// # Errors
    /// [`StoreError`] if DynamoDB refuses or cannot be reached, or the table
    /// is not active within a minute.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let client = with_operation_timeout(&self.client, SETUP_CALL_TIMEOUT);
        let created = client
            .create_table()
            .table_name(self.table.as_ref())
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(KEY_ATTRIBUTE)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|err| StoreError::configuration(format!("the table's key: {err}")))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(KEY_ATTRIBUTE)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(|err| StoreError::configuration(format!("the table's key: {err}")))?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Another instance created it, now or before.
            Err(SdkError::ServiceError(exists)) if exists.err().is_resource_in_use_exception() => {}
            Err(err) => return Err(store_error("DynamoDB could not create the table", err)),
        }
        client
            .wait_until_table_exists()
            .table_name(self.table.as_ref())
            .wait(ACTIVE_WITHIN)
            .await
            .map_err(|err| {
                let message = format!(
                    "the DynamoDB table did not become active: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&err)
                );
                StoreError::with_source(message, err)
            })?;
        self.enable_time_to_live(&client).await
    }

    /// Enables the time to live on [`TTL_ATTRIBUTE`] unless it is (DynamoDB
    /// refuses to enable it twice).
    async fn enable_time_to_live(&self, client: &Client) -> Result<(), StoreError> {
        let described = client
            .describe_time_to_live()
            .table_name(self.table.as_ref())
            .send()
            .await
            .map_err(|err| store_error("DynamoDB could not describe the table's time to live", err))?;
        let enabled = described.time_to_live_description().is_some_and(|ttl| {
            matches!(
                ttl.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            ) && ttl.attribute_name() == Some(TTL_ATTRIBUTE)
        });
        if enabled {
            return Ok(());
        }
        let specification = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .map_err(|err| StoreError::configuration(format!("the table's time to live: {err}")))?;
        match client
            .update_time_to_live()
            .table_name(self.table.as_ref())
            .time_to_live_specification(specification)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Another instance enabled it since we asked.
            Err(SdkError::ServiceError(refused))
                if refused.err().code() == Some("ValidationException")
                    && refused
                        .err()
                        .message()
                        .is_some_and(|said| said.contains("already enabled")) =>
            {
                Ok(())
            }
            Err(err) => Err(store_error("DynamoDB could not enable the table's time to live", err)),
        }
    }
}
