//! The store's table: its name, the SQL rendered for it, and the
//! migration that creates it.

use std::time::Duration;

use super::PostgresStore;

/// The table a [`PostgresStore::new`] uses.
pub const DEFAULT_TABLE: &str = "yoco_webhook_deliveries";

/// The migration creating the default table ([`DEFAULT_TABLE`]) and its
/// expiry index, for teams that run their own migrations; safe to run more
/// than once. [`PostgresStore::migration`] gives it for another table name.
pub const MIGRATION: &str = r#"CREATE TABLE IF NOT EXISTS "yoco_webhook_deliveries" (
    webhook_id    text        PRIMARY KEY,
    owner         text        NOT NULL,
    claimed_until timestamptz NOT NULL,
    done_until    timestamptz
);
CREATE INDEX IF NOT EXISTS "yoco_webhook_deliveries_expiry"
    ON "yoco_webhook_deliveries" ((coalesce(done_until, claimed_until)));
"#;

/// The longest table (or schema) name accepted: with `_expiry` appended for
/// the index it stays within PostgreSQL's 63-byte identifiers.
const MAX_NAME_LEN: usize = 56;

/// A table name that [`PostgresStore::with_table`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid table name {0:?}: use `table` or `schema.table`, each part lowercase ASCII letters, digits and \
     underscores, not starting with a digit, at most 56 characters"
)]
pub struct TableNameError(String);

/// The store's SQL, rendered once for its table. The table name is
/// validated and quoted; every value is a bind parameter.
#[derive(Debug)]
pub(super) struct Statements {
    pub(super) migration: String,
    pub(super) claim: String,
    pub(super) complete: String,
    pub(super) release: String,
    pub(super) purge: String,
}

/// `table` (`name` or `schema.name`) split into its quoted form and its
/// unqualified name, if it is a name [`PostgresStore::with_table`] accepts.
pub(super) fn parse_table(table: &str) -> Result<(String, &str), TableNameError> {
    let (schema, name) = match table.split_once('.') {
        Some((schema, name)) => (Some(schema), name),
        None => (None, table),
    };
    if !schema.is_none_or(is_identifier) || !is_identifier(name) {
        return Err(TableNameError(table.to_owned()));
    }
    Ok((quote(schema, name), name))
}

impl PostgresStore {
    /// The migration for this store's table: [`MIGRATION`] for the default.
    pub fn migration(&self) -> &str {
        &self.sql.migration
    }

    /// Creates the table and its index unless they exist. Safe to run at
    /// every start, from every instance at once.
    ///
    /// # Errors
    /// The database's error, if it could not be reached or refused (for
    /// example, the role may not create tables: run [`migration`](Self::migration)
    /// as a role that may).
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        migrate_locked(&self.pool, &self.sql.migration).await
    }

    /// Deletes the rows that no longer count: claims whose lease ran out and
    /// deliveries done longer ago than their retention. Returns how many.
    /// Nothing else deletes rows: call it from a periodic job.
    ///
    /// # Errors
    /// The database's error.
    pub async fn purge_expired(&self) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(&self.sql.purge).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    /// The periodic job: [`purge_expired`](Self::purge_expired) now and then
    /// every `period`, forever; spawn it beside your server. A failed purge
    /// (the database down) is logged with the `tracing` feature and tried
    /// again at the next period: stale rows only take space meanwhile.
    ///
    /// ```no_run
    /// # async fn start(store: yoco_webhooks::postgres::PostgresStore) {
    /// use std::time::Duration;
    /// tokio::spawn({
    ///     let store = store.clone();
    ///     async move { store.purge_every(Duration::from_secs(60 * 60)).await }
    /// });
    /// # }
    /// ```
    pub async fn purge_every(&self, period: Duration) -> std::convert::Infallible {
        let mut ticks = tokio::time::interval(period.max(Duration::from_secs(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let purged = self.purge_expired().await;
            #[cfg(feature = "tracing")]
            match purged {
                Ok(rows) => tracing::debug!(target: "yoco_webhooks::postgres", rows, "expired rows purged"),
                Err(err) => {
                    tracing::warn!(target: "yoco_webhooks::postgres", "purge failed, tried again next period: {err}")
                }
            }
            #[cfg(not(feature = "tracing"))]
            let _ = purged;
        }
    }
}

impl Statements {
    /// The SQL for [`DEFAULT_TABLE`].
    pub(super) fn for_default_table() -> Self {
        Self::for_table(&quote(None, DEFAULT_TABLE), DEFAULT_TABLE)
    }

    /// The SQL for the table `qualified` (quoted, maybe with a schema),
    /// whose unqualified name is `name` (for the index's name).
    pub(super) fn for_table(qualified: &str, name: &str) -> Self {
        let index = quote(None, &format!("{name}_expiry"));
        Self {
            migration: format!(
                "CREATE TABLE IF NOT EXISTS {qualified} (
    webhook_id    text        PRIMARY KEY,
    owner         text        NOT NULL,
    claimed_until timestamptz NOT NULL,
    done_until    timestamptz
);
CREATE INDEX IF NOT EXISTS {index}
    ON {qualified} ((coalesce(done_until, claimed_until)));
"
            ),
            // $1 webhook id, $2 lease in seconds. Inserts, or takes over an
            // expired row; otherwise reads whether the delivery is done.
            claim: format!(
                "WITH claimed AS (
    INSERT INTO {qualified} AS d (webhook_id, owner, claimed_until)
    VALUES ($1, gen_random_uuid()::text, statement_timestamp() + make_interval(secs => $2))
    ON CONFLICT (webhook_id) DO UPDATE
        SET owner = excluded.owner, claimed_until = excluded.claimed_until, done_until = NULL
        WHERE coalesce(d.done_until, d.claimed_until) <= statement_timestamp()
    RETURNING d.owner
)
SELECT owner, false FROM claimed
UNION ALL
SELECT NULL, coalesce(done_until > statement_timestamp(), false) FROM {qualified}
    WHERE webhook_id = $1 AND NOT EXISTS (SELECT FROM claimed)"
            ),
            // $1 webhook id, $2 owner, $3 retention in seconds. Records the
            // delivery done if the owner holds it, or if nobody holds it
            // (its lease ran out, or it was purged); answers (done, ours).
            complete: format!(
                "WITH completed AS (
    INSERT INTO {qualified} AS d (webhook_id, owner, claimed_until, done_until)
    VALUES ($1, $2, statement_timestamp(), statement_timestamp() + make_interval(secs => $3))
    ON CONFLICT (webhook_id) DO UPDATE
        SET owner = excluded.owner, done_until = excluded.done_until
        WHERE (d.done_until IS NULL AND (d.owner = excluded.owner OR d.claimed_until <= statement_timestamp()))
           OR d.done_until <= statement_timestamp()
    RETURNING 1
)
SELECT true, true FROM completed
UNION ALL
SELECT coalesce(done_until > statement_timestamp(), false), owner = $2 FROM {qualified}
    WHERE webhook_id = $1 AND NOT EXISTS (SELECT FROM completed)"
            ),
            // $1 webhook id, $2 owner.
            release: format!("DELETE FROM {qualified} WHERE webhook_id = $1 AND owner = $2 AND done_until IS NULL"),
            purge: format!(
                "DELETE FROM {qualified} WHERE coalesce(done_until, claimed_until) <= statement_timestamp()"
            ),
        }
    }
}

/// Whether `name` is a lowercase identifier we accept unescaped inside
/// double quotes.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_NAME_LEN
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `"name"` of a validated identifier (no quote inside to escape).
pub(super) fn quote_name(name: &str) -> String {
    quote(None, name)
}

/// `"schema"."name"` of validated identifiers (no quote inside to escape).
fn quote(schema: Option<&str>, name: &str) -> String {
    match schema {
        Some(schema) => format!("\"{schema}\".\"{name}\""),
        None => format!("\"{name}\""),
    }
}

/// Runs `migration` under the advisory lock every migration of this crate
/// takes. One simple-query message is one transaction: the lock holds until
/// every statement committed, so concurrent starts wait for each other
/// rather than race on the catalog. Every start migrates, so the same
/// transaction keeps PostgreSQL's notices ("already exists, skipping"),
/// which sqlx logs at INFO, to itself: warnings and errors still come.
pub(super) async fn migrate_locked(pool: &sqlx::PgPool, migration: &str) -> Result<(), sqlx::Error> {
    let locked = format!(
        "SET LOCAL client_min_messages = warning;\nSELECT pg_advisory_xact_lock(hashtext('yoco_webhooks.migrate'));\n{migration}"
    );
    sqlx::raw_sql(&locked).execute(pool).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;

    fn pool() -> PgPool {
        // Never connects: these tests only render SQL.
        sqlx::postgres::PgPoolOptions::new().connect_lazy_with(sqlx::postgres::PgConnectOptions::new())
    }

    #[tokio::test]
    async fn the_default_migration_is_the_published_one() {
        assert_eq!(PostgresStore::new(pool()).migration(), MIGRATION);
    }

    #[tokio::test]
    async fn table_names_are_validated_and_quoted() {
        let store = PostgresStore::with_table(pool(), "billing.order").unwrap();
        assert_eq!(store.table(), "billing.order");
        assert!(
            store
                .migration()
                .contains(r#"CREATE TABLE IF NOT EXISTS "billing"."order" ("#)
        );
        assert!(
            store
                .migration()
                .contains(r#"CREATE INDEX IF NOT EXISTS "order_expiry""#)
        );
        let longest = "x".repeat(MAX_NAME_LEN);
        assert!(PostgresStore::with_table(pool(), &longest).is_ok());
        assert!(PostgresStore::with_table(pool(), "_deliveries2").is_ok());
        for bad in [
            "",
            ".",
            "a.",
            ".a",
            "a.b.c",
            "Deliveries",
            "2deliveries",
            "deliveries; DROP TABLE orders",
            "deliveries\"",
            "déliveries",
            "a b",
            &"x".repeat(MAX_NAME_LEN + 1),
        ] {
            let err = PostgresStore::with_table(pool(), bad).unwrap_err();
            assert!(err.to_string().contains("invalid table name"), "{bad:?}");
        }
    }
}
