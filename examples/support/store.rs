//! Where the example receivers deduplicate: in memory, or in a store shared
//! by every instance, chosen from the environment when the server starts;
//! or, with `YOCO_INBOX=postgres`, the PostgreSQL inbox: answer at once,
//! process in worker tasks; or, with `YOCO_SQS_QUEUE_URL`, an SQS queue that
//! the `sqs_worker` example drains.

use yoco_webhooks::YocoWebhookConfig;

/// `config` deduplicating where the environment says: `YOCO_REDIS_URL` for
/// Redis (feature `redis`), `YOCO_DATABASE_URL` for PostgreSQL (feature
/// `postgres`), else in memory, which it says on stderr. The store is
/// connected (and, for PostgreSQL, its table created); the error names the
/// variable, never its value.
pub(crate) async fn with_store_from_env(config: YocoWebhookConfig) -> Result<YocoWebhookConfig, String> {
    if let Some(url) = non_empty_var("YOCO_SQS_QUEUE_URL") {
        return Ok(config.with_queue(sqs_queue(&url).await?));
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
    if let Some(url) = non_empty_var("YOCO_REDIS_URL") {
        return redis(config, &url).await;
    }
    if let Some(url) = non_empty_var("YOCO_DATABASE_URL") {
        return postgres(config, &url).await;
    }
    eprintln!("{IN_MEMORY_WARNING}");
    Ok(config)
}

/// What a receiver says at start-up when it deduplicates in its own memory.
pub(crate) const IN_MEMORY_WARNING: &str = "warning: deduplication is in this process's memory: a restart \
     forgets what was processed, so a retry that spans a deploy (or reaches another instance) is processed \
     again; set YOCO_REDIS_URL (Redis, feature `redis`) or YOCO_DATABASE_URL (PostgreSQL, feature `postgres`) \
     to share a store";

#[cfg(feature = "redis")]
async fn redis(config: YocoWebhookConfig, url: &str) -> Result<YocoWebhookConfig, String> {
    // The error never contains the URL, so the password stays out of logs;
    // it says what went wrong, and whether the URL or the server is at fault.
    let store = yoco_webhooks::redis::RedisStore::connect(url)
        .await
        .map_err(|err| format!("YOCO_REDIS_URL: {}", with_causes(&err)))?;
    Ok(config.with_store(store))
}

#[cfg(not(feature = "redis"))]
async fn redis(_config: YocoWebhookConfig, _url: &str) -> Result<YocoWebhookConfig, String> {
    Err("YOCO_REDIS_URL is set, but this build has no Redis support: add --features redis".to_owned())
}

#[cfg(feature = "postgres")]
async fn postgres(config: YocoWebhookConfig, url: &str) -> Result<YocoWebhookConfig, String> {
    let store = yoco_webhooks::postgres::PostgresStore::new(postgres_pool(url).await?);
    store
        .migrate()
        .await
        .map_err(|err| format!("YOCO_DATABASE_URL: creating the table: {}", with_causes(&err)))?;
    Ok(config.with_store(store))
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
async fn postgres(_config: YocoWebhookConfig, _url: &str) -> Result<YocoWebhookConfig, String> {
    Err("YOCO_DATABASE_URL is set, but this build has no PostgreSQL support: add --features postgres".to_owned())
}

/// The SQS queue at `url`, through the AWS configuration of the
/// environment (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`); the
/// `sqs_worker` example processes what it holds.
#[cfg(feature = "sqs")]
pub(crate) async fn sqs_queue(url: &str) -> Result<yoco_webhooks::sqs::SqsQueue, String> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Ok(yoco_webhooks::sqs::SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), url))
}

#[cfg(not(feature = "sqs"))]
async fn sqs_queue(_url: &str) -> Result<std::convert::Infallible, String> {
    Err("YOCO_SQS_QUEUE_URL is set, but this build has no SQS support: add --features sqs".to_owned())
}

/// A store shared by processes, from the environment as
/// [`with_store_from_env`] chooses it (`YOCO_REDIS_URL`,
/// `YOCO_DATABASE_URL`), else in memory: for workers, which take a store
/// rather than a configuration.
#[allow(dead_code, reason = "the sqs_worker example's; the receivers take a configuration")]
pub(crate) enum SharedStore {
    #[cfg(feature = "redis")]
    Redis(yoco_webhooks::redis::RedisStore),
    #[cfg(feature = "postgres")]
    Postgres(yoco_webhooks::postgres::PostgresStore),
    Memory(yoco_webhooks::dedup::MemoryStore),
}

#[allow(dead_code, reason = "the sqs_worker example's")]
impl SharedStore {
    /// The store the environment names, connected (a PostgreSQL table created).
    pub(crate) async fn from_env() -> Result<Self, String> {
        #[cfg(feature = "redis")]
        if let Some(url) = non_empty_var("YOCO_REDIS_URL") {
            let store = yoco_webhooks::redis::RedisStore::connect(&url)
                .await
                .map_err(|err| format!("YOCO_REDIS_URL: {}", with_causes(&err)))?;
            return Ok(Self::Redis(store));
        }
        #[cfg(feature = "postgres")]
        if let Some(url) = non_empty_var("YOCO_DATABASE_URL") {
            let store = yoco_webhooks::postgres::PostgresStore::new(postgres_pool(&url).await?);
            store
                .migrate()
                .await
                .map_err(|err| format!("YOCO_DATABASE_URL: creating the table: {}", with_causes(&err)))?;
            return Ok(Self::Postgres(store));
        }
        eprintln!("{IN_MEMORY_WARNING}");
        Ok(Self::Memory(yoco_webhooks::dedup::MemoryStore::default()))
    }
}

impl yoco_webhooks::dedup::IdempotencyStore for SharedStore {
    async fn claim(
        &self,
        webhook_id: &yoco_webhooks::WebhookId,
        lease: std::time::Duration,
    ) -> Result<yoco_webhooks::dedup::Claim, yoco_webhooks::dedup::StoreError> {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(store) => store.claim(webhook_id, lease).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.claim(webhook_id, lease).await,
            Self::Memory(store) => store.claim(webhook_id, lease).await,
        }
    }

    async fn complete(
        &self,
        token: &yoco_webhooks::dedup::ClaimToken,
        retention: std::time::Duration,
    ) -> Result<(), yoco_webhooks::dedup::StoreError> {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(store) => store.complete(token, retention).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.complete(token, retention).await,
            Self::Memory(store) => store.complete(token, retention).await,
        }
    }

    async fn release(&self, token: &yoco_webhooks::dedup::ClaimToken) -> Result<(), yoco_webhooks::dedup::StoreError> {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(store) => store.release(token).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.release(token).await,
            Self::Memory(store) => store.release(token).await,
        }
    }
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
