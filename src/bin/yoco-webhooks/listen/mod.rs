//! `listen`: Yoco's deliveries to an app on this machine, through a tunnel
//! the developer runs already (cloudflared, ngrok, a port forward).
//!
//! It registers a webhook at the tunnel's public URL with the account's test
//! key, serves the port the tunnel points at, verifies each delivery with
//! the secret Yoco returned, forwards it to the app signed with a stable
//! local secret and answers Yoco with the app's status; on Ctrl-C or SIGTERM
//! it deletes the webhook.
//!
//! - `account`: the webhook's name, stale ones, the limit, register, delete.
//! - `local_secret`: the secret the app verifies with, derived from the key.
//! - `relay`: one delivery: verify, re-sign, forward, answer.
//! - `report`: the lines it prints.

mod account;
mod local_secret;
mod relay;
mod report;

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use yoco_webhooks::Mode;
use yoco_webhooks::registration::{SecretKey, check_endpoint_url};

use self::account::Account;
use self::local_secret::LocalSecret;
use self::relay::Relay;
use self::report::Report;
use crate::failure::{Failure, one_line};
use crate::register::{client_for, key_from_env};
use crate::trigger::Hidden;

/// Where Yoco's deliveries come in and where they go.
#[derive(Debug, Args)]
pub(super) struct Listen {
    /// The tunnel's public URL (https://), which forwards to this port: the
    /// webhook is registered there.
    #[arg(long, value_name = "URL", required_unless_present = "print_secret")]
    pub(super) public_url: Option<String>,
    /// The app's webhook endpoint (http:// or https://): each delivery is
    /// posted there, signed with the local secret.
    #[arg(long, value_name = "URL", required_unless_present = "print_secret")]
    pub(super) forward_to: Option<String>,
    /// The port to serve on 127.0.0.1, where the tunnel points.
    #[arg(long, default_value_t = 4242)]
    pub(super) port: u16,
    /// The address to serve on instead of 127.0.0.1:PORT (a tunnel client
    /// on another machine, say).
    #[arg(long, value_name = "ADDR", conflicts_with = "port")]
    pub(super) listen: Option<SocketAddr>,
    /// Accept a live key (sk_live_): the webhook then receives the events
    /// of real payments.
    #[arg(long)]
    pub(super) live: bool,
    /// The secret to sign forwarded deliveries with (whsec_...), instead of
    /// the one derived from YOCO_SECRET_KEY; YOCO_LISTEN_SECRET too.
    #[arg(long, value_name = "WHSEC")]
    pub(super) local_secret: Option<Hidden>,
    /// Print the local secret the app verifies with, and exit (for the
    /// app's configuration: the same on every run with the same key).
    #[arg(long)]
    pub(super) print_secret: bool,
    /// Print one JSON object a line, each with a "kind": "ready",
    /// "removed", "delivery" (webhook_id, type, checkout_id, amount,
    /// currency, mode, forwarded, app_status, error, answered), "limit",
    /// "deleted".
    #[arg(long)]
    pub(super) json: bool,
}

/// Registers the webhook, relays deliveries until Ctrl-C or SIGTERM, then
/// deletes it.
pub(super) async fn listen(options: Listen) -> Result<(), Failure> {
    let report = Report { json: options.json };
    let key = key_from_env()?;
    let local = match (options.local_secret, std::env::var("YOCO_LISTEN_SECRET")) {
        (Some(Hidden(text)), _) => LocalSecret::parse(text, "--local-secret")?,
        (None, Ok(text)) => LocalSecret::parse(text, "YOCO_LISTEN_SECRET")?,
        (None, Err(_)) => LocalSecret::derived_from(&key)?,
    };
    if options.print_secret {
        println!("{}", local.expose());
        return Ok(());
    }
    check_key_mode(&key, options.live)?;
    let (Some(public_url), Some(forward_to)) = (options.public_url, options.forward_to) else {
        return Err(Failure(2, "--public-url and --forward-to are required".to_owned()));
    };
    check_endpoint_url(&public_url).map_err(|err| Failure(2, format!("--public-url: {err}")))?;
    if !(forward_to.starts_with("http://") || forward_to.starts_with("https://")) {
        return Err(Failure(2, "--forward-to takes an http:// or https:// URL".to_owned()));
    }
    // From here a signal is held until the webhook is deleted.
    let mut shutdown = Shutdown::install()?;
    let address = options
        .listen
        .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, options.port)));
    let listener = TcpListener::bind(address)
        .await
        .map_err(|err| Failure(2, format!("cannot listen on {address}: {err}")))?;
    let address = listener.local_addr().unwrap_or(address);
    let account = Account {
        client: client_for(SecretKey::new(key))?,
        name: account::webhook_name(address.port()),
    };
    let remaining = account.remove_stale(report).await?;
    let registered = account.register(&public_url, &remaining, report).await?;
    let webhook = registered.webhook;
    let relay = Relay::new(&registered.secret, &local, &forward_to, report);
    let signal = match relay {
        Ok(relay) => {
            report.ready(&address.to_string(), &webhook, &forward_to, local.expose());
            serve(listener, Arc::new(relay), &mut shutdown).await
        }
        Err(failure) => {
            // Not serving: the webhook goes, and then the failure.
            let _ = account.delete(&webhook).await;
            return Err(failure);
        }
    };
    match account.delete(&webhook).await {
        Ok(()) => {
            report.deleted(&webhook, signal);
            Ok(())
        }
        Err(err) => Err(Failure(
            1,
            format!(
                "{signal}: could not delete webhook {}: {}; the next listen on this port removes it, \
                 or `yoco-webhooks delete {}`",
                webhook.id,
                one_line(&err),
                webhook.id
            ),
        )),
    }
}

/// Refuses a key that would register a live webhook, unless `live`, and a
/// key of unknown mode.
fn check_key_mode(key: &str, live: bool) -> Result<(), Failure> {
    match SecretKey::new(key).mode() {
        Some(Mode::Test) => Ok(()),
        Some(Mode::Live) if live => Ok(()),
        Some(Mode::Live) => Err(Failure(
            2,
            "YOCO_SECRET_KEY is a live key: its webhook would receive the events of real payments; \
             use the account's test key (sk_test_...), or pass --live"
                .to_owned(),
        )),
        _ => Err(Failure(
            2,
            "YOCO_SECRET_KEY starts with neither sk_test_ nor sk_live_".to_owned(),
        )),
    }
}

/// Relays each connection's requests until a signal; returns its name.
async fn serve(listener: TcpListener, relay: Arc<Relay>, shutdown: &mut Shutdown) -> &'static str {
    loop {
        let stream = tokio::select! {
            signal = shutdown.recv() => return signal,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of file descriptors, say: wait, rather than spin.
                    eprintln!("warning: accepting a connection failed: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let relay = Arc::clone(&relay);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let relay = Arc::clone(&relay);
                async move { Ok::<_, Infallible>(relay.handle(request).await) }
            });
            // A connection the tunnel drops is not listen's failure.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// SIGINT (Ctrl-C) and SIGTERM, caught from the moment it is installed.
struct Shutdown {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Shutdown {
    #[cfg(unix)]
    fn install() -> Result<Self, Failure> {
        use tokio::signal::unix::{SignalKind, signal};
        let failed = |err| Failure(1, format!("could not catch signals: {err}"));
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).map_err(failed)?,
            terminate: signal(SignalKind::terminate()).map_err(failed)?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> Result<Self, Failure> {
        Ok(Self {})
    }

    /// Waits for a signal; its name.
    #[cfg(unix)]
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }

    #[cfg(not(unix))]
    async fn recv(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_key_listens_a_live_key_only_with_live() {
        assert!(check_key_mode("sk_test_abc", false).is_ok());
        assert!(check_key_mode("sk_live_abc", true).is_ok());
        for (key, live) in [("sk_live_abc", false), ("pk_test_abc", true), ("", false)] {
            let refused = check_key_mode(key, live).unwrap_err();
            assert_eq!(refused.0, 2, "{key}");
            assert!(key.is_empty() || !refused.1.contains(key), "{}", refused.1);
        }
    }
}
