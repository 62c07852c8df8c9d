//! The registration commands: `register`, `ensure`, `list` and `delete`
//! the account's webhooks through Yoco's API, with the secret key at
//! `YOCO_SECRET_KEY`.

use clap::Args;
use yoco_webhooks::registration::{
    Client, DEFAULT_API_BASE, DEFAULT_TIMEOUT, Ensured, Registered, RegistrationApi, SecretKey, Subscription,
    SubscriptionId,
};

use crate::failure::Failure;

/// Where Yoco should post events.
#[derive(Debug, Args)]
pub(super) struct Endpoint {
    /// A name for the webhook, shown by `list`.
    #[arg(long)]
    pub(super) name: String,
    /// The endpoint's URL: https://, or plain http:// only to a loopback
    /// address.
    #[arg(long)]
    pub(super) url: String,
}

/// `register`: registers the endpoint and prints its secret.
pub(super) async fn register(Endpoint { name, url }: Endpoint) -> Result<(), Failure> {
    print_registered(&client()?.register(&name, &url).await?);
    Ok(())
}

/// `ensure`: registers the endpoint unless a webhook of the key's mode has
/// its URL already.
pub(super) async fn ensure(Endpoint { name, url }: Endpoint) -> Result<(), Failure> {
    match client()?.ensure(&name, &url).await? {
        Ensured::Registered(registered) => print_registered(&registered),
        Ensured::Existing(webhook) => {
            println!("already registered: {}", describe(&webhook));
            println!(
                "its secret was shown only when it was registered; if you have lost it, \
                 delete this webhook and register again"
            );
        }
    }
    Ok(())
}

/// `list`: the account's webhooks, as lines or as one JSON document.
pub(super) async fn list(json: bool) -> Result<(), Failure> {
    let webhooks = client()?.list().await?;
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
    Ok(())
}

/// `delete`: deletes a webhook by its id.
pub(super) async fn delete(id: String) -> Result<(), Failure> {
    let client = client()?;
    let id = SubscriptionId::new(id);
    client.delete(&id).await?;
    println!("deleted {id}");
    Ok(())
}

/// The client from the environment; errors name the variable, never its value.
fn client() -> Result<Client, Failure> {
    client_for(SecretKey::new(key_from_env()?))
}

/// The secret API key at `YOCO_SECRET_KEY`; the error names the variable,
/// never its value.
pub(super) fn key_from_env() -> Result<String, Failure> {
    std::env::var("YOCO_SECRET_KEY")
        .ok()
        .filter(|key| !key.trim().is_empty())
        .ok_or_else(|| {
            Failure(
                2,
                "set YOCO_SECRET_KEY to the account's secret API key (sk_...)".to_owned(),
            )
        })
}

/// The client for `key`, at `YOCO_API_BASE` when it is set.
pub(super) fn client_for(key: SecretKey) -> Result<Client, Failure> {
    let mut api = RegistrationApi::new(key);
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

/// A webhook on one line: id, mode, name and URL.
pub(super) fn describe(webhook: &Subscription) -> String {
    let mode = webhook.mode.as_ref().map_or("?", |mode| mode.as_str());
    format!("{}  {mode}  {}  {}", webhook.id, webhook.name, webhook.url)
}

/// `list --json`: the webhooks as one document (they carry no secrets).
fn as_json(webhooks: &[Subscription]) -> serde_json::Value {
    let webhooks: Vec<serde_json::Value> = webhooks.iter().map(webhook_json).collect();
    serde_json::json!({ "webhooks": webhooks })
}

/// A webhook as JSON: id, name, URL and mode (a webhook carries no secret).
pub(super) fn webhook_json(webhook: &Subscription) -> serde_json::Value {
    serde_json::json!({
        "id": webhook.id.as_str(),
        "name": webhook.name,
        "url": webhook.url,
        "mode": webhook.mode.as_ref().map(|mode| mode.as_str()),
    })
}

fn print_registered(registered: &Registered) {
    println!("registered: {}", describe(&registered.webhook));
    println!("secret: {}", registered.secret.expose());
    eprintln!("warning: store this secret now (as YOCO_WEBHOOK_SECRET); Yoco will not show it again");
}
