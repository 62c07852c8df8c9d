//! What a person does with the inbox (the command line's `yoco-webhooks
//! inbox ...`): list the deliveries in a state, put a dead one back, purge
//! the done ones.

use std::fmt;
use std::time::Duration;

use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::Inbox;
use super::row::{stored_from, time_at};
use crate::dedup::StoreError;
use crate::handoff::StoredDelivery;
use crate::ids::WebhookId;
use crate::stores::postgres::error::{column, store_error};

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

/// A row of the inbox, for a person to look at ([`Inbox::list`],
/// [`Inbox::get`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InboxEntry {
    /// The delivery as received.
    pub stored: StoredDelivery,
    /// Where it is: pending, done or dead.
    pub state: InboxState,
    /// How many attempts were taken, each counted when a worker took it:
    /// one in progress, and one that never answered, count too.
    pub attempts: u32,
    /// When the next attempt is due, for a pending delivery. A done or dead
    /// one has no next attempt: this is then the backoff its last attempt
    /// set, which nothing waits for (it may be in the future).
    pub due_at: OffsetDateTime,
    /// When it was processed or given up, if it was.
    pub finished_at: Option<OffsetDateTime>,
    /// The last attempt's error, if it failed.
    pub last_error: Option<String>,
}

/// How the inbox stands ([`Inbox::counts`]): what an operator alerts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboxCounts {
    /// Deliveries waiting for a worker or for their next attempt.
    pub pending: u64,
    /// Dead deliveries, waiting for a person.
    pub dead: u64,
    /// How long ago the oldest pending delivery was received; `None` when
    /// nothing is pending.
    pub oldest_pending: Option<Duration>,
}

impl Inbox {
    /// How many deliveries are pending and dead, and the oldest pending
    /// one's age: each count on its partial index, never over the done
    /// rows. The [`InboxRunner`](super::InboxRunner) reports them as
    /// gauges.
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer.
    pub async fn counts(&self) -> Result<InboxCounts, StoreError> {
        let row = sqlx::query(&self.sql.counts)
            .fetch_one(&self.pool)
            .await
            .map_err(|err| store_error("PostgreSQL could not count the inbox", &err))?;
        let count = |index| column::<i64>(&row, index).map(|count| u64::try_from(count).unwrap_or(0));
        let oldest: Option<f64> = column(&row, 2)?;
        Ok(InboxCounts {
            pending: count(0)?,
            dead: count(1)?,
            // A received_at ahead of the clock (another machine's) is no age.
            oldest_pending: oldest.map(|seconds| Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO)),
        })
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

    /// The delivery of `webhook_id`, in whatever state, if the inbox has it.
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer.
    pub async fn get(&self, webhook_id: &WebhookId) -> Result<Option<InboxEntry>, StoreError> {
        let row = sqlx::query(&self.sql.get)
            .bind(webhook_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(|err| store_error("PostgreSQL could not read the inbox", &err))?;
        row.as_ref().map(entry).transpose()
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

/// A row of [`Inbox::list`]'s statement as an entry.
fn entry(row: &PgRow) -> Result<InboxEntry, StoreError> {
    let attempts: i32 = column(row, 5)?;
    let finished_at: Option<f64> = column(row, 7)?;
    let state: String = column(row, 10)?;
    let state = match state.as_str() {
        "pending" => InboxState::Pending,
        "done" => InboxState::Done,
        "dead" => InboxState::Dead,
        _ => {
            return Err(StoreError::new(
                "PostgreSQL answered a state this version does not know",
            ));
        }
    };
    Ok(InboxEntry {
        stored: stored_from(row)?,
        state,
        attempts: u32::try_from(attempts).unwrap_or(0),
        due_at: time_at(column(row, 6)?)?,
        finished_at: finished_at.map(time_at).transpose()?,
        last_error: column(row, 8)?,
    })
}
