//! `yoco-webhooks`: register, list and delete the account's Yoco webhooks
//! from a command line, send a signed sample event to a receiver, relay
//! Yoco's test deliveries to an app on this machine, and say why a refused
//! request is not authentic.
//!
//! ```text
//! cargo install yoco-webhooks --features cli
//! yoco-webhooks trigger payment.succeeded --to http://127.0.0.1:3000/webhooks/yoco --checkout ch_...
//! yoco-webhooks doctor --request refused.http --at 1718466715   # why it got 401
//! export YOCO_SECRET_KEY=sk_test_...          # the account's secret API key
//! yoco-webhooks ensure --name shop --url https://shop.example.com/webhooks/yoco
//! yoco-webhooks list --json
//! yoco-webhooks delete sub_...
//! yoco-webhooks --help
//! ```
//!
//! `listen` brings Yoco's test deliveries to an app on this machine through
//! a tunnel the developer runs (cloudflared, ngrok, a port forward): it
//! registers a webhook at the tunnel's public URL, serves the port the
//! tunnel points at (127.0.0.1:4242), verifies each delivery, forwards it to
//! the app signed with a local secret that stays the same from run to run,
//! answers Yoco with the app's status, and deletes the webhook on Ctrl-C:
//!
//! ```text
//! export YOCO_SECRET_KEY=sk_test_...
//! YOCO_WEBHOOK_SECRET=$(yoco-webhooks listen --print-secret) cargo run   # the app
//! cloudflared tunnel --url http://127.0.0.1:4242                        # the tunnel
//! yoco-webhooks listen --public-url https://abc.trycloudflare.com/yoco \
//!     --forward-to http://localhost:3000/webhooks/yoco
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
//! With the `sqs` feature too (`--features cli,sqs`), `sqs` looks after the
//! dead-letter queue of an SQS queue (`sqs::SqsQueue`), with the AWS
//! configuration of the environment:
//!
//! ```text
//! yoco-webhooks sqs dead --queue https://sqs.../yoco              # the dead-letter queue's deliveries
//! yoco-webhooks sqs redrive --queue https://sqs.../yoco --webhook-id msg_...
//! ```
//!
//! From a checkout of this repository, `cargo run --features cli -- <command>`
//! runs the same program.

#[cfg(any(feature = "postgres", feature = "sqs"))]
mod described; // what the queues' listings show of a delivery
mod doctor; // `doctor`
mod failure; // the exit code and one-line reason of a failure
#[cfg(feature = "postgres")]
mod inbox; // `inbox ...`
mod listen; // `listen`
mod register; // `register`, `ensure`, `list`, `delete`
#[cfg(feature = "sqs")]
mod sqs; // `sqs ...`
mod trigger; // `trigger`

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use doctor::Doctor;
use failure::Failure;
use listen::Listen;
use register::Endpoint;
use trigger::Trigger;

/// The environment and the exit codes, under every `--help`.
const AFTER_HELP: &str = "\
Environment:
  YOCO_WEBHOOK_SECRET  the webhook secret (whsec_...) trigger signs with and doctor checks
                     with, unless --secret (doctor: YOCO_WEBHOOK_SECRET_TEST too, the test one)
  YOCO_SECRET_KEY    the account's secret API key (sk_live_... or sk_test_...), required
                     by register, ensure, list, delete and listen; the webhook gets the key's mode
  YOCO_LISTEN_SECRET the secret listen signs forwarded deliveries with, unless --local-secret
                     (default: derived from YOCO_SECRET_KEY, the same on every run)
  YOCO_API_BASE      another API base URL (default https://payments.yoco.com/api):
                     https://, or plain http:// only to a loopback address
  YOCO_DATABASE_URL  the PostgreSQL database of the inbox (postgres://user:password@host/db),
                     required by inbox (feature postgres)
  AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, ...  the AWS configuration of sqs (feature sqs)
Their values are never printed; listen prints its local secret, for the app.

Exit status:
  0  success; for doctor, the request verifies
  1  an error from Yoco's API, or Yoco could not be reached; for trigger,
     an answer that was not 2xx, or the endpoint could not be reached; for
     doctor, a request that does not verify (the cause is printed); for
     listen, its webhook could not be deleted at the end
  2  a usage or configuration error: bad arguments (also a URL or id refused
     before sending), YOCO_SECRET_KEY unset, YOCO_API_BASE refused,
     YOCO_DATABASE_URL unset or refused by the database, the inbox table
     missing or not migrated, the webhook secret missing or not a whsec_
     secret; for listen, a live key without --live, or the address cannot
     be served
  3  listen: the account already has the 5 webhooks Yoco allows (listed)
  4  inbox: the database could not answer; sqs: SQS could not answer (try again)
  5  inbox retry: the delivery is not dead (pending or done), or not in the inbox;
     sqs redrive --webhook-id: the delivery is not in the dead-letter queue";

/// Register, list and delete the Yoco webhooks of an account; send a signed
/// sample event to a receiver.
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
    /// Send a signed sample event to an endpoint now, as Yoco would, and
    /// print each answer (the same --id again imitates a retry).
    #[command(after_help = AFTER_HELP)]
    Trigger(Trigger),
    /// Relay Yoco's test deliveries to an app on this machine through a
    /// tunnel: register a webhook at the tunnel's URL, verify each delivery,
    /// forward it signed with a stable local secret, answer with the app's
    /// status; delete the webhook on Ctrl-C.
    #[command(after_help = AFTER_HELP)]
    Listen(Listen),
    /// Say why a request was refused as not authentic (401): a missing or
    /// renamed header, a misspelled signature, a timestamp outside the
    /// tolerance, the other mode's secret, a body changed on its way in...
    /// Exits 0 when it verifies.
    #[command(after_help = AFTER_HELP)]
    Doctor(Doctor),
    /// Look after the PostgreSQL inbox: list pending and dead deliveries,
    /// retry a dead one, purge done ones.
    #[cfg(feature = "postgres")]
    #[command(subcommand, after_help = AFTER_HELP)]
    Inbox(inbox::InboxCommand),
    /// Look after an SQS queue's dead-letter queue: list its deliveries,
    /// move them back.
    #[cfg(feature = "sqs")]
    #[command(subcommand, after_help = AFTER_HELP)]
    Sqs(sqs::SqsCommand),
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
    match command {
        Command::Register(endpoint) => register::register(endpoint).await,
        Command::Ensure(endpoint) => register::ensure(endpoint).await,
        Command::List { json } => register::list(json).await,
        Command::Delete { id } => register::delete(id).await,
        Command::Trigger(options) => trigger::trigger(options).await,
        Command::Listen(options) => listen::listen(options).await,
        Command::Doctor(options) => doctor::doctor(options),
        #[cfg(feature = "postgres")]
        Command::Inbox(command) => inbox::run(command).await,
        #[cfg(feature = "sqs")]
        Command::Sqs(command) => sqs::run(command).await,
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
        assert!(matches!(
            parse("trigger --to http://127.0.0.1:1/x"),
            Ok(Command::Trigger(Trigger { event_type, repeat: 1, concurrency: 1, .. })) if event_type == "payment.succeeded"
        ));
        assert!(matches!(
            parse("trigger refund.failed --to http://x/ --mode live --repeat 5 --concurrency 5 --json"),
            Ok(Command::Trigger(Trigger { event_type, json: true, .. })) if event_type == "refund.failed"
        ));
        let hidden = parse("trigger --to http://x/ --secret whsec_c2VjcmV0");
        assert!(!format!("{hidden:?}").contains("whsec_"), "{hidden:?}");
        let doctor = parse("doctor --request r.http --secret whsec_c2VjcmV0 --live-secret whsec_bGl2ZQ --json");
        assert!(matches!(
            &doctor,
            Ok(Command::Doctor(Doctor {
                json: true,
                tolerance: 180,
                ..
            }))
        ));
        assert!(!format!("{doctor:?}").contains("whsec_"), "{doctor:?}");
        assert!(matches!(
            parse("doctor -H webhook-id:msg_1 --body-text {}"),
            Ok(Command::Doctor(_))
        ));
        assert!(matches!(
            parse("listen --public-url https://abc.example/yoco --forward-to http://localhost:3000/"),
            Ok(Command::Listen(Listen {
                port: 4242,
                listen: None,
                live: false,
                json: false,
                ..
            }))
        ));
        let hidden = parse("listen --print-secret --local-secret whsec_c2VjcmV0");
        assert!(
            matches!(hidden, Ok(Command::Listen(Listen { print_secret: true, .. })))
                && !format!("{hidden:?}").contains("whsec_"),
            "{hidden:?}"
        );
        #[cfg(feature = "postgres")]
        for line in [
            "inbox dead",
            "inbox pending --json --limit 5",
            "inbox retry msg_1",
            "inbox purge --older-than-hours 48",
        ] {
            assert!(matches!(parse(line), Ok(Command::Inbox(_))), "{line}");
        }
        #[cfg(feature = "sqs")]
        for line in [
            "sqs dead --queue http://q",
            "sqs dead --queue http://q --json --limit 5",
            "sqs redrive --queue http://q --webhook-id msg_1",
        ] {
            assert!(matches!(parse(line), Ok(Command::Sqs(_))), "{line}");
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
            "trigger",
            "trigger --to http://x/ --repeat 0",
            "trigger --to http://x/ --mode staging",
            "doctor",
            "doctor --request a --header b:c",
            "doctor --body-text {}",
            "doctor --request a --at soon",
            "listen",
            "listen --public-url https://x/",
            "listen --public-url https://x/ --forward-to http://y/ --port 1 --listen 127.0.0.1:2",
            "listen --print-secret --port 70000",
        ] {
            let err = parse(line).expect_err(line);
            assert_eq!(err.exit_code(), 2, "{line}: {err}");
        }
    }
}
