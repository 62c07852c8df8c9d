//! A ready async client for Yoco's webhook-registration API: the sans-IO
//! [`RegistrationApi`] carried by `reqwest` over rustls.

use std::time::Duration;

use crate::registration::{
    EnsurePlan, Registered, RegistrationApi, RegistrationError, SecretKey, Subscription, SubscriptionId, plan_ensure,
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
    /// [`RegistrationError::Transport`] if the TLS stack cannot start.
    pub fn new(key: SecretKey) -> Result<Self, RegistrationError> {
        Self::with_api(RegistrationApi::new(key), DEFAULT_TIMEOUT)
    }

    /// A client for `api` (another base URL, say) with a timeout per call.
    ///
    /// # Errors
    /// [`RegistrationError::Transport`] if the TLS stack cannot start.
    pub fn with_api(api: RegistrationApi, timeout: Duration) -> Result<Self, RegistrationError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|err| RegistrationError::Transport(err.to_string()))?;
        Ok(Self { http, api })
    }

    /// The request builder and answer reader this client uses.
    pub fn api(&self) -> &RegistrationApi {
        &self.api
    }

    /// Registers `url` under `name`. The answer carries the webhook secret,
    /// shown this once.
    ///
    /// # Errors
    /// [`RegistrationError`]: checks before sending, transport, or Yoco's refusal.
    pub async fn register(&self, name: &str, url: &str) -> Result<Registered, RegistrationError> {
        let answer = self.send(self.api.register_request(name, url)?).await?;
        self.api.read_register_response(answer)
    }

    /// Lists the account's webhooks (without secrets).
    ///
    /// # Errors
    /// [`RegistrationError`]: transport, or Yoco's refusal.
    pub async fn list(&self) -> Result<Vec<Subscription>, RegistrationError> {
        let answer = self.send(self.api.list_request()?).await?;
        self.api.read_list_response(answer)
    }

    /// Deletes a webhook.
    ///
    /// # Errors
    /// [`RegistrationError`]: transport, or Yoco's refusal.
    pub async fn delete(&self, id: &SubscriptionId) -> Result<(), RegistrationError> {
        let answer = self.send(self.api.delete_request(id)?).await?;
        self.api.read_delete_response(answer)
    }

    /// Makes sure `url` is registered, once: returns the existing webhook
    /// with that URL, or registers it if there is room.
    ///
    /// # Errors
    /// [`RegistrationError::LimitReached`] if the account has 5 webhooks and
    /// none has the URL; otherwise as [`Client::list`] and [`Client::register`].
    pub async fn ensure(&self, name: &str, url: &str) -> Result<Ensured, RegistrationError> {
        // Refuse a bad request before asking Yoco anything.
        self.api.register_request(name, url)?;
        let existing = self.list().await?;
        match plan_ensure(&existing, url)? {
            EnsurePlan::AlreadyRegistered(webhook) => Ok(Ensured::Existing(webhook.clone())),
            EnsurePlan::Register => self.register(name, url).await.map(Ensured::Registered),
        }
    }

    /// Sends a request and reads the whole answer, up to a size limit.
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, RegistrationError> {
        let request = reqwest::Request::try_from(request).map_err(transport)?;
        let mut response = self.http.execute(request).await.map_err(transport)?;
        let mut answer = http::Response::builder().status(response.status());
        if let Some(headers) = answer.headers_mut() {
            headers.extend(
                response
                    .headers()
                    .iter()
                    .map(|(name, value)| (name.clone(), value.clone())),
            );
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len().saturating_add(chunk.len()) > MAX_ANSWER_BYTES {
                return Err(RegistrationError::Transport("answer larger than 1 MiB".to_owned()));
            }
            body.extend_from_slice(&chunk);
        }
        answer
            .body(body)
            .map_err(|err| RegistrationError::Transport(err.to_string()))
    }
}

fn transport(err: reqwest::Error) -> RegistrationError {
    if err.is_timeout() {
        RegistrationError::Timeout
    } else {
        // The URL is Yoco's or the configured base; the key is in a header
        // and never part of reqwest's message.
        RegistrationError::Transport(err.to_string())
    }
}
