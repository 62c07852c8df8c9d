//! Where the example receivers deduplicate: in memory, or in a store shared
//! by every instance, chosen from the environment when the server starts;
//! or, with `YOCO_INBOX=postgres`, the PostgreSQL inbox: answer at once,
//! process in worker tasks; or, with `YOCO_SQS_QUEUE_URL`, an SQS queue that
//! the `sqs_worker` example drains.

use yoco_webhooks::YocoWebhookConfig;

/// `config` answering from where the environment says: `YOCO_SQS_QUEUE_URL`
/// (feature `sqs`) or `YOCO_INBOX=postgres` (feature `postgres`) queue each
/// delivery for workers; otherwise it is processed at once, deduplicated in
/// the store [`SharedStore::from_env`] names. The error names the variable,
/// never its value.
pub(crate) async fn with_store_from_env(config: YocoWebhookConfig) -> Result<YocoWebhookConfig, String> {
    if let Some(url) = non_empty_var("YOCO_SQS_QUEUE_URL") {
        return sqs(config, &url).await;
    }
    match non_empty_var("YOCO_INBOX").as_deref() {
        None => {}
        Some("postgres") => {
            let url = non_empty_var("YOCO_DATABASE_URL")
                .ok_or("YOCO_INBOX=postgres needs YOCO_DATABASE_URL, the inbox's database")?;
            return inbox(config, &url).await;
        }
        Some(_) => return Err("YOCO_INBOX: the one inbox is `postgres` (with YOCO_DATABASE_URL)".to_owned()),
    }
    Ok(match SharedStore::from_env().await? {
        // The configuration's own memory store, as without the example.
        SharedStore::Memory(_) => config,
        #[allow(unreachable_patterns, reason = "a build without a shared store's feature")]
        store => config.with_store(store),
    })
}

/// A store shared by every instance, as the environment names it: for the
/// receivers, which process at once, and for the `sqs_worker` example.
pub(crate) enum SharedStore {
    #[cfg(feature = "redis")]
    Redis(yoco_webhooks::redis::RedisStore),
    #[cfg(feature = "postgres")]
    Postgres(yoco_webhooks::postgres::PostgresStore),
    #[cfg(feature = "dynamodb")]
    DynamoDb(yoco_webhooks::dynamodb::DynamoDbStore),
    Memory(yoco_webhooks::dedup::MemoryStore),
}

impl SharedStore {
    /// `YOCO_REDIS_URL` for Redis, `YOCO_REDIS_CLUSTER` for a Redis Cluster
    /// (its nodes' `redis://host:port` URLs, comma-separated; both feature
    /// `redis`), `YOCO_DATABASE_URL` for PostgreSQL (feature `postgres`),
    /// `YOCO_DYNAMODB_TABLE` for DynamoDB (feature `dynamodb`), else in
    /// memory, which it says on stderr. The store is connected (its table
    /// created, for PostgreSQL and DynamoDB).
    pub(crate) async fn from_env() -> Result<Self, String> {
        if let Some(url) = non_empty_var("YOCO_REDIS_URL") {
            return redis(&url).await;
        }
        if let Some(nodes) = non_empty_var("YOCO_REDIS_CLUSTER") {
            return redis_cluster(&nodes).await;
        }
        if let Some(url) = non_empty_var("YOCO_DATABASE_URL") {
            return postgres(&url).await;
        }
        if let Some(table) = non_empty_var("YOCO_DYNAMODB_TABLE") {
            return dynamodb(&table).await;
        }
        eprintln!("{IN_MEMORY_WARNING}");
        Ok(Self::Memory(yoco_webhooks::dedup::MemoryStore::default()))
    }
}

/// Each call goes to the store the environment chose.
macro_rules! to_the_store {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            #[cfg(feature = "redis")]
            Self::Redis($store) => $call,
            #[cfg(feature = "postgres")]
            Self::Postgres($store) => $call,
            #[cfg(feature = "dynamodb")]
            Self::DynamoDb($store) => $call,
            Self::Memory($store) => $call,
        }
    };
}

impl SharedStore {
    /// DynamoDB's calls bounded by `timeout` instead of the store's 2 s,
    /// which is for answering Yoco in time: a worker answers no one, and a
    /// call it gives up on costs the delivery a visibility timeout. The
    /// other stores keep their own bounds.
    #[allow(dead_code, reason = "for the sqs_worker, not the receivers")]
    #[cfg_attr(not(feature = "dynamodb"), allow(unused_variables))]
    pub(crate) fn with_timeout(self, timeout: std::time::Duration) -> Self {
        match self {
            #[cfg(feature = "dynamodb")]
            Self::DynamoDb(store) => Self::DynamoDb(store.timeout(timeout)),
            other => other,
        }
    }
}

impl yoco_webhooks::dedup::IdempotencyStore for SharedStore {
    async fn claim(
        &self,
        webhook_id: &yoco_webhooks::WebhookId,
        lease: std::time::Duration,
    ) -> Result<yoco_webhooks::dedup::Claim, yoco_webhooks::dedup::StoreError> {
        to_the_store!(self, store => store.claim(webhook_id, lease).await)
    }

    async fn complete(
        &self,
        token: &yoco_webhooks::dedup::ClaimToken,
        retention: std::time::Duration,
    ) -> Result<(), yoco_webhooks::dedup::StoreError> {
        to_the_store!(self, store => store.complete(token, retention).await)
    }

    async fn release(&self, token: &yoco_webhooks::dedup::ClaimToken) -> Result<(), yoco_webhooks::dedup::StoreError> {
        to_the_store!(self, store => store.release(token).await)
    }
}

/// What a receiver says at start-up when it deduplicates in its own memory.
pub(crate) const IN_MEMORY_WARNING: &str = "warning: deduplication is in this process's memory: a restart \
     forgets what was processed, so a retry that spans a deploy (or reaches another instance) is processed \
     again; set YOCO_REDIS_URL (Redis, feature `redis`), YOCO_REDIS_CLUSTER (a Redis Cluster's nodes, feature \
     `redis`), YOCO_DATABASE_URL (PostgreSQL, feature `postgres`) or YOCO_DYNAMODB_TABLE (DynamoDB, feature \
     `dynamodb`) to share a store";

#[cfg(feature = "redis")]
async fn redis(url: &str) -> Result<SharedStore, String> {
    // The error never contains the URL, so the password stays out of logs;
    // it says what went wrong, and whether the URL or the server is at fault.
    let store = yoco_webhooks::redis::RedisStore::connect(url)
        .await
        .map_err(|err| format!("YOCO_REDIS_URL: {}", with_causes(&err)))?;
    Ok(SharedStore::Redis(store))
}

#[cfg(not(feature = "redis"))]
async fn redis(_url: &str) -> Result<SharedStore, String> {
    Err("YOCO_REDIS_URL is set, but this build has no Redis support: add --features redis".to_owned())
}

/// The Redis Cluster whose nodes `nodes` lists (comma-separated URLs).
#[cfg(feature = "redis")]
async fn redis_cluster(nodes: &str) -> Result<SharedStore, String> {
    // As for one server: the error never contains a URL.
    let nodes = nodes.split(',').map(str::trim).filter(|node| !node.is_empty());
    let store = yoco_webhooks::redis::RedisStore::connect_cluster(nodes)
        .await
        .map_err(|err| format!("YOCO_REDIS_CLUSTER: {}", with_causes(&err)))?;
    Ok(SharedStore::Redis(store))
}

#[cfg(not(feature = "redis"))]
async fn redis_cluster(_nodes: &str) -> Result<SharedStore, String> {
    Err("YOCO_REDIS_CLUSTER is set, but this build has no Redis support: add --features redis".to_owned())
}

#[cfg(feature = "postgres")]
async fn postgres(url: &str) -> Result<SharedStore, String> {
    let store = yoco_webhooks::postgres::PostgresStore::new(postgres_pool(url).await?);
    store
        .migrate()
        .await
        .map_err(|err| format!("YOCO_DATABASE_URL: creating the table: {}", with_causes(&err)))?;
    Ok(SharedStore::Postgres(store))
}

/// The inbox at `url`, its table created; `YOCO_INBOX_WORKERS` workers
/// (default 1; 0 to only receive) print one JSON line per processed event.
#[cfg(feature = "postgres")]
async fn inbox(config: YocoWebhookConfig, url: &str) -> Result<YocoWebhookConfig, String> {
    use yoco_webhooks::postgres::Inbox;
    let workers: usize = match non_empty_var("YOCO_INBOX_WORKERS") {
        Some(workers) => workers
            .trim()
            .parse()
            .map_err(|_| "YOCO_INBOX_WORKERS: a number of workers (0 to only receive)".to_owned())?,
        None => 1,
    };
    let inbox = Inbox::new(postgres_pool(url).await?);
    inbox
        .migrate()
        .await
        .map_err(|err| format!("YOCO_DATABASE_URL: creating the inbox: {}", with_causes(&err)))?;
    if workers > 0 {
        // On a pool of their own; they run as long as the receiver does.
        let runner = inbox
            .runner(config.receiver().clone(), PrintEach)
            .workers(workers)
            .poll_every(std::time::Duration::from_millis(100));
        tokio::spawn(runner.run_until(std::future::pending()));
    }
    Ok(config.with_queue(inbox))
}

/// The inbox's handler: your processing goes here (mark the order paid,
/// send the receipt, ...). An error is retried later, with backoff.
#[cfg(feature = "postgres")]
struct PrintEach;

#[cfg(feature = "postgres")]
impl yoco_webhooks::postgres::InboxHandler for PrintEach {
    type Error = std::convert::Infallible;

    async fn handle(
        &self,
        delivery: yoco_webhooks::Delivery,
        _: &mut yoco_webhooks::postgres::sqlx::PgConnection,
    ) -> Result<(), Self::Error> {
        println!("{}", super::receiver::processed_line(&delivery));
        Ok(())
    }
}

#[cfg(not(feature = "postgres"))]
async fn inbox(_config: YocoWebhookConfig, _url: &str) -> Result<YocoWebhookConfig, String> {
    Err("YOCO_INBOX=postgres is set, but this build has no PostgreSQL support: add --features postgres".to_owned())
}

/// A pool on `url`, after one connection that says why it failed, if it did.
#[cfg(feature = "postgres")]
async fn postgres_pool(url: &str) -> Result<yoco_webhooks::postgres::sqlx::PgPool, String> {
    use yoco_webhooks::postgres::sqlx;
    use yoco_webhooks::postgres::sqlx::ConnectOptions as _;
    use yoco_webhooks::postgres::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    // sqlx's errors do not repeat the URL or its password.
    let options: PgConnectOptions = url
        .parse()
        .map_err(|err: sqlx::Error| format!("YOCO_DATABASE_URL: {}", with_causes(&err)))?;
    // One connection first: its error says why (refused, unknown database,
    // password), where the pool's would only say that it timed out.
    let first = options
        .connect()
        .await
        .map_err(|err| format!("YOCO_DATABASE_URL: {}", with_causes(&err)))?;
    let pool = PgPoolOptions::new()
        // Fail fast while the database is down: the endpoint answers 503
        // well within the 15 s Yoco waits.
        .acquire_timeout(std::time::Duration::from_secs(2))
        .connect_lazy_with(options);
    drop(first);
    Ok(pool)
}

#[cfg(not(feature = "postgres"))]
async fn postgres(_url: &str) -> Result<SharedStore, String> {
    Err("YOCO_DATABASE_URL is set, but this build has no PostgreSQL support: add --features postgres".to_owned())
}

/// The DynamoDB table `table`, through a client configured as the AWS SDK
/// finds it in the environment (`AWS_REGION`, `AWS_ENDPOINT_URL`, the
/// credentials' variables or the function's role), created when missing.
/// The error names the variable, never a credential.
#[cfg(feature = "dynamodb")]
async fn dynamodb(table: &str) -> Result<SharedStore, String> {
    use yoco_webhooks::dynamodb::{DynamoDbStore, aws_sdk_dynamodb};
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), table)
        .map_err(|err| format!("YOCO_DYNAMODB_TABLE: {err}"))?;
    // For the example: in production your infrastructure as code makes the
    // table, and the function's role may not create tables.
    store
        .create_table()
        .await
        .map_err(|err| format!("YOCO_DYNAMODB_TABLE: creating the table: {err}"))?;
    Ok(SharedStore::DynamoDb(store))
}

#[cfg(not(feature = "dynamodb"))]
async fn dynamodb(_table: &str) -> Result<SharedStore, String> {
    Err("YOCO_DYNAMODB_TABLE is set, but this build has no DynamoDB support: add --features dynamodb".to_owned())
}

/// `config` sending each delivery to the SQS queue at `url`; the
/// `sqs_worker` example processes what it holds.
#[cfg(feature = "sqs")]
async fn sqs(config: YocoWebhookConfig, url: &str) -> Result<YocoWebhookConfig, String> {
    Ok(config.with_queue(sqs_queue(url).await))
}

#[cfg(not(feature = "sqs"))]
async fn sqs(_config: YocoWebhookConfig, _url: &str) -> Result<YocoWebhookConfig, String> {
    Err("YOCO_SQS_QUEUE_URL is set, but this build has no SQS support: add --features sqs".to_owned())
}

/// The SQS queue at `url`, through the AWS configuration of the
/// environment (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`).
#[cfg(feature = "sqs")]
pub(crate) async fn sqs_queue(url: &str) -> yoco_webhooks::sqs::SqsQueue {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    yoco_webhooks::sqs::SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), url)
}

/// An environment variable that is set to something.
fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// An error and its causes, on one line.
#[cfg_attr(not(any(feature = "redis", feature = "postgres")), allow(dead_code))]
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(err) = cause {
        text = format!("{text}: {err}");
        cause = err.source();
    }
    text
}
