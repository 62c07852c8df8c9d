//! Where the example receivers deduplicate: in memory, or in a store shared
//! by every instance, chosen from the environment when the server starts.

use yoco_webhooks::YocoWebhookConfig;

/// `config` deduplicating where the environment says: `YOCO_REDIS_URL` for
/// Redis (feature `redis`), `YOCO_DATABASE_URL` for PostgreSQL (feature
/// `postgres`), else in memory. The store is connected (and, for
/// PostgreSQL, its table created); the error names the variable, never its
/// value.
pub(crate) async fn with_store_from_env(config: YocoWebhookConfig) -> Result<YocoWebhookConfig, String> {
    if let Some(url) = non_empty_var("YOCO_REDIS_URL") {
        return redis(config, &url).await;
    }
    if let Some(url) = non_empty_var("YOCO_DATABASE_URL") {
        return postgres(config, &url).await;
    }
    Ok(config)
}

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
    use yoco_webhooks::postgres::sqlx::ConnectOptions as _;
    use yoco_webhooks::postgres::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use yoco_webhooks::postgres::{PostgresStore, sqlx};
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
    let store = PostgresStore::new(pool);
    store
        .migrate()
        .await
        .map_err(|err| format!("YOCO_DATABASE_URL: creating the table: {}", with_causes(&err)))?;
    Ok(config.with_store(store))
}

#[cfg(not(feature = "postgres"))]
async fn postgres(_config: YocoWebhookConfig, _url: &str) -> Result<YocoWebhookConfig, String> {
    Err("YOCO_DATABASE_URL is set, but this build has no PostgreSQL support: add --features postgres".to_owned())
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
