//! [`Inbox`]: the delivery queue in a PostgreSQL table, its table and its
//! settings. The endpoint records each verified delivery in it
//! ([`DeliveryQueue`]); workers take them one attempt at a time
//! (`attempt.rs`); a person looks after the dead and the done
//! (`operator.rs`).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::dedup::StoreError;
use crate::handoff::{DeliveryQueue, Enqueued, StoredDelivery};
use crate::stores::postgres::error::store_error;
use crate::stores::postgres::schema::{TableNameError, migrate_locked, parse_table, quote_name};

mod attempt; // a delivery a worker took: `Inbox::next`, done, failed, refused or released
pub mod observe; // the span and metrics of each attempt, and the inbox's gauges
mod operator; // what a person does: `Inbox::list`, `Inbox::retry`, `Inbox::counts`, `Inbox::purge_done`
mod row; // the stored delivery and the times in the statements' rows
mod runner; // `InboxRunner`: workers, polling, timeouts, shutdown
mod sql; // the migration and every statement, for a table
mod work; // `Inbox::work`: one attempt around a closure

pub use attempt::{InboxDelivery, NextAttempt};
pub use operator::{InboxCounts, InboxEntry, InboxState};
pub use runner::{InboxHandler, InboxRunner};
pub use sql::INBOX_MIGRATION;
use sql::InboxStatements;
pub use work::Worked;

/// The table an [`Inbox::new`] uses.
pub const DEFAULT_INBOX_TABLE: &str = "yoco_webhook_inbox";

/// How many attempts a delivery gets by default before it is dead.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// The backoff doubles at most this many times (a `u32` multiplier).
const MAX_DOUBLINGS: u32 = 31;

/// A delivery queue in a PostgreSQL table: the endpoint records each
/// verified delivery in one statement and answers Yoco at once; workers on
/// any number of machines take them with `FOR UPDATE SKIP LOCKED`, each
/// inside a transaction their handler can use. See the
/// [module docs](super#an-inbox-answer-now-process-later).
///
/// Cloning is cheap: clones share the pool.
#[derive(Clone)]
pub struct Inbox {
    pool: PgPool,
    table: Arc<str>,
    sql: Arc<InboxStatements>,
    max_attempts: u32,
    first_backoff: Duration,
    max_backoff: Duration,
    attempt_timeout: Duration,
}

/// How long an attempt's handler may run by default before it counts as
/// failed ([`Inbox::attempt_timeout`]).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// What PostgreSQL allows an attempt's transaction to sit idle beyond the
/// attempt's timeout before it ends the session (and so frees the row): a
/// worker that hangs outside the runtime's reach holds nothing for ever.
const IDLE_MARGIN: Duration = Duration::from_secs(30);

impl Inbox {
    /// An inbox in the table [`DEFAULT_INBOX_TABLE`], using `pool`, with
    /// [`DEFAULT_MAX_ATTEMPTS`] attempts, 10 seconds before the second,
    /// doubling up to an hour. Create the table with
    /// [`migrate`](Self::migrate) or your own migrations.
    pub fn new(pool: PgPool) -> Self {
        let qualified = quote_name(DEFAULT_INBOX_TABLE);
        Self::build(pool, DEFAULT_INBOX_TABLE, &qualified, DEFAULT_INBOX_TABLE)
    }

    /// An inbox in the table `table` (`name` or `schema.name`).
    ///
    /// # Errors
    /// [`TableNameError`] unless each part is lowercase ASCII letters,
    /// digits and underscores, not starting with a digit, at most 56
    /// characters.
    pub fn with_table(pool: PgPool, table: &str) -> Result<Self, TableNameError> {
        let (qualified, name) = parse_table(table)?;
        Ok(Self::build(pool, table, &qualified, name))
    }

    fn build(pool: PgPool, table: &str, qualified: &str, name: &str) -> Self {
        Self {
            pool,
            table: Arc::from(table),
            sql: Arc::new(InboxStatements::for_table(qualified, name)),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            first_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60 * 60),
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
        }
    }

    /// How long a handler may run on one attempt ([`work`](Self::work) and
    /// the [`InboxRunner`]) before the attempt counts as failed, with the
    /// backoff, as an error does; default [`DEFAULT_ATTEMPT_TIMEOUT`]. The
    /// attempt's transaction (and its row lock) ends with it. PostgreSQL
    /// also ends a transaction left idle 30 seconds past the timeout, so a
    /// worker stuck where the timeout cannot reach it (a blocking call)
    /// frees the row all the same.
    #[must_use]
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The same inbox on another pool (the runner's own).
    fn on_pool(&self, pool: PgPool) -> Self {
        Self { pool, ..self.clone() }
    }

    /// How many attempts a delivery gets before it is dead (at least one).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The wait after a failed attempt: `first` after the first, doubling
    /// after each next one, never more than `max`.
    #[must_use]
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first_backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    /// The wait after the `failed`-th failed attempt (from 1).
    fn backoff_after(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(MAX_DOUBLINGS);
        self.first_backoff
            .checked_mul(1_u32 << doublings)
            .map_or(self.max_backoff, |wait| wait.min(self.max_backoff))
    }

    /// The waits after attempts 1, 2, ... in seconds, for the database to
    /// pick from when it takes a delivery; the last is the wait after every
    /// later attempt too.
    fn backoff_schedule(&self) -> Vec<f64> {
        (1..=MAX_DOUBLINGS + 1)
            .map(|attempt| self.backoff_after(attempt).as_secs_f64())
            .collect()
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The table's name, as given.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The migration for this inbox's table: [`INBOX_MIGRATION`] for the
    /// default.
    pub fn migration(&self) -> &str {
        &self.sql.migration
    }

    /// Creates the table and its indexes unless they exist. Safe to run at
    /// every start, from every instance at once.
    ///
    /// # Errors
    /// The database's error.
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        migrate_locked(&self.pool, &self.sql.migration).await
    }

    /// Records `delivery` in one statement (autocommitted), unless its
    /// `webhook-id` is there already (then nothing changes).
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer: it may or may not
    /// have recorded the delivery; Yoco's retry settles it.
    async fn insert(&self, delivery: &StoredDelivery) -> Result<Enqueued, StoreError> {
        let done = sqlx::query(&self.sql.enqueue)
            .bind(delivery.webhook_id().as_str())
            .bind(delivery.webhook_timestamp())
            .bind(delivery.webhook_signature())
            .bind(delivery.body())
            .bind(delivery.received_at().unix_timestamp())
            .bind(delivery.receipt())
            .execute(&self.pool)
            .await
            .map_err(|err| store_error("PostgreSQL could not queue the delivery", &err))?;
        Ok(match done.rows_affected() {
            1 => Enqueued::New,
            _ => Enqueued::AlreadyQueued,
        })
    }
}

/// One statement, autocommitted: [`Enqueued::AlreadyQueued`] when the
/// `webhook-id` is in the table already, in whatever state (pending, done
/// or dead), and nothing changes.
impl DeliveryQueue for Inbox {
    fn enqueue(&self, delivery: &StoredDelivery) -> impl Future<Output = Result<Enqueued, StoreError>> + Send {
        self.insert(delivery)
    }
}

impl fmt::Debug for Inbox {
    /// The table, the pool's size and the attempts; never the connection
    /// options, which may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("table", &self.table)
            .field("connections", &self.pool.size())
            .field("max_attempts", &self.max_attempts)
            .field("attempt_timeout", &self.attempt_timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> PgPool {
        sqlx::postgres::PgPoolOptions::new().connect_lazy_with(sqlx::postgres::PgConnectOptions::new())
    }

    #[tokio::test]
    async fn the_default_migration_is_the_published_one() {
        assert_eq!(Inbox::new(pool()).migration(), INBOX_MIGRATION);
        let named = Inbox::with_table(pool(), "shop.inbox").unwrap();
        assert!(
            named
                .migration()
                .contains(r#"CREATE TABLE IF NOT EXISTS "shop"."inbox" ("#)
        );
        assert!(named.migration().contains(r#"CREATE INDEX IF NOT EXISTS "inbox_due""#));
        let refused = Inbox::with_table(pool(), "Inbox").unwrap_err().to_string();
        assert!(refused.starts_with(r#"invalid table name "Inbox": "#), "{refused}");
    }

    #[tokio::test]
    async fn the_backoff_doubles_up_to_its_limit() {
        let inbox = Inbox::new(pool()).backoff(Duration::from_secs(10), Duration::from_secs(60));
        let waits: Vec<u64> = (1..=6).map(|n| inbox.backoff_after(n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 60, 60, 60]);
        assert_eq!(inbox.backoff_after(u32::MAX).as_secs(), 60);
        let schedule = inbox.backoff_schedule();
        assert_eq!(schedule[..5], [10.0, 20.0, 40.0, 60.0, 60.0]);
        assert_eq!(schedule.len(), 32);
        let endless = Inbox::new(pool()).backoff(Duration::from_secs(1), Duration::MAX);
        assert_eq!(endless.backoff_schedule().last(), Some(&2_147_483_648.0));
        assert_eq!(Inbox::new(pool()).max_attempts(0).max_attempts, 1);
    }
}
