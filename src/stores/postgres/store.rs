//! [`PostgresStore`] and its [`IdempotencyStore`] implementation: claims,
//! completions (also inside the caller's transaction) and releases.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{PgConnection, PgExecutor, PgPool};

use super::error::{column, store_error};
use super::schema::{DEFAULT_TABLE, Statements, TableNameError, parse_table};
use crate::dedup::{Claim, ClaimToken, IdempotencyStore, StoreError};
use crate::ids::WebhookId;

/// An [`IdempotencyStore`] in a PostgreSQL table, shared by every server
/// instance using the same database. See the [module docs](super) for the
/// guarantees, the table and the migration.
///
/// Cloning is cheap: clones share the pool.
#[derive(Clone)]
pub struct PostgresStore {
    pub(super) pool: PgPool,
    table: Arc<str>,
    pub(super) sql: Arc<Statements>,
}

/// What a completion found, after recording what it may.
enum Completion {
    /// This token's owner holds the delivery as done.
    Ours,
    /// Done, by another attempt whose lease outlived ours.
    Others,
    /// Another attempt holds a live claim on it.
    Claimed,
}

impl PostgresStore {
    /// A store in the table [`DEFAULT_TABLE`], using `pool`. Create the table
    /// with [`migrate`](Self::migrate) or your own migrations.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            table: Arc::from(DEFAULT_TABLE),
            sql: Arc::new(Statements::for_default_table()),
        }
    }

    /// A store in the table `table` (`name` or `schema.name`).
    ///
    /// # Errors
    /// [`TableNameError`] unless each part is lowercase ASCII letters, digits
    /// and underscores, not starting with a digit, at most 56 characters. The
    /// name is quoted in the SQL, so reserved words such as `order` are fine.
    pub fn with_table(pool: PgPool, table: &str) -> Result<Self, TableNameError> {
        let (qualified, name) = parse_table(table)?;
        Ok(Self {
            pool,
            table: Arc::from(table),
            sql: Arc::new(Statements::for_table(&qualified, name)),
        })
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The table's name, as given.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Marks the claimed delivery done inside your transaction (pass
    /// `&mut tx`, or any connection): it commits or rolls back with your
    /// changes. See the [module docs](super#completing-inside-your-transaction).
    ///
    /// The delivery is remembered for the token's
    /// [`retention`](ClaimToken::retention): the configured one of the
    /// deduplicator or pipeline that handed the token to your handler
    /// ([`DEFAULT_RETENTION`](crate::dedup::DEFAULT_RETENTION) for a token
    /// that carries none).
    ///
    /// Succeeds if this claim is (now) the one that completed the delivery:
    /// again for a token that completed it already.
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer, or if this claim no
    /// longer holds the delivery: another attempt holds it, or completed it
    /// after this claim's lease ran out. Roll back then: your changes would
    /// apply a second time.
    pub async fn complete_in(&self, connection: &mut PgConnection, token: &ClaimToken) -> Result<(), StoreError> {
        let retention = token.retention().unwrap_or(crate::dedup::DEFAULT_RETENTION);
        match self.record_done(connection, token, retention).await? {
            Completion::Ours => Ok(()),
            Completion::Others => Err(StoreError::new(
                "the delivery was completed by another attempt after this claim's lease ran out",
            )),
            Completion::Claimed => Err(StoreError::new("the claim is held by another attempt")),
        }
    }

    async fn claim_now(&self, webhook_id: &WebhookId, lease: Duration) -> Result<Claim, StoreError> {
        let row = sqlx::query(&self.sql.claim)
            .bind(webhook_id.as_str())
            .bind(lease.as_secs_f64())
            .fetch_optional(&self.pool)
            .await
            .map_err(|err| store_error("PostgreSQL could not claim the delivery", &err))?;
        // No row: the delivery's row is not in this statement's snapshot, so
        // a concurrent attempt has just claimed (or completed) it.
        let Some(row) = row else {
            return Ok(Claim::InProgress);
        };
        let owner: Option<String> = column(&row, 0)?;
        let done: bool = column(&row, 1)?;
        Ok(match (owner, done) {
            (Some(owner), _) => Claim::Acquired(ClaimToken::new(webhook_id.clone(), owner)),
            (None, true) => Claim::Done,
            (None, false) => Claim::InProgress,
        })
    }

    async fn record_done<'c, X: PgExecutor<'c>>(
        &self,
        executor: X,
        token: &ClaimToken,
        retention: Duration,
    ) -> Result<Completion, StoreError> {
        let row = sqlx::query(&self.sql.complete)
            .bind(token.webhook_id().as_str())
            .bind(token.owner())
            .bind(retention.as_secs_f64())
            .fetch_optional(executor)
            .await
            .map_err(|err| store_error("PostgreSQL could not complete the delivery", &err))?;
        let Some(row) = row else {
            return Ok(Completion::Claimed);
        };
        let done: bool = column(&row, 0)?;
        let ours: bool = column(&row, 1)?;
        Ok(match (done, ours) {
            (true, true) => Completion::Ours,
            (true, false) => Completion::Others,
            (false, _) => Completion::Claimed,
        })
    }

    async fn complete_now(&self, token: &ClaimToken, retention: Duration) -> Result<(), StoreError> {
        match self.record_done(&self.pool, token, retention).await? {
            // Done by another attempt whose lease outlived ours: moot, not an error.
            Completion::Ours | Completion::Others => Ok(()),
            Completion::Claimed => Err(StoreError::new("the claim is held by another attempt")),
        }
    }

    async fn release_now(&self, token: &ClaimToken) -> Result<(), StoreError> {
        sqlx::query(&self.sql.release)
            .bind(token.webhook_id().as_str())
            .bind(token.owner())
            .execute(&self.pool)
            .await
            .map_err(|err| store_error("PostgreSQL could not release the claim", &err))?;
        Ok(())
    }
}

impl IdempotencyStore for PostgresStore {
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

impl fmt::Debug for PostgresStore {
    /// The table and the pool's size; never the connection options, which
    /// may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.table)
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn debug_shows_no_connection_options() {
        let options: sqlx::postgres::PgConnectOptions = "postgres://shop:hunter2@127.0.0.1:1/shop".parse().unwrap();
        let store = PostgresStore::new(sqlx::postgres::PgPoolOptions::new().connect_lazy_with(options));
        let shown = format!("{store:?}");
        assert!(shown.contains("yoco_webhook_deliveries"), "{shown}");
        assert!(!shown.contains("hunter2") && !shown.contains("shop"), "{shown}");
    }
}
