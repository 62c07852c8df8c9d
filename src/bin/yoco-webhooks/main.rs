//! `yoco-webhooks`: register, list and delete the account's Yoco webhooks
//! from a command line.
//!
//! ```text
//! cargo install yoco-webhooks --features cli
//! export YOCO_SECRET_KEY=sk_test_...          # the account's secret API key
//! yoco-webhooks ensure --name shop --url https://shop.example.com/webhooks/yoco
//! yoco-webhooks list --json
//! yoco-webhooks delete sub_...
//! yoco-webhooks --help
//! ```
//!
//! With the `postgres` feature too (`--features cli,postgres`), `inbox`
//! looks after the PostgreSQL inbox (`postgres::Inbox`) at
//! `YOCO_DATABASE_URL`:
//!
//! ```text
//! yoco-webhooks inbox dead                  # deliveries that failed every attempt
//! yoco-webhooks inbox pending --json        # waiting for a worker, one JSON object a line
//! yoco-webhooks inbox retry msg_...         # a dead one back to pending, due now
//! yoco-webhooks inbox purge --older-than-hours 28
//! ```
//!
//! From a checkout of this repository, `cargo run --features cli -- <command>`
//! runs the same program.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use yoco_webhooks::registration::{
    Client, ClientError, DEFAULT_API_BASE, DEFAULT_TIMEOUT, Ensured, Error, Registered, RegistrationApi, SecretKey,
    Subscription, SubscriptionId,
};

/// The environment and the exit codes, under every `--help`.
const AFTER_HELP: &str = "\
Environment:
  YOCO_SECRET_KEY    the account's secret API key (sk_live_... or sk_test_...), required
                     by register, ensure, list and delete; the webhook gets the key's mode
  YOCO_API_BASE      another API base URL (default https://payments.yoco.com/api):
                     https://, or plain http:// only to a loopback address
  YOCO_DATABASE_URL  the PostgreSQL database of the inbox (postgres://user:password@host/db),
                     required by inbox (feature postgres)
Their values are never printed.

Exit status:
  0  success
  1  an error from Yoco's API, or Yoco could not be reached
  2  a usage or configuration error: bad arguments (also a URL or id refused
     before sending), YOCO_SECRET_KEY unset, YOCO_API_BASE refused,
     YOCO_DATABASE_URL unset or refused by the database";

/// Register, list and delete the Yoco webhooks of an account.
///
/// Yoco allows five webhooks per account and recommends one: prefer
/// `ensure`, which reuses an existing registration of the URL in the key's
/// mode.
#[derive(Debug, Parser)]
#[command(name = "yoco-webhooks", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register an endpoint and print its webhook secret, which Yoco shows
    /// only this once.
    #[command(after_help = AFTER_HELP)]
    Register(Endpoint),
    /// Register an endpoint unless a webhook of the key's mode (live for
    /// sk_live_, test for sk_test_) has its URL already; print the new
    /// secret, or the existing webhook.
    #[command(after_help = AFTER_HELP)]
    Ensure(Endpoint),
    /// List the account's webhooks: id, mode, name and URL (never secrets).
    #[command(after_help = AFTER_HELP)]
    List {
        /// Print one JSON document for scripts:
        /// {"webhooks":[{"id":..,"name":..,"url":..,"mode":"live"|"test"|null}]}
        #[arg(long)]
        json: bool,
    },
    /// Delete a webhook by its id.
    #[command(after_help = AFTER_HELP)]
    Delete {
        /// The webhook's id, as `list` shows it (`sub_...`).
        id: String,
    },
    /// Look after the PostgreSQL inbox: list pending and dead deliveries,
    /// retry a dead one, purge done ones.
    #[cfg(feature = "postgres")]
    #[command(subcommand, after_help = AFTER_HELP)]
    Inbox(inbox::InboxCommand),
}

/// Where Yoco should post events.
#[derive(Debug, Args)]
struct Endpoint {
    /// A name for the webhook, shown by `list`.
    #[arg(long)]
    name: String,
    /// The endpoint's URL: https://, or plain http:// only to a loopback
    /// address.
    #[arg(long)]
    url: String,
}

/// A failure, with the exit code it earns and a one-line reason.
#[derive(Debug)]
struct Failure(u8, String);

impl From<ClientError> for Failure {
    fn from(err: ClientError) -> Self {
        let code = match err.api_error() {
            Some(Error::EmptyName | Error::InvalidEndpointUrl { .. } | Error::InvalidId | Error::UnknownKeyMode) => 2,
            _ => 1,
        };
        Failure(code, one_line(&err))
    }
}

fn main() -> ExitCode {
    // Usage errors exit 2 and `--help` / `--version` exit 0, from clap.
    let cli = Cli::parse();
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| Failure(1, format!("could not start the async runtime: {err}")))
        .and_then(|runtime| runtime.block_on(run(cli.command)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, reason)) => {
            eprintln!("error: {reason}");
            ExitCode::from(code)
        }
    }
}

async fn run(command: Command) -> Result<(), Failure> {
    #[cfg(feature = "postgres")]
    if let Command::Inbox(command) = command {
        return inbox::run(command).await;
    }
    let client = client()?;
    match command {
        Command::Register(Endpoint { name, url }) => print_registered(&client.register(&name, &url).await?),
        Command::Ensure(Endpoint { name, url }) => match client.ensure(&name, &url).await? {
            Ensured::Registered(registered) => print_registered(&registered),
            Ensured::Existing(webhook) => {
                println!("already registered: {}", describe(&webhook));
                println!(
                    "its secret was shown only when it was registered; if you have lost it, \
                     delete this webhook and register again"
                );
            }
        },
        Command::List { json } => {
            let webhooks = client.list().await?;
            if json {
                println!("{}", as_json(&webhooks));
            } else if webhooks.is_empty() {
                println!("no webhooks registered");
            }
            for webhook in webhooks.iter().filter(|_| !json) {
                println!("{}", describe(webhook));
            }
            if webhooks.len() > 1 {
                eprintln!(
                    "note: {} webhooks receive every event; Yoco recommends one",
                    webhooks.len()
                );
            }
        }
        Command::Delete { id } => {
            let id = SubscriptionId::new(id);
            client.delete(&id).await?;
            println!("deleted {id}");
        }
        #[cfg(feature = "postgres")]
        Command::Inbox(_) => {}
    }
    Ok(())
}

/// The client from the environment; errors name the variable, never its value.
fn client() -> Result<Client, Failure> {
    let key = std::env::var("YOCO_SECRET_KEY")
        .ok()
        .filter(|key| !key.trim().is_empty())
        .ok_or_else(|| {
            Failure(
                2,
                "set YOCO_SECRET_KEY to the account's secret API key (sk_...)".to_owned(),
            )
        })?;
    let mut api = RegistrationApi::new(SecretKey::new(key));
    match std::env::var("YOCO_API_BASE") {
        Ok(base) => {
            api = api
                .with_base_url(&base)
                .map_err(|err| Failure(2, format!("YOCO_API_BASE: {err} (default {DEFAULT_API_BASE})")))?;
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(Failure(2, "YOCO_API_BASE is not valid UTF-8".to_owned()));
        }
        Err(std::env::VarError::NotPresent) => {}
    }
    Client::with_api(api, DEFAULT_TIMEOUT).map_err(Failure::from)
}

/// An error and its sources on one line.
fn one_line(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line.replace(['\n', '\r'], " ")
}

fn describe(webhook: &Subscription) -> String {
    let mode = webhook.mode.as_ref().map_or("?", |mode| mode.as_str());
    format!("{}  {mode}  {}  {}", webhook.id, webhook.name, webhook.url)
}

/// `list --json`: the webhooks as one document (they carry no secrets).
fn as_json(webhooks: &[Subscription]) -> serde_json::Value {
    let webhooks: Vec<serde_json::Value> = webhooks
        .iter()
        .map(|webhook| {
            serde_json::json!({
                "id": webhook.id.as_str(),
                "name": webhook.name,
                "url": webhook.url,
                "mode": webhook.mode.as_ref().map(|mode| mode.as_str()),
            })
        })
        .collect();
    serde_json::json!({ "webhooks": webhooks })
}

fn print_registered(registered: &Registered) {
    println!("registered: {}", describe(&registered.webhook));
    println!("secret: {}", registered.secret.expose());
    eprintln!("warning: store this secret now (as YOCO_WEBHOOK_SECRET); Yoco will not show it again");
}

/// `yoco-webhooks inbox ...`: the PostgreSQL inbox.
#[cfg(feature = "postgres")]
mod inbox {
    use std::time::Duration;

    use clap::{Args, Subcommand};
    use time::format_description::well_known::Rfc3339;
    use yoco_webhooks::postgres::sqlx::ConnectOptions as _;
    use yoco_webhooks::postgres::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use yoco_webhooks::postgres::{DEFAULT_INBOX_TABLE, Inbox, InboxEntry, InboxState};
    use yoco_webhooks::{Event, WebhookId};

    use super::{Failure, one_line};

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
        /// One JSON object a line: webhook_id, event_id, type, attempts,
        /// received_at, due_at, finished_at, last_error.
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
                if inbox
                    .retry(&WebhookId::new(webhook_id.clone()))
                    .await
                    .map_err(unavailable)?
                {
                    println!("retrying {webhook_id}: pending, due now");
                    Ok(())
                } else {
                    Err(Failure(
                        1,
                        format!("no dead delivery {webhook_id} in {}", inbox.table()),
                    ))
                }
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
                println!(
                    "{}  {}  {}  attempts={}  received={}  due={}{}",
                    line["webhook_id"].as_str().unwrap_or_default(),
                    line["type"].as_str().unwrap_or("?"),
                    line["event_id"].as_str().unwrap_or("?"),
                    entry.attempts,
                    line["received_at"].as_str().unwrap_or_default(),
                    line["due_at"].as_str().unwrap_or_default(),
                    entry
                        .last_error
                        .as_ref()
                        .map(|error| format!("  error: {error}"))
                        .unwrap_or_default(),
                );
            }
        }
        Ok(())
    }

    /// What a person needs to see of an entry (never the signature).
    fn describe(entry: &InboxEntry) -> serde_json::Value {
        let event = Event::from_slice(entry.stored.body().as_bytes()).ok();
        let time = |at: time::OffsetDateTime| at.format(&Rfc3339).ok();
        serde_json::json!({
            "webhook_id": entry.stored.webhook_id().as_str(),
            "event_id": event.as_ref().map(|event| event.id.as_str()),
            "type": event.as_ref().map(Event::event_type),
            "attempts": entry.attempts,
            "received_at": time(entry.stored.received_at()),
            "due_at": time(entry.due_at),
            "finished_at": entry.finished_at.and_then(time),
            "last_error": entry.last_error,
        })
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

    fn unavailable(err: yoco_webhooks::dedup::StoreError) -> Failure {
        Failure(1, one_line(&err))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(line: &str) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("yoco-webhooks").chain(line.split_whitespace())).map(|cli| cli.command)
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn reads_each_command() {
        assert!(matches!(
            parse("register --url https://x/ --name shop"),
            Ok(Command::Register(Endpoint { name, url })) if name == "shop" && url == "https://x/"
        ));
        assert!(matches!(parse("ensure --name a --url b"), Ok(Command::Ensure(_))));
        assert!(matches!(parse("list"), Ok(Command::List { json: false })));
        assert!(matches!(parse("list --json"), Ok(Command::List { json: true })));
        assert!(matches!(parse("delete sub_1"), Ok(Command::Delete { id }) if id == "sub_1"));
        #[cfg(feature = "postgres")]
        for line in [
            "inbox dead",
            "inbox pending --json --limit 5",
            "inbox retry msg_1",
            "inbox purge --older-than-hours 48",
        ] {
            assert!(matches!(parse(line), Ok(Command::Inbox(_))), "{line}");
        }
    }

    #[test]
    fn refuses_malformed_command_lines_as_usage_errors() {
        for line in [
            "",
            "list extra",
            "delete",
            "delete a b",
            "register --name shop",
            "register --url https://x/",
            "register --name",
            "register --colour red",
            "frobnicate",
        ] {
            let err = parse(line).expect_err(line);
            assert_eq!(err.exit_code(), 2, "{line}: {err}");
        }
    }

    #[test]
    fn refused_input_is_a_usage_error_and_yocos_refusal_an_api_error() {
        assert_eq!(Failure::from(ClientError::from(Error::InvalidId)).0, 2);
        assert_eq!(Failure::from(ClientError::from(Error::UnknownKeyMode)).0, 2);
        let refused = Error::Rejected {
            status: 400,
            message: "no".into(),
        };
        assert_eq!(Failure::from(ClientError::from(refused)).0, 1);
    }
}
