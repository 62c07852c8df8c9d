//! [`Inbox`]: the delivery queue in a PostgreSQL table, what a worker takes
//! from it, and what an operator does with it.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::error::{column, store_error};
use super::job::{InboxDelivery, Worked};
use super::schema::{TableNameError, migrate_locked, parse_table, quote_name};
use crate::dedup::StoreError;
use crate::handoff::DeliveryQueue;
use crate::handoff::StoredDelivery;
use crate::ids::WebhookId;
use crate::receive::{Delivery, Outcome, Receiver};

/// The table an [`Inbox::new`] uses.
pub const DEFAULT_INBOX_TABLE: &str = "yoco_webhook_inbox";

/// How many attempts a delivery gets by default before it is dead.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// The backoff doubles at most this many times (a `u32` multiplier).
const MAX_DOUBLINGS: u32 = 31;

/// The migration creating the default inbox table
/// ([`DEFAULT_INBOX_TABLE`]) and its indexes, for teams that run their own
/// migrations; safe to run more than once, and it adds the `lease` column
/// to a table created by an earlier version. [`Inbox::migration`] gives it
/// for another table name.
pub const INBOX_MIGRATION: &str = r#"CREATE TABLE IF NOT EXISTS "yoco_webhook_inbox" (
    webhook_id        text        PRIMARY KEY,
    webhook_timestamp text        NOT NULL,
    webhook_signature text        NOT NULL,
    body              text        NOT NULL,
    received_at       timestamptz NOT NULL,
    receipt           text        NOT NULL,
    state             text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
    attempts          integer     NOT NULL DEFAULT 0,
    due_at            timestamptz NOT NULL DEFAULT statement_timestamp(),
    finished_at       timestamptz,
    last_error        text,
    lease             uuid
);
ALTER TABLE "yoco_webhook_inbox" ADD COLUMN IF NOT EXISTS lease uuid;
ALTER TABLE "yoco_webhook_inbox" ADD COLUMN IF NOT EXISTS receipt text NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS "yoco_webhook_inbox_due"
    ON "yoco_webhook_inbox" (due_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS "yoco_webhook_inbox_done"
    ON "yoco_webhook_inbox" (finished_at) WHERE state = 'done';
"#;

/// The inbox's SQL, rendered once for its table.
#[derive(Debug)]
pub(super) struct InboxStatements {
    pub(super) migration: String,
    enqueue: String,
    pub(super) take: String,
    pub(super) hold: String,
    pub(super) done: String,
    pub(super) failed: String,
    pub(super) refused: String,
    list: String,
    retry: String,
    purge: String,
}

impl InboxStatements {
    fn for_table(qualified: &str, name: &str) -> Self {
        let due = quote_name(&format!("{name}_due"));
        let done = quote_name(&format!("{name}_done"));
        Self {
            migration: format!(
                "CREATE TABLE IF NOT EXISTS {qualified} (
    webhook_id        text        PRIMARY KEY,
    webhook_timestamp text        NOT NULL,
    webhook_signature text        NOT NULL,
    body              text        NOT NULL,
    received_at       timestamptz NOT NULL,
    receipt           text        NOT NULL,
    state             text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
    attempts          integer     NOT NULL DEFAULT 0,
    due_at            timestamptz NOT NULL DEFAULT statement_timestamp(),
    finished_at       timestamptz,
    last_error        text,
    lease             uuid
);
ALTER TABLE {qualified} ADD COLUMN IF NOT EXISTS lease uuid;
ALTER TABLE {qualified} ADD COLUMN IF NOT EXISTS receipt text NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS {due}
    ON {qualified} (due_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS {done}
    ON {qualified} (finished_at) WHERE state = 'done';
"
            ),
            // $1 id, $2 timestamp header, $3 signature header, $4 body, $5
            // received at (Unix seconds), $6 receipt. A repeated id changes nothing.
            enqueue: format!(
                "INSERT INTO {qualified} (webhook_id, webhook_timestamp, webhook_signature, body, received_at, receipt)
VALUES ($1, $2, $3, $4, to_timestamp($5), $6)
ON CONFLICT (webhook_id) DO NOTHING"
            ),
            // $1 attempts allowed, $2 the waits after attempts 1, 2, ... (the
            // last for every later one), $3 the error of an abandoned attempt.
            // Takes the oldest due delivery nobody else holds and counts the
            // attempt before it runs (autocommitted): the new lease, and the
            // wait after this attempt, hold whatever becomes of the worker. A
            // lease still set is an attempt that never answered. One with
            // every attempt used is dead instead.
            take: format!(
                "WITH due AS (
    SELECT webhook_id FROM {qualified}
    WHERE state = 'pending' AND due_at <= statement_timestamp()
    ORDER BY due_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE {qualified} AS inbox
SET attempts = CASE WHEN inbox.attempts >= $1 THEN inbox.attempts ELSE inbox.attempts + 1 END,
    state = CASE WHEN inbox.attempts >= $1 THEN 'dead' ELSE 'pending' END,
    finished_at = CASE WHEN inbox.attempts >= $1 THEN statement_timestamp() END,
    due_at = CASE WHEN inbox.attempts >= $1 THEN inbox.due_at
        ELSE statement_timestamp()
            + make_interval(secs => ($2::float8[])[least(inbox.attempts + 1, cardinality($2::float8[]))]) END,
    last_error = CASE WHEN inbox.lease IS NULL THEN inbox.last_error ELSE $3 END,
    lease = CASE WHEN inbox.attempts >= $1 THEN NULL ELSE gen_random_uuid() END
FROM due
WHERE inbox.webhook_id = due.webhook_id
RETURNING inbox.webhook_id, inbox.webhook_timestamp, inbox.webhook_signature, inbox.body,
    extract(epoch FROM inbox.received_at)::bigint, inbox.attempts, inbox.lease::text, inbox.receipt"
            ),
            // $1 id, $2 lease. Locks the taken delivery until the worker's
            // transaction ends, unless another worker took it over meanwhile
            // (its wait had passed): then no row.
            hold: format!(
                "SELECT 1 FROM {qualified}
WHERE webhook_id = $1 AND state = 'pending' AND lease = $2::uuid
FOR UPDATE SKIP LOCKED"
            ),
            // $1 id. The attempt counted when it was taken.
            done: format!(
                "UPDATE {qualified}
SET state = 'done', finished_at = statement_timestamp(), last_error = NULL, lease = NULL
WHERE webhook_id = $1"
            ),
            // $1 id, $2 error, $3 attempts allowed, $4 seconds until the next.
            failed: format!(
                "UPDATE {qualified}
SET last_error = $2,
    lease = NULL,
    state = CASE WHEN attempts >= $3 THEN 'dead' ELSE 'pending' END,
    finished_at = CASE WHEN attempts >= $3 THEN statement_timestamp() END,
    due_at = statement_timestamp() + make_interval(secs => $4)
WHERE webhook_id = $1
RETURNING state = 'dead', extract(epoch FROM due_at)::float8"
            ),
            // $1 id, $2 why.
            refused: format!(
                "UPDATE {qualified}
SET state = 'dead', finished_at = statement_timestamp(), last_error = $2, lease = NULL
WHERE webhook_id = $1"
            ),
            // $1 state, $2 how many.
            list: format!(
                "SELECT webhook_id, webhook_timestamp, webhook_signature, body,
       extract(epoch FROM received_at)::bigint, attempts,
       extract(epoch FROM due_at)::float8, extract(epoch FROM finished_at)::float8, last_error, receipt
FROM {qualified}
WHERE state = $1
ORDER BY due_at, webhook_id
LIMIT $2"
            ),
            // $1 id.
            retry: format!(
                "UPDATE {qualified}
SET state = 'pending', attempts = 0, due_at = statement_timestamp(), finished_at = NULL, lease = NULL
WHERE webhook_id = $1 AND state = 'dead'"
            ),
            // $1 retention in seconds.
            purge: format!(
                "DELETE FROM {qualified}
WHERE state = 'done' AND finished_at <= statement_timestamp() - make_interval(secs => $1)"
            ),
        }
    }
}

/// A delivery queue in a PostgreSQL table: the endpoint records each
/// verified delivery in one statement and answers Yoco at once; workers on
/// any number of machines take them with `FOR UPDATE SKIP LOCKED`, each
/// inside a transaction their handler can use. See the
/// [module docs](super#an-inbox-answer-now-process-later).
///
/// Cloning is cheap: clones share the pool.
#[derive(Clone)]
pub struct Inbox {
    pub(super) pool: PgPool,
    table: Arc<str>,
    pub(super) sql: Arc<InboxStatements>,
    pub(super) max_attempts: u32,
    first_backoff: Duration,
    max_backoff: Duration,
}

/// Where a delivery is in the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InboxState {
    /// Waiting for a worker (or for its next attempt, after a failure).
    Pending,
    /// Processed.
    Done,
    /// Failed (or abandoned) every attempt, or refused as not authentic:
    /// kept for a person to look at, and [`Inbox::retry`] puts it back.
    Dead,
}

impl InboxState {
    /// The state as the table spells it: `pending`, `done`, `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxState::Pending => "pending",
            InboxState::Done => "done",
            InboxState::Dead => "dead",
        }
    }
}

impl fmt::Display for InboxState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row of the inbox, for a person to look at ([`Inbox::list`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InboxEntry {
    /// The delivery as received.
    pub stored: StoredDelivery,
    /// How many attempts were taken, each counted when a worker took it:
    /// one in progress, and one that never answered, count too.
    pub attempts: u32,
    /// When the next attempt is due (pending), or was (done, dead).
    pub due_at: OffsetDateTime,
    /// When it was processed or given up, if it was.
    pub finished_at: Option<OffsetDateTime>,
    /// The last attempt's error, if it failed.
    pub last_error: Option<String>,
}

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
        }
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
    pub(super) fn backoff_after(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(MAX_DOUBLINGS);
        self.first_backoff
            .checked_mul(1_u32 << doublings)
            .map_or(self.max_backoff, |wait| wait.min(self.max_backoff))
    }

    /// The waits after attempts 1, 2, ... in seconds, for the database to
    /// pick from when it takes a delivery; the last is the wait after every
    /// later attempt too.
    pub(super) fn backoff_schedule(&self) -> Vec<f64> {
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

    /// Records `delivery` in one statement (autocommitted): `true` if it is
    /// new, `false` if its `webhook-id` was there already (nothing changes).
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer: it may or may not
    /// have recorded the delivery; Yoco's retry settles it.
    pub async fn enqueue_new(&self, delivery: &StoredDelivery) -> Result<bool, StoreError> {
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
        Ok(done.rows_affected() == 1)
    }

    /// Takes the oldest due delivery that no other worker holds, inside a
    /// transaction: `None` if there is none now. Process it (check it
    /// first with [`InboxDelivery::check`]), then call
    /// [`done`](InboxDelivery::done) or [`failed`](InboxDelivery::failed).
    /// Until then the row is locked: other workers skip it.
    ///
    /// Taking it counts the attempt, committed at once, and puts the
    /// delivery off by the backoff for that attempt. If the worker dies,
    /// the handler panics or the delivery is dropped unanswered, the
    /// transaction rolls back, but the count stays: the delivery is due
    /// again after that backoff, its `last_error` then says the attempt was
    /// abandoned, and a delivery taken with all its attempts used is
    /// recorded dead instead of run again (and the next one is taken).
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer.
    pub async fn next(&self) -> Result<Option<InboxDelivery>, StoreError> {
        InboxDelivery::take(self).await
    }

    /// Processes the next due delivery with `handler`, if there is one: takes
    /// it ([`next`](Self::next)), checks it again with `receiver`, runs
    /// `handler`, and records what became of it. A delivery that is not
    /// authentic any more (changed in the table, or another receiver's) is
    /// dead at once and never reaches `handler`; one the receiver ignores
    /// is done.
    ///
    /// For a handler that writes to this database, take the delivery with
    /// [`next`](Self::next) instead and write through
    /// [`InboxDelivery::connection`]: your changes and "done" commit
    /// together.
    ///
    /// A `handler` that panics is not caught: the panic unwinds out of
    /// `work` (out of your worker task). The attempt counts all the same
    /// (it was counted when taken, see [`next`](Self::next)), so a
    /// delivery that always panics is dead after
    /// [`max_attempts`](Self::max_attempts), backed off in between, and
    /// never retried at full speed.
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer. If that happened
    /// after `handler` succeeded, the delivery is still pending and runs
    /// again (at least once: make `handler` idempotent, or use `next`).
    pub async fn work<F, Fut, T, E>(&self, receiver: &Receiver, handler: F) -> Result<Worked<T, E>, StoreError>
    where
        F: FnOnce(Delivery) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Display,
    {
        let Some(taken) = self.next().await? else {
            return Ok(Worked::Idle);
        };
        let webhook_id = taken.stored().webhook_id().clone();
        match taken.check(receiver) {
            Err(error) => {
                taken.refused(&error.to_string()).await?;
                Ok(Worked::Refused { webhook_id, error })
            }
            Ok(Outcome::Ignore(ignored)) => {
                taken.done().await?;
                Ok(Worked::Ignored(ignored))
            }
            Ok(Outcome::Process(delivery)) => match handler(delivery).await {
                Ok(value) => {
                    taken.done().await?;
                    Ok(Worked::Done { webhook_id, value })
                }
                Err(error) => {
                    let next = taken.failed(&error.to_string()).await?;
                    Ok(Worked::Failed {
                        webhook_id,
                        error,
                        next,
                    })
                }
            },
        }
    }

    /// Up to `limit` deliveries in `state`, the earliest due first.
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer.
    pub async fn list(&self, state: InboxState, limit: u32) -> Result<Vec<InboxEntry>, StoreError> {
        let rows = sqlx::query(&self.sql.list)
            .bind(state.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|err| store_error("PostgreSQL could not list the inbox", &err))?;
        rows.iter().map(entry).collect()
    }

    /// Puts a dead delivery back: pending, due now, with all its attempts
    /// again. `false` if there is no dead delivery of that id.
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer.
    pub async fn retry(&self, webhook_id: &WebhookId) -> Result<bool, StoreError> {
        let done = sqlx::query(&self.sql.retry)
            .bind(webhook_id.as_str())
            .execute(&self.pool)
            .await
            .map_err(|err| store_error("PostgreSQL could not retry the delivery", &err))?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the deliveries done longer ago than `retention`; returns how
    /// many. Keep `retention` beyond Yoco's retries
    /// ([`DEFAULT_RETENTION`](crate::dedup::DEFAULT_RETENTION), 28 hours):
    /// a retry of a purged delivery is queued, and processed, again. Dead
    /// and pending deliveries are never purged.
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer.
    pub async fn purge_done(&self, retention: Duration) -> Result<u64, StoreError> {
        let done = sqlx::query(&self.sql.purge)
            .bind(retention.as_secs_f64())
            .execute(&self.pool)
            .await
            .map_err(|err| store_error("PostgreSQL could not purge the inbox", &err))?;
        Ok(done.rows_affected())
    }
}

impl DeliveryQueue for Inbox {
    fn enqueue(&self, delivery: &StoredDelivery) -> impl Future<Output = Result<(), StoreError>> + Send {
        let queued = self.enqueue_new(delivery);
        async move { queued.await.map(|_| ()) }
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
            .finish_non_exhaustive()
    }
}

/// The delivery in the first columns of `row` (id, timestamp, signature,
/// body, received at in Unix seconds) and its `receipt` column.
pub(super) fn stored_from(row: &PgRow) -> Result<StoredDelivery, StoreError> {
    let id: String = column(row, 0)?;
    let received_at = OffsetDateTime::from_unix_timestamp(column(row, 4)?)
        .map_err(|_| StoreError::new("PostgreSQL answered a time out of range"))?;
    let receipt: String = sqlx::Row::try_get(row, "receipt")
        .map_err(|err| store_error("PostgreSQL answered in an unexpected shape", &err))?;
    Ok(StoredDelivery::new(
        WebhookId::new(id),
        column::<String>(row, 1)?,
        column::<String>(row, 2)?,
        column::<String>(row, 3)?,
        received_at,
        receipt,
    ))
}

fn entry(row: &PgRow) -> Result<InboxEntry, StoreError> {
    let attempts: i32 = column(row, 5)?;
    let finished_at: Option<f64> = column(row, 7)?;
    Ok(InboxEntry {
        stored: stored_from(row)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        due_at: time_at(column(row, 6)?)?,
        finished_at: finished_at.map(time_at).transpose()?,
        last_error: column(row, 8)?,
    })
}

/// Unix seconds (with a fraction) as a time.
pub(super) fn time_at(seconds: f64) -> Result<OffsetDateTime, StoreError> {
    // Whole nanoseconds of a time PostgreSQL holds (microseconds, years up
    // to 294276) fit an i128 many times over; `as` saturates, never wraps.
    #[allow(clippy::cast_possible_truncation)]
    let nanos = (seconds * 1e9).round() as i128;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|_| StoreError::new("PostgreSQL answered a time out of range"))
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
