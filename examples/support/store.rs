//! Where the example receivers deduplicate: in memory, or in a store shared
//! by every instance, chosen from the environment when the server starts.

use std::time::Duration;

use yoco_webhooks::WebhookId;
use yoco_webhooks::dedup::{Claim, ClaimToken, IdempotencyStore, MemoryStore, StoreError};

/// The store chosen: `YOCO_REDIS_URL` for Redis (feature `redis`),
/// `YOCO_DATABASE_URL` for PostgreSQL (feature `postgres`), else memory.
pub(crate) enum AnyStore {
    /// This process's memory: one instance.
    Memory(MemoryStore),
    /// A Redis shared by every instance.
    #[cfg(feature = "redis")]
    Redis(yoco_webhooks::redis::RedisStore),
    /// A PostgreSQL database shared by every instance.
    #[cfg(feature = "postgres")]
    Postgres(yoco_webhooks::postgres::PostgresStore),
}

impl AnyStore {
    /// The store the environment asks for, connected (and, for PostgreSQL,
    /// its table created). The error names the variable, never its value.
    pub(crate) async fn from_env() -> Result<Self, String> {
        if let Some(url) = non_empty_var("YOCO_REDIS_URL") {
            return redis(&url).await;
        }
        if let Some(url) = non_empty_var("YOCO_DATABASE_URL") {
            return postgres(&url).await;
        }
        Ok(Self::Memory(MemoryStore::default()))
    }
}

#[cfg(feature = "redis")]
async fn redis(url: &str) -> Result<AnyStore, String> {
    // The error and its causes never contain the URL, so the password stays out of logs.
    yoco_webhooks::redis::RedisStore::connect(url)
        .await
        .map(AnyStore::Redis)
        .map_err(|err| format!("YOCO_REDIS_URL: {}", with_causes(&err)))
}

#[cfg(not(feature = "redis"))]
async fn redis(_url: &str) -> Result<AnyStore, String> {
    Err("YOCO_REDIS_URL is set, but this build has no Redis support: add --features redis".to_owned())
}

#[cfg(feature = "postgres")]
async fn postgres(url: &str) -> Result<AnyStore, String> {
    use yoco_webhooks::postgres::{PostgresStore, sqlx};
    // sqlx's errors do not repeat the URL or its password.
    let pool = sqlx::postgres::PgPoolOptions::new()
        // Fail fast while the database is down: the endpoint answers 503
        // well within the 15 s Yoco waits.
        .acquire_timeout(Duration::from_secs(2))
        .connect(url)
        .await
        .map_err(|err| format!("YOCO_DATABASE_URL: {}", with_causes(&err)))?;
    let store = PostgresStore::new(pool);
    store
        .migrate()
        .await
        .map_err(|err| format!("YOCO_DATABASE_URL: creating the table: {}", with_causes(&err)))?;
    Ok(AnyStore::Postgres(store))
}

#[cfg(not(feature = "postgres"))]
async fn postgres(_url: &str) -> Result<AnyStore, String> {
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

/// Calls `$call` on whichever store this is.
macro_rules! on_store {
    ($store:expr, $inner:ident => $call:expr) => {
        match $store {
            AnyStore::Memory($inner) => $call.await,
            #[cfg(feature = "redis")]
            AnyStore::Redis($inner) => $call.await,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres($inner) => $call.await,
        }
    };
}

impl IdempotencyStore for AnyStore {
    async fn claim(&self, webhook_id: &WebhookId, lease: Duration) -> Result<Claim, StoreError> {
        on_store!(self, store => store.claim(webhook_id, lease))
    }

    async fn complete(&self, token: &ClaimToken, retention: Duration) -> Result<(), StoreError> {
        on_store!(self, store => store.complete(token, retention))
    }

    async fn release(&self, token: &ClaimToken) -> Result<(), StoreError> {
        on_store!(self, store => store.release(token))
    }
}
