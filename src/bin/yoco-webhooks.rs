//! `yoco-webhooks`: register, list and delete the account's Yoco webhooks
//! from a command line.
//!
//! ```text
//! cargo install yoco-webhooks --features cli
//! export YOCO_SECRET_KEY=sk_test_...          # the account's secret API key
//! yoco-webhooks register --name shop --url https://shop.example.com/webhooks/yoco
//! yoco-webhooks ensure --name shop --url https://shop.example.com/webhooks/yoco
//! yoco-webhooks list
//! yoco-webhooks delete sub_...
//! ```
//!
//! From a checkout of this repository, `cargo run --example manage_webhooks
//! --features client -- <command>` runs the same program.
//!
//! `YOCO_API_BASE` overrides `https://payments.yoco.com/api` (a local
//! imitation, in tests). Every failure exits non-zero with a one-line reason:
//! 2 for a usage or configuration error, 1 for an error from the API.

use std::process::ExitCode;

use yoco_webhooks::registration::{
    Client, ClientError, DEFAULT_TIMEOUT, Ensured, Registered, RegistrationApi, SecretKey, Subscription, SubscriptionId,
};

const USAGE: &str =
    "usage: yoco-webhooks (register --name NAME --url URL | ensure --name NAME --url URL | list | delete ID)";

/// A failure, with the exit code it earns.
struct Failure(u8, String);

#[tokio::main(flavor = "current_thread")]
pub(crate) async fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, reason)) => {
            eprintln!("error: {reason}");
            ExitCode::from(code)
        }
    }
}

/// What the command line asks for.
enum Command {
    Register { name: String, url: String },
    Ensure { name: String, url: String },
    List,
    Delete(SubscriptionId),
}

/// Reads the arguments, before anything is sent or configured.
fn parse(args: &[String]) -> Result<Command, String> {
    let (command, rest) = args.split_first().ok_or("no command given")?;
    match (command.as_str(), rest) {
        ("register", rest) => name_and_url(rest).map(|(name, url)| Command::Register { name, url }),
        ("ensure", rest) => name_and_url(rest).map(|(name, url)| Command::Ensure { name, url }),
        ("list", []) => Ok(Command::List),
        ("list", _) => Err("list takes no arguments".to_owned()),
        ("delete", [id]) => Ok(Command::Delete(SubscriptionId::new(id.as_str()))),
        ("delete", _) => Err("delete takes one webhook id".to_owned()),
        (other, _) => Err(format!("unknown command `{other}`")),
    }
}

async fn run(args: Vec<String>) -> Result<(), Failure> {
    let command = parse(&args).map_err(|reason| Failure(2, format!("{reason} ({USAGE})")))?;
    let client = client()?;
    let api_error = |err: ClientError| Failure(1, err.to_string());
    match command {
        Command::Register { name, url } => {
            let registered = client.register(&name, &url).await.map_err(api_error)?;
            print_registered(&registered);
        }
        Command::Ensure { name, url } => match client.ensure(&name, &url).await.map_err(api_error)? {
            Ensured::Registered(registered) => print_registered(&registered),
            Ensured::Existing(webhook) => {
                println!("already registered: {}", describe(&webhook));
                println!(
                    "its secret was shown only when it was registered; if you have lost it, \
                     delete this webhook and register again"
                );
            }
        },
        Command::List => {
            let webhooks = client.list().await.map_err(api_error)?;
            if webhooks.is_empty() {
                println!("no webhooks registered");
            }
            for webhook in &webhooks {
                println!("{}", describe(webhook));
            }
            if webhooks.len() > 1 {
                eprintln!(
                    "note: {} webhooks receive every event; Yoco recommends one",
                    webhooks.len()
                );
            }
        }
        Command::Delete(id) => {
            client.delete(&id).await.map_err(api_error)?;
            println!("deleted {id}");
        }
    }
    Ok(())
}

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
    if let Ok(base) = std::env::var("YOCO_API_BASE") {
        api = api
            .with_base_url(&base)
            .map_err(|err| Failure(2, format!("YOCO_API_BASE: {err}")))?;
    }
    Client::with_api(api, DEFAULT_TIMEOUT).map_err(|err| Failure(2, err.to_string()))
}

/// `--name NAME --url URL`, in either order.
fn name_and_url(args: &[String]) -> Result<(String, String), String> {
    let (mut name, mut url) = (None, None);
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--name" => &mut name,
            "--url" => &mut url,
            other => return Err(format!("unexpected argument `{other}`")),
        };
        *slot = Some(args.next().ok_or_else(|| format!("{flag} needs a value"))?.clone());
    }
    Ok((name.ok_or("--name is required")?, url.ok_or("--url is required")?))
}

fn describe(webhook: &Subscription) -> String {
    let mode = webhook.mode.as_ref().map_or("?", |mode| mode.as_str());
    format!("{}  {mode}  {}  {}", webhook.id, webhook.name, webhook.url)
}

fn print_registered(registered: &Registered) {
    println!("registered: {}", describe(&registered.webhook));
    println!("secret: {}", registered.secret.expose());
    eprintln!("warning: store this secret now (as YOCO_WEBHOOK_SECRET); Yoco will not show it again");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn reads_each_command() {
        assert!(matches!(
            parse(&args("register --url https://x/ --name shop")),
            Ok(Command::Register { name, url }) if name == "shop" && url == "https://x/"
        ));
        assert!(matches!(
            parse(&args("ensure --name a --url b")),
            Ok(Command::Ensure { .. })
        ));
        assert!(matches!(parse(&args("list")), Ok(Command::List)));
        assert!(matches!(parse(&args("delete sub_1")), Ok(Command::Delete(id)) if id.as_str() == "sub_1"));
    }

    #[test]
    fn refuses_malformed_command_lines() {
        for (line, reason) in [
            ("", "no command given"),
            ("list extra", "list takes no arguments"),
            ("delete", "delete takes one webhook id"),
            ("delete a b", "delete takes one webhook id"),
            ("register --name shop", "--url is required"),
            ("register --url https://x/", "--name is required"),
            ("register --name", "--name needs a value"),
            ("register --colour red", "unexpected argument `--colour`"),
            ("frobnicate", "unknown command `frobnicate`"),
        ] {
            assert_eq!(parse(&args(line)).err().as_deref(), Some(reason), "{line}");
        }
    }
}
