//! Reading the inbox's rows: the stored delivery in their first columns,
//! and the times PostgreSQL answers as Unix seconds.

use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use crate::dedup::StoreError;
use crate::handoff::StoredDelivery;
use crate::ids::WebhookId;
use crate::stores::postgres::error::{column, store_error};

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

/// Unix seconds (with a fraction) as a time.
pub(super) fn time_at(seconds: f64) -> Result<OffsetDateTime, StoreError> {
    // Whole nanoseconds of a time PostgreSQL holds (microseconds, years up
    // to 294276) fit an i128 many times over; `as` saturates, never wraps.
    #[allow(clippy::cast_possible_truncation)]
    let nanos = (seconds * 1e9).round() as i128;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|_| StoreError::new("PostgreSQL answered a time out of range"))
}
