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
  YOCO_SECRET_KEY  the account's secret API key (sk_live_... or sk_test_...), required;
                   the webhook gets the key's mode (live or test)
  YOCO_API_BASE    another API base URL (default https://payments.yoco.com/api):
                   https://, or plain http:// only to a loopback address
Their values are never printed.

Exit status:
  0  success
  1  an error from Yoco's API, or Yoco could not be reached
  2  a usage or configuration error: bad arguments (also a URL or id refused
     before sending), YOCO_SECRET_KEY unset, YOCO_API_BASE refused";

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
