//! The inbox's SQL, rendered once per table: the migration (published for
//! the default table as [`INBOX_MIGRATION`]) and every statement the
//! endpoint, the workers and the operator run.

use crate::stores::postgres::schema::quote_name;

/// The migration creating the default inbox table
/// ([`DEFAULT_INBOX_TABLE`](super::DEFAULT_INBOX_TABLE)) and its indexes,
/// for teams that run their own migrations; safe to run more than once, and
/// it adds the `lease` column to a table created by an earlier version.
/// [`Inbox::migration`](super::Inbox::migration) gives it for another table
/// name.
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
CREATE INDEX IF NOT EXISTS "yoco_webhook_inbox_dead"
    ON "yoco_webhook_inbox" (finished_at) WHERE state = 'dead';
"#;

/// The inbox's SQL, rendered once for its table.
/// The columns of an `InboxEntry`, in the order `operator::entry` reads them.
const ENTRY_COLUMNS: &str = "webhook_id, webhook_timestamp, webhook_signature, body,
       extract(epoch FROM received_at)::bigint, attempts,
       extract(epoch FROM due_at)::float8, extract(epoch FROM finished_at)::float8, last_error, receipt, state";

#[derive(Debug)]
pub(super) struct InboxStatements {
    pub(super) migration: String,
    pub(super) enqueue: String,
    pub(super) take: String,
    pub(super) hold: String,
    pub(super) leased: String,
    pub(super) done: String,
    pub(super) failed: String,
    pub(super) refused: String,
    pub(super) release: String,
    pub(super) list: String,
    pub(super) counts: String,
    pub(super) get: String,
    pub(super) retry: String,
    pub(super) purge: String,
}

impl InboxStatements {
    pub(super) fn for_table(qualified: &str, name: &str) -> Self {
        let due = quote_name(&format!("{name}_due"));
        let done = quote_name(&format!("{name}_done"));
        let dead = quote_name(&format!("{name}_dead"));
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
CREATE INDEX IF NOT EXISTS {dead}
    ON {qualified} (finished_at) WHERE state = 'dead';
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
            // $1 id, $2 lease, $3 the transaction's idle limit in ms. Locks
            // the taken delivery until the worker's transaction ends, unless
            // another worker took it over meanwhile (its wait had passed):
            // then no row. Held, it sets the limit for this transaction.
            hold: format!(
                "SELECT set_config('idle_in_transaction_session_timeout', $3, true) FROM {qualified}
WHERE webhook_id = $1 AND state = 'pending' AND lease = $2::uuid
FOR UPDATE SKIP LOCKED"
            ),
            // $1 id, $2 lease: whether the taken attempt is still the
            // delivery's (the latest committed state, without a lock).
            leased: format!("SELECT state = 'pending' AND lease = $2::uuid FROM {qualified} WHERE webhook_id = $1"),
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
            // $1 id. A shutdown gives the attempt back: not counted, due now.
            release: format!(
                "UPDATE {qualified}
SET attempts = greatest(attempts - 1, 0), due_at = statement_timestamp(), lease = NULL
WHERE webhook_id = $1"
            ),
            // Pending, dead, and the oldest pending delivery's age: each on
            // its partial index, never over the done rows.
            counts: format!(
                "SELECT (SELECT count(*) FROM {qualified} WHERE state = 'pending'),
       (SELECT count(*) FROM {qualified} WHERE state = 'dead'),
       (SELECT extract(epoch FROM clock_timestamp() - min(received_at))::float8 FROM {qualified} WHERE state = 'pending')"
            ),
            // $1 id, $2 why.
            refused: format!(
                "UPDATE {qualified}
SET state = 'dead', finished_at = statement_timestamp(), last_error = $2, lease = NULL
WHERE webhook_id = $1"
            ),
            // $1 state, $2 how many.
            list: format!(
                "SELECT {ENTRY_COLUMNS}
FROM {qualified}
WHERE state = $1
ORDER BY due_at, webhook_id
LIMIT $2"
            ),
            // $1 id.
            get: format!("SELECT {ENTRY_COLUMNS} FROM {qualified} WHERE webhook_id = $1"),
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
