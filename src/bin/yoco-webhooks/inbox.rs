//! `yoco-webhooks inbox ...`: the PostgreSQL inbox at `YOCO_DATABASE_URL`.

use std::time::Duration;

use clap::{Args, Subcommand};
use time::format_description::well_known::Rfc3339;
use yoco_webhooks::WebhookId;
use yoco_webhooks::postgres::sqlx::ConnectOptions as _;
use yoco_webhooks::postgres::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use yoco_webhooks::postgres::{DEFAULT_INBOX_TABLE, Inbox, InboxEntry, InboxState};

use crate::described::{amount_text, delivery_fields};
use crate::failure::{Failure, one_line};

#[derive(Debug, Subcommand)]
pub(super) enum InboxCommand {
    /// List the deliveries waiting for a worker (or for their next
    /// attempt), the earliest due first.
    Pending(Listing),
    /// List the dead deliveries: failed (or abandoned) every attempt, or
    /// refused as not authentic; kept for a person to look at.
    Dead(Listing),
    /// Put a dead delivery back: pending, due now, with all its attempts.
    Retry {
        /// The delivery's `webhook-id`, as `dead` shows it.
        webhook_id: String,
        #[command(flatten)]
        table: Table,
    },
    /// Delete the deliveries done longer ago than the retention.
    Purge {
        /// Keep done deliveries this many hours; keep them beyond Yoco's
        /// retries (28 hours) so that a late retry is still recognised.
        #[arg(long, default_value_t = 28)]
        older_than_hours: u32,
        #[command(flatten)]
        table: Table,
    },
}

#[derive(Debug, Args)]
pub(super) struct Listing {
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// One JSON object a line: webhook_id, state, event_id, type,
    /// checkout_id, amount (minor units), currency, mode, attempts,
    /// received_at, due_at (pending only), finished_at, last_error.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    table: Table,
}

#[derive(Debug, Args)]
pub(super) struct Table {
    /// The inbox table (`name` or `schema.name`).
    #[arg(long, default_value = DEFAULT_INBOX_TABLE)]
    table: String,
}

pub(super) async fn run(command: InboxCommand) -> Result<(), Failure> {
    match command {
        InboxCommand::Pending(listing) => list(InboxState::Pending, listing).await,
        InboxCommand::Dead(listing) => list(InboxState::Dead, listing).await,
        InboxCommand::Retry { webhook_id, table } => {
            let inbox = connect(&table).await?;
            let id = WebhookId::new(webhook_id.clone());
            if inbox.retry(&id).await.map_err(unavailable)? {
                println!("retrying {webhook_id}: pending, due now");
                return Ok(());
            }
            let why = match inbox.get(&id).await.map_err(unavailable)? {
                Some(entry) => format!("{webhook_id} is {}, not dead: nothing to retry", entry.state),
                None => format!("no delivery {webhook_id} in {}", inbox.table()),
            };
            Err(Failure(NOT_DEAD, why))
        }
        InboxCommand::Purge {
            older_than_hours,
            table,
        } => {
            let inbox = connect(&table).await?;
            let retention = Duration::from_secs(u64::from(older_than_hours) * 3600);
            let purged = inbox.purge_done(retention).await.map_err(unavailable)?;
            println!("purged {purged} done deliveries older than {older_than_hours} hours");
            Ok(())
        }
    }
}

async fn list(state: InboxState, listing: Listing) -> Result<(), Failure> {
    let inbox = connect(&listing.table).await?;
    let entries = inbox.list(state, listing.limit).await.map_err(unavailable)?;
    if entries.is_empty() && !listing.json {
        println!("no {state} deliveries");
    }
    for entry in &entries {
        let line = describe(entry);
        if listing.json {
            println!("{line}");
        } else {
            println!("{}", one_line_of(entry, &line));
        }
    }
    Ok(())
}

/// What a person needs to see of an entry to find the order (never the
/// signature): the event's type, checkout, amount and mode, its attempts,
/// and when it is due (pending) or was given up (dead).
fn describe(entry: &InboxEntry) -> serde_json::Value {
    let time = |at: time::OffsetDateTime| at.format(&Rfc3339).ok();
    let mut described = delivery_fields(Some(&entry.stored));
    let more = serde_json::json!({
        "state": entry.state.as_str(),
        "attempts": entry.attempts,
        // Only a pending delivery waits for a next attempt.
        "due_at": (entry.state == InboxState::Pending).then(|| time(entry.due_at)).flatten(),
        "finished_at": entry.finished_at.and_then(time),
        "last_error": entry.last_error,
    });
    if let serde_json::Value::Object(more) = more {
        described.extend(more);
    }
    serde_json::Value::Object(described)
}

/// `described` on one line for a person: `?` for what the body does not say.
fn one_line_of(entry: &InboxEntry, described: &serde_json::Value) -> String {
    let text = |key: &str| described[key].as_str().unwrap_or("?").to_owned();
    let amount = amount_text(described);
    let when = match entry.state {
        InboxState::Pending => format!("due={}", text("due_at")),
        _ => format!("{}={}", entry.state, text("finished_at")),
    };
    let error = entry
        .last_error
        .as_ref()
        .map(|error| format!("  error: {error}"))
        .unwrap_or_default();
    format!(
        "{}  {}  checkout={}  amount={amount}  mode={}  event={}  attempts={}  received={}  {when}{error}",
        text("webhook_id"),
        text("type"),
        text("checkout_id"),
        text("mode"),
        text("event_id"),
        entry.attempts,
        text("received_at"),
    )
}

/// The inbox at `YOCO_DATABASE_URL`; errors name the variable, never
/// its value.
async fn connect(table: &Table) -> Result<Inbox, Failure> {
    let url = std::env::var("YOCO_DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .ok_or_else(|| {
            Failure(
                2,
                "set YOCO_DATABASE_URL to the inbox's database (postgres://...)".to_owned(),
            )
        })?;
    let options: PgConnectOptions = url.parse().map_err(|err: yoco_webhooks::postgres::sqlx::Error| {
        Failure(2, format!("YOCO_DATABASE_URL: {}", one_line(&err)))
    })?;
    // One connection first: its error says why (refused, unknown
    // database, password), where a pool's would only time out.
    drop(
        options
            .connect()
            .await
            .map_err(|err| Failure(2, format!("YOCO_DATABASE_URL: {}", one_line(&err))))?,
    );
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(options);
    Inbox::with_table(pool, &table.table).map_err(|err| Failure(2, format!("--table: {err}")))
}

/// The exit code when the inbox's database could not answer.
const DATABASE_UNAVAILABLE: u8 = 4;
/// The exit code of `inbox retry` when the delivery is not dead.
const NOT_DEAD: u8 = 5;

/// A database that could not answer (3), or one set up wrong: a table
/// missing or not migrated, a privilege lacking (2, as a configuration
/// error).
fn unavailable(err: yoco_webhooks::dedup::StoreError) -> Failure {
    let code = if err.is_configuration() {
        2
    } else {
        DATABASE_UNAVAILABLE
    };
    Failure(code, one_line(&err))
}
