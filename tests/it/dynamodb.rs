//! The DynamoDB store against moto's server (the emulator of AWS's APIs,
//! on loopback): the store contract, the table and its time to live, an
//! item past its time to live that DynamoDB has not deleted yet, errors (a
//! missing table, the emulator down, no credential shown), the requests per
//! delivery, the adapter suite, and two example receivers on one table.
//!
//! An emulator answers DynamoDB's API, conditional writes included; it
//! cannot show AWS's throughput, throttling, latency or consistency under
//! failures, and these tests claim none of them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Credentials, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{AttributeValue, KeyType, TimeToLiveStatus};
use yoco_webhooks::Processed;
use yoco_webhooks::WebhookId;
use yoco_webhooks::dedup::StoreErrorKind::{Configuration, Unavailable};
use yoco_webhooks::dedup::{Claim, Deduplicator, IdempotencyStore};
use yoco_webhooks::dynamodb::{DynamoDbStore, KEY_ATTRIBUTE, TTL_ATTRIBUTE};
use yoco_webhooks::testing::check_store;

use crate::conformance::passed;
use crate::moto::Moto;

/// Credentials of the test's own, to look for in errors (moto checks none).
const ACCESS_KEY: &str = "AKIAYOCOTESTACCESS01";
const SECRET_KEY: &str = "s3cret-Aws-Key-of-the-test";

/// The request each `PutItem`, `UpdateItem`, ... the client sends, by the
/// operation it names (`x-amz-target: DynamoDB_20120810.PutItem`).
#[derive(Debug, Clone, Default)]
struct Requests(Arc<Mutex<Vec<String>>>);

impl Requests {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for Requests {
    fn name(&self) -> &'static str {
        "Requests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context.request().headers().get("x-amz-target").unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

/// A client of `moto`'s, with the test's credentials, counting its requests.
async fn client(moto: &Moto) -> (aws_sdk_dynamodb::Client, Requests) {
    let requests = Requests::default();
    let config = aws_sdk_dynamodb::config::Builder::from(&moto.sdk_config().await)
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
        .interceptor(requests.clone())
        .build();
    (aws_sdk_dynamodb::Client::from_conf(config), requests)
}

/// A store on a new table of the shared server's, and its requests.
async fn store() -> (DynamoDbStore, Requests) {
    let (client, requests) = client(Moto::shared()).await;
    let store = DynamoDbStore::new(client, Moto::unique("deliveries")).unwrap();
    store.create_table().await.unwrap();
    requests.take();
    (store, requests)
}

fn id(text: &str) -> WebhookId {
    WebhookId::new(text)
}

fn now_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dynamodb_store_keeps_the_contract() {
    let (store, _) = store().await;
    passed(check_store(&store).await);
}

#[tokio::test]
async fn create_table_makes_the_key_and_the_time_to_live_and_may_run_again_at_once() {
    let (store, _) = store().await;
    let again = store.clone();
    let (first, second) = tokio::join!(store.create_table(), again.create_table());
    first.unwrap();
    second.unwrap();
    let client = store.client();
    let table = client.describe_table().table_name(store.table()).send().await.unwrap();
    let key = table.table().unwrap().key_schema();
    assert_eq!(key.len(), 1, "{key:?}");
    assert_eq!(key[0].attribute_name(), KEY_ATTRIBUTE);
    assert_eq!(key[0].key_type(), &KeyType::Hash);
    let ttl = client
        .describe_time_to_live()
        .table_name(store.table())
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name(), Some(TTL_ATTRIBUTE));
}

/// DynamoDB deletes an item past its time to live within days, not at
/// once: until then the store treats it as gone. One still within it holds.
#[tokio::test]
async fn an_item_past_its_time_to_live_counts_as_absent() {
    let (store, _) = store().await;
    let item = |webhook_id: &str, state: &str, expires_at: u64| {
        store
            .client()
            .put_item()
            .table_name(store.table())
            .item(KEY_ATTRIBUTE, AttributeValue::S(webhook_id.to_owned()))
            .item("state", AttributeValue::S(state.to_owned()))
            .item("owner", AttributeValue::S("0".repeat(32)))
            .item("lease_until", AttributeValue::N(u64::MAX.to_string()))
            .item(TTL_ATTRIBUTE, AttributeValue::N(expires_at.to_string()))
            .send()
    };
    item("msg_done_expired", "done", now_seconds() - 10).await.unwrap();
    item("msg_claim_expired", "claimed", now_seconds() - 10).await.unwrap();
    item("msg_done", "done", now_seconds() + 600).await.unwrap();
    item("msg_claimed", "claimed", now_seconds() + 600).await.unwrap();
    let lease = Duration::from_secs(60);
    for expired in ["msg_done_expired", "msg_claim_expired"] {
        let claim = store.claim(&id(expired), lease).await.unwrap();
        assert!(matches!(claim, Claim::Acquired(_)), "{expired}: {claim:?}");
    }
    assert_eq!(store.claim(&id("msg_done"), lease).await.unwrap(), Claim::Done);
    assert_eq!(store.claim(&id("msg_claimed"), lease).await.unwrap(), Claim::InProgress);

    // An item of another shape is an error, not a guess.
    item("msg_foreign", "paid", now_seconds() + 600).await.unwrap();
    let err = store.claim(&id("msg_foreign"), lease).await.unwrap_err();
    assert_eq!(err.kind(), Configuration, "{err}");
}

#[tokio::test]
async fn two_requests_per_processed_delivery_and_one_per_duplicate() {
    let (store, requests) = store().await;
    let once = Deduplicator::new(store);
    for n in 0..10 {
        let processed: Processed<(), ()> = once.process(&id(&format!("msg_{n}")), || async { Ok(()) }).await;
        assert!(matches!(processed, Processed::Done { recorded: Ok(()), .. }));
    }
    assert_eq!(
        requests.take(),
        ["PutItem", "UpdateItem"].repeat(10),
        "claim + complete"
    );
    for n in 0..10 {
        let duplicate: Processed<(), ()> = once.process(&id(&format!("msg_{n}")), || async { Ok(()) }).await;
        assert!(matches!(duplicate, Processed::Duplicate));
    }
    assert_eq!(requests.take(), ["PutItem"; 10], "one claim per duplicate");
    let failed: Processed<(), &str> = once.process(&id("msg_failed"), || async { Err("down") }).await;
    assert_eq!(failed.status(), 500);
    assert_eq!(requests.take(), ["PutItem", "DeleteItem"], "claim + release");
    let retry: Processed<(), ()> = once.process(&id("msg_failed"), || async { Ok(()) }).await;
    assert!(matches!(retry, Processed::Done { recorded: Ok(()), .. }), "released");
}

/// Every error names its cause and its kind, keeps the SDK's error as its
/// source, and shows no credential.
fn assert_error(err: &yoco_webhooks::dedup::StoreError, kind: yoco_webhooks::dedup::StoreErrorKind, said: &str) {
    assert_eq!(err.kind(), kind, "{err}");
    assert!(err.to_string().contains(said), "{err}");
    let source = std::error::Error::source(err).expect("the SDK's error as the source");
    for shown in [err.to_string(), format!("{err:?}"), format!("{source} {source:?}")] {
        assert!(!shown.contains(ACCESS_KEY) && !shown.contains(SECRET_KEY), "{shown}");
    }
}

#[tokio::test]
async fn a_missing_table_is_misconfigured_and_no_error_shows_a_credential() {
    let (client, _) = client(Moto::shared()).await;
    let store = DynamoDbStore::new(client, Moto::unique("missing")).unwrap();
    let err = store.claim(&id("msg_1"), Duration::from_secs(60)).await.unwrap_err();
    assert_error(&err, Configuration, "ResourceNotFoundException");
    assert!(
        err.to_string()
            .starts_with("misconfigured: DynamoDB could not claim the delivery: "),
        "{err}"
    );
    assert!(!format!("{store:?}").contains(SECRET_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_down_is_unavailable_within_the_timeout() {
    let moto = Moto::start();
    let (client, _) = client(&moto).await;
    let store = DynamoDbStore::new(client, "deliveries").unwrap();
    store.create_table().await.unwrap();
    let Claim::Acquired(token) = store.claim(&id("msg_1"), Duration::from_secs(60)).await.unwrap() else {
        panic!("not acquired")
    };
    drop(moto);
    let started = std::time::Instant::now();
    let err = store.claim(&id("msg_2"), Duration::from_secs(60)).await.unwrap_err();
    assert_error(&err, Unavailable, "DynamoDB could not claim the delivery");
    let err = store.complete(&token, Duration::from_secs(60)).await.unwrap_err();
    assert_error(&err, Unavailable, "DynamoDB could not complete the delivery");
    let err = store.release(&token).await.unwrap_err();
    assert_error(&err, Unavailable, "DynamoDB could not release the claim");
    assert!(
        started.elapsed() < Duration::from_secs(3 * 3),
        "{:?}",
        started.elapsed()
    );
}

/// The store's timeout is for answering Yoco in time; creating the table
/// at start-up is not bound by it (three workers starting at once on moto
/// once took more than the default 2 s to describe the new table).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_the_table_is_not_bound_by_the_store_s_timeout() {
    let moto = Moto::shared();
    let (client, _) = client(moto).await;
    // No time at all: a call bound by it times out (unless moto's answer is
    // in before the timeout is first polled, which a loaded machine allows:
    // so the deliveries' calls are not tried here; the bound at work on
    // them is `dynamodb_down_is_unavailable_within_the_timeout`).
    let store = DynamoDbStore::new(client, Moto::unique("setup"))
        .unwrap()
        .timeout(Duration::ZERO);
    store.create_table().await.unwrap();
    // The store keeps its bound for the deliveries' calls.
    let bound = store
        .client()
        .config()
        .timeout_config()
        .and_then(|timeouts| timeouts.operation_timeout());
    assert_eq!(bound, Some(Duration::ZERO));
}

/// On moto as `moto_server.py` runs it: its `PutItem` alone evaluates the
/// condition and writes without a lock, and two concurrent claims passed
/// once in about ten runs on a loaded machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_receiver_processes_on_one_table_print_each_delivery_once() {
    let moto = Moto::shared();
    let table = Moto::unique("receivers");
    let endpoint = moto.endpoint();
    crate::example_receivers::two_processes_on_one_store_print_each_delivery_once(
        ["axum_receiver", "actix_receiver"],
        &[
            ("YOCO_DYNAMODB_TABLE", &table),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    )
    .await;
}

/// The shared adapter suite on axum, deduplicating on a table of its own.
#[cfg(feature = "axum")]
mod suite {
    use std::net::SocketAddr;

    use yoco_webhooks::YocoWebhookConfig;

    use crate::adapters::{Recorder, adapter_suite, receiver};

    async fn serve(limit: usize) -> (SocketAddr, Recorder) {
        let (store, _) = super::store().await;
        crate::axum::serve_config(YocoWebhookConfig::new(receiver()).body_limit(limit).with_store(store)).await
    }

    adapter_suite!(serve);
}

/// The example receiver, given a table on a DynamoDB it cannot reach,
/// exits with status 2 and a message naming the variable, no credential.
#[tokio::test]
async fn the_receiver_exits_with_status_2_on_an_unreachable_dynamodb() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    drop(moto);
    let running = crate::example_binary("axum_receiver")
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("YOCO_WEBHOOK_SECRET", yoco_webhooks::testing::TEST_SECRET)
        .env("YOCO_DYNAMODB_TABLE", "deliveries")
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the receiver exits instead of serving")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("YOCO_DYNAMODB_TABLE: creating the table: unavailable: DynamoDB could not create the table"),
        "{stderr}"
    );
    assert!(!stderr.contains(ACCESS_KEY) && !stderr.contains(SECRET_KEY), "{stderr}");
}
