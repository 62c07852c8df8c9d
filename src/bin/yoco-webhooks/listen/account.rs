//! `listen`'s webhook on the account: named after the user, the machine and
//! the port, so that a later run recognises what an earlier one left; the
//! stale ones removed, the limit of five reported, registered and deleted.
//!
//! A webhook with this run's name can only be left over: the name holds the
//! port, and this run has bound that port before looking, so no other
//! listen of this user on this machine is serving it. A colleague's running
//! listen, or one on another port, has another name and is only mentioned.

use yoco_webhooks::registration::{Client, ClientError, Error, MAX_WEBHOOKS, Registered, Subscription};

use super::report::Report;
use crate::failure::Failure;
use crate::register::describe;

/// What every listen webhook's name starts with.
const NAME_PREFIX: &str = "yoco-webhooks listen ";

/// The exit status when the account has as many webhooks as Yoco allows.
pub(super) const LIMIT_EXIT: u8 = 3;

/// The account, through the registration client, and this run's webhook name.
#[derive(Debug)]
pub(super) struct Account {
    pub(super) client: Client,
    pub(super) name: String,
}

impl Account {
    /// Deletes the webhooks an earlier run with this name left, and
    /// mentions other listens' webhooks; returns how many webhooks remain.
    pub(super) async fn remove_stale(&self, report: Report) -> Result<Vec<Subscription>, Failure> {
        let mut remaining = Vec::new();
        for webhook in self.client.list().await? {
            if webhook.name == self.name {
                self.client.delete(&webhook.id).await?;
                report.removed(&webhook);
                continue;
            }
            if webhook.name.starts_with(NAME_PREFIX) {
                report.other_listen(&webhook);
            }
            remaining.push(webhook);
        }
        Ok(remaining)
    }

    /// Registers `url` under this run's name; at the limit, a failure with
    /// exit status [`LIMIT_EXIT`] that lists the account's webhooks.
    pub(super) async fn register(
        &self,
        url: &str,
        existing: &[Subscription],
        report: Report,
    ) -> Result<Registered, Failure> {
        if existing.len() >= MAX_WEBHOOKS {
            return Err(limit_reached(existing, report));
        }
        match self.client.register(&self.name, url).await {
            Ok(registered) => Ok(registered),
            Err(err) if matches!(err.api_error(), Some(Error::LimitReached { .. })) => {
                // Someone registered one meanwhile: list what is there now.
                let now = self.client.list().await.unwrap_or_else(|_| existing.to_vec());
                Err(limit_reached(&now, report))
            }
            Err(err) => Err(Failure::from(err)),
        }
    }

    /// Deletes this run's webhook.
    pub(super) async fn delete(&self, webhook: &Subscription) -> Result<(), ClientError> {
        self.client.delete(&webhook.id).await
    }
}

/// The failure at the limit, listing the webhooks.
fn limit_reached(webhooks: &[Subscription], report: Report) -> Failure {
    report.limit(webhooks);
    let mut reason = format!(
        "the account already has {} webhooks, and Yoco allows {MAX_WEBHOOKS}; delete one \
         (`yoco-webhooks delete <id>`) and start listen again:",
        webhooks.len()
    );
    for webhook in webhooks {
        reason.push_str("\n  ");
        reason.push_str(&describe(webhook));
    }
    Failure(LIMIT_EXIT, reason)
}

/// This run's webhook name: `yoco-webhooks listen user@host:port`, plain
/// printable ASCII, at most 100 characters.
pub(super) fn webhook_name(port: u16) -> String {
    let user = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.trim().is_empty()))
        .unwrap_or_else(|| "someone".to_owned());
    name_for(&user, &host_name(), port)
}

fn name_for(user: &str, host: &str, port: u16) -> String {
    let plain = |text: &str| -> String {
        let kept: String = text.trim().chars().filter(|c| c.is_ascii_graphic()).take(32).collect();
        if kept.is_empty() { "unknown".to_owned() } else { kept }
    };
    format!("{NAME_PREFIX}{}@{}:{port}", plain(user), plain(host))
}

/// The machine's name: `HOSTNAME` or `COMPUTERNAME` when exported,
/// `/etc/hostname`, or what `hostname` prints.
fn host_name() -> String {
    let from_env = ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok());
    let from_file = || std::fs::read_to_string("/etc/hostname").ok();
    let from_command = || {
        let output = std::process::Command::new("hostname").output().ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    };
    from_env
        .filter(|name| !name.trim().is_empty())
        .or_else(|| from_file().filter(|name| !name.trim().is_empty()))
        .or_else(from_command)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_says_whose_listen_it_is_in_plain_ascii() {
        assert_eq!(
            name_for("thandi", "laptop.local\n", 4242),
            "yoco-webhooks listen thandi@laptop.local:4242"
        );
        assert_eq!(name_for(" Zoë ", "", 1), "yoco-webhooks listen Zo@unknown:1");
        let long = name_for(&"u".repeat(500), &"h".repeat(500), 65535);
        assert!(long.len() <= 100, "{long}");
        assert!(webhook_name(4242).starts_with(NAME_PREFIX));
    }
}
