//! sqlx's errors as [`StoreError`]s: the cause in words, of the kind it is.

use sqlx::Row as _;
use sqlx::postgres::PgRow;

use crate::dedup::StoreError;

/// SQLSTATEs of a mistake in the configuration, which retrying will not
/// fix: credentials or role refused (class 28), an unknown database or
/// schema, a missing table, column or function (not migrated, or a table
/// of an earlier version not migrated again, or PostgreSQL older than 13),
/// a privilege the role lacks.
const CONFIGURATION_CODES: [&str; 6] = ["3D000", "3F000", "42P01", "42703", "42883", "42501"];

/// `context: what went wrong`: the database's message and SQLSTATE, or
/// sqlx's description of the failure. Neither repeats the connection URL
/// or its password (PostgreSQL names the role and the database at most).
pub(super) fn store_error(context: &str, err: &sqlx::Error) -> StoreError {
    let cause = match err {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (SQLSTATE {code})", db.message()),
            None => db.message().to_owned(),
        },
        other => other.to_string(),
    };
    let message = format!("{context}: {cause}");
    if is_configuration(err) {
        StoreError::configuration(message)
    } else {
        StoreError::new(message)
    }
}

/// Whether `err` is a mistake in the configuration rather than an outage.
fn is_configuration(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Configuration(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("28") || CONFIGURATION_CODES.contains(&code.as_ref())),
        _ => false,
    }
}
/// Column `index` of `row`; a row of another shape is an error, not a guess.
pub(super) fn column<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r PgRow,
    index: usize,
) -> Result<T, StoreError> {
    row.try_get(index)
        .map_err(|err| store_error("PostgreSQL answered in an unexpected shape", &err))
}
