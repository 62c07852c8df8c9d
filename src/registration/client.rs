//! A ready async client for Yoco's webhook-registration API: the sans-IO
//! [`RegistrationApi`] carried by `reqwest` over rustls.

use std::time::Duration;

use super::{
    ClientError, EnsurePlan, Registered, RegistrationApi, SecretKey, Subscription, SubscriptionId, plan_ensure,
};

/// How long a call may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The most of an answer the client reads: Yoco's answers are small, and a
/// misbehaving server must not fill memory.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Registers, lists and deletes the account's webhooks.
///
/// ```no_run
/// use yoco_webhooks::registration::{Client, Ensured, SecretKey};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::new(SecretKey::new(std::env::var("YOCO_SECRET_KEY")?))?;
/// match client.ensure("shop", "https://shop.example.com/webhooks/yoco").await? {
///     Ensured::Registered(new) => println!("store this secret now: {}", new.secret.expose()),
///     Ensured::Existing(webhook) => println!("already registered as {}", webhook.id),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    api: RegistrationApi,
    timeout: Duration,
}

/// What [`Client::ensure`] found or did: one or the other, and never more,
/// so matching needs no wildcard.
#[derive(Debug, Clone)]
pub enum Ensured {
    /// A webhook with that URL was registered already. Its secret cannot be
    /// shown again: if it is lost, delete the webhook and register anew.
    Existing(Subscription),
    /// It was registered now, with its secret.
    Registered(Registered),
}

impl Client {
    /// A client for Yoco's API with the default timeout.
    ///
    /// # Errors
    /// [`ClientError::Setup`] if the TLS stack cannot start.
    pub fn new(key: SecretKey) -> Result<Self, ClientError> {
        Self::with_api(RegistrationApi::new(key), DEFAULT_TIMEOUT)
    }

    /// A client for `api` (another base URL, say) with a timeout per call.
    ///
    /// # Errors
    /// [`ClientError::Setup`] if the TLS stack cannot start.
    pub fn with_api(api: RegistrationApi, timeout: Duration) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(ClientError::Setup)?;
        Ok(Self { http, api, timeout })
    }

    /// The request builder and answer reader this client uses.
    pub fn api(&self) -> &RegistrationApi {
        &self.api
    }

    /// Registers `url` under `name`. The answer carries the webhook secret,
    /// shown this once.
    ///
    /// # Errors
    /// [`ClientError`]: checks before sending, transport, or Yoco's refusal.
    pub async fn register(&self, name: &str, url: &str) -> Result<Registered, ClientError> {
        let answer = self.send(self.api.register_request(name, url)?).await?;
        Ok(self.api.read_register_response(answer)?)
    }

    /// Lists the account's webhooks (without secrets).
    ///
    /// # Errors
    /// [`ClientError`]: transport, or Yoco's refusal.
    pub async fn list(&self) -> Result<Vec<Subscription>, ClientError> {
        let answer = self.send(self.api.list_request()?).await?;
        Ok(self.api.read_list_response(answer)?)
    }

    /// Deletes a webhook.
    ///
    /// # Errors
    /// [`ClientError`]: an id that is not a plain path segment, transport,
    /// or Yoco's refusal.
    pub async fn delete(&self, id: &SubscriptionId) -> Result<(), ClientError> {
        let answer = self.send(self.api.delete_request(id)?).await?;
        Ok(self.api.read_delete_response(answer)?)
    }

    /// Makes sure `url` is registered, once, in the mode of the client's
    /// key (`sk_live_` or `sk_test_`): returns the existing webhook with
    /// that URL and mode, or registers it if there is room. A live key
    /// never reuses a test webhook of the same URL, nor a test key a live
    /// one (see [`plan_ensure`]).
    ///
    /// # Errors
    /// [`Error::UnknownKeyMode`](super::Error::UnknownKeyMode) before
    /// anything is sent if the key's mode is unknown;
    /// [`Error::UnknownWebhookMode`](super::Error::UnknownWebhookMode) if a
    /// webhook has the URL but Yoco does not say its mode;
    /// [`Error::LimitReached`](super::Error::LimitReached) if the account
    /// has 5 webhooks and none has the URL in the key's mode; otherwise as
    /// [`Client::list`] and [`Client::register`].
    pub async fn ensure(&self, name: &str, url: &str) -> Result<Ensured, ClientError> {
        // Refuse a bad request before asking Yoco anything.
        self.api.register_request(name, url)?;
        let mode = self.api.key_mode().ok_or(super::Error::UnknownKeyMode)?;
        let existing = self.list().await?;
        match plan_ensure(&existing, url, &mode)? {
            EnsurePlan::AlreadyRegistered(webhook) => Ok(Ensured::Existing(webhook.clone())),
            EnsurePlan::Register => self.register(name, url).await.map(Ensured::Registered),
        }
    }

    /// Sends a request and reads the whole answer, up to a size limit.
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, ClientError> {
        let transport = |err| self.transport(err);
        let request = reqwest::Request::try_from(request).map_err(transport)?;
        let mut response = self.http.execute(request).await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len().saturating_add(chunk.len()) > MAX_ANSWER_BYTES {
                return Err(ClientError::AnswerTooLarge {
                    limit: MAX_ANSWER_BYTES,
                });
            }
            body.extend_from_slice(&chunk);
        }
        let mut answer = http::Response::new(body);
        *answer.status_mut() = status;
        *answer.headers_mut() = headers;
        Ok(answer)
    }

    /// A transport error, keeping reqwest's error but never a user name or
    /// password in its URL (`with_base_url` refuses them; this is the
    /// second guard).
    fn transport(&self, mut err: reqwest::Error) -> ClientError {
        if err.is_timeout() {
            return ClientError::Timeout { after: self.timeout };
        }
        if let Some(url) = err.url_mut()
            && (url.set_password(None).is_err() || url.set_username("").is_err())
        {
            return ClientError::Transport(err.without_url());
        }
        ClientError::Transport(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error and its sources, as a log line and `{:?}` would show them.
    fn shown(err: &dyn std::error::Error) -> String {
        let mut shown = format!("{err} {err:?}");
        let mut source = err.source();
        while let Some(cause) = source {
            shown.push_str(&format!(" {cause}"));
            source = cause.source();
        }
        shown
    }

    #[tokio::test]
    async fn transport_errors_never_show_a_user_or_password() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let client = Client::new(SecretKey::new("sk_test_x")).unwrap();
        // No base URL with a password passes `with_base_url`; send one by hand.
        let url = format!("http://user:hunter2@{closed}/api/webhooks").parse().unwrap();
        let err = client
            .http
            .execute(reqwest::Request::new(reqwest::Method::GET, url))
            .await
            .unwrap_err();
        assert!(shown(&err).contains("hunter2"), "reqwest shows the URL");
        let err = client.transport(err);
        assert!(matches!(err, ClientError::Transport(_)), "{err:?}");
        let shown = shown(&err);
        assert!(!shown.contains("hunter2") && !shown.contains("user@"), "{shown}");
        assert!(
            shown.contains(&closed.to_string()),
            "the URL without them stays: {shown}"
        );
    }
}
