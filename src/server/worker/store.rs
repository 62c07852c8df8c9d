//! [`DurableObjectStore`]: the Worker's side of deduplication on a
//! Durable Object, one object per `webhook-id`.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use worker::send::{SendFuture, SendWrapper};
use worker::{Env, Method, ObjectNamespace, Request, RequestInit};

use super::object::{Ask, Told};
use crate::dedup::{Claim, ClaimToken, IdempotencyStore, StoreError};
use crate::ids::WebhookId;

/// An [`IdempotencyStore`] on a Durable Object namespace: each delivery's
/// claim lives in the object named by its `webhook-id`, a
/// [`DedupObject`](super::DedupObject), wherever the Worker that received it
/// runs. A Durable Object has one instance in the world and runs its
/// storage reads and writes one request at a time, so claims are atomic and
/// each delivery is processed once across every instance of the Worker.
///
/// ```no_run
/// # async fn f(env: worker::Env, receiver: yoco_webhooks::Receiver) -> worker::Result<()> {
/// use yoco_webhooks::{YocoWebhookConfig, worker::DurableObjectStore};
///
/// // The binding's name in wrangler.toml (`[[durable_objects.bindings]]`).
/// let store = DurableObjectStore::from_env(&env, "YOCO_DEDUP")?;
/// let config = YocoWebhookConfig::new_without_dedup(receiver).with_store(store);
/// # Ok(()) }
/// ```
///
/// A call the runtime could not deliver (the object unreachable or its
/// storage failing) is a [`StoreError`]: the delivery is answered 503 and
/// Yoco retries it.
pub struct DurableObjectStore {
    // wasm32-unknown-unknown has one thread: the namespace, a JavaScript
    // object, never leaves it, whatever `Send` says.
    namespace: SendWrapper<ObjectNamespace>,
}

impl fmt::Debug for DurableObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableObjectStore").finish_non_exhaustive()
    }
}

impl DurableObjectStore {
    /// Deduplicates on the objects of `namespace`, whose class wraps a
    /// [`DedupObject`](super::DedupObject).
    pub fn new(namespace: ObjectNamespace) -> Self {
        Self {
            namespace: SendWrapper::new(namespace),
        }
    }

    /// Deduplicates on the Durable Object namespace bound as `binding`.
    ///
    /// # Errors
    /// The runtime's, when the Worker has no such Durable Object binding.
    pub fn from_env(env: &Env, binding: &str) -> worker::Result<Self> {
        Ok(Self::new(env.durable_object(binding)?))
    }

    /// Asks the object of `webhook_id`.
    async fn ask(&self, webhook_id: &WebhookId, ask: &Ask) -> Result<Told, StoreError> {
        let unavailable = |err: worker::Error| StoreError::new(format!("the Durable Object did not answer: {err}"));
        let stub = self
            .namespace
            .id_from_name(webhook_id.as_str())
            .and_then(|id| id.get_stub())
            .map_err(|err| StoreError::configuration(format!("no Durable Object for the delivery: {err}")))?;
        let body =
            serde_json::to_string(ask).map_err(|err| StoreError::with_source("cannot write the request", err))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        // Any URL: the object reads only the body.
        let request = Request::new_with_init("https://yoco-webhooks.dedup/", &init).map_err(unavailable)?;
        let mut response = stub.fetch_with_request(request).await.map_err(unavailable)?;
        if response.status_code() != 200 {
            return Err(StoreError::new(format!(
                "the Durable Object answered {}: is its class a yoco_webhooks::worker::DedupObject?",
                response.status_code()
            )));
        }
        response.json::<Told>().await.map_err(unavailable)
    }
}

/// A duration in milliseconds, as the object keeps time.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn unexpected(told: &Told) -> StoreError {
    StoreError::new(format!("the Durable Object answered out of turn: {told:?}"))
}

impl IdempotencyStore for DurableObjectStore {
    fn claim(&self, webhook_id: &WebhookId, lease: Duration) -> impl Future<Output = Result<Claim, StoreError>> + Send {
        SendFuture::new(async move {
            match self
                .ask(
                    webhook_id,
                    &Ask::Claim {
                        lease_ms: millis(lease),
                    },
                )
                .await?
            {
                Told::Acquired { owner } => Ok(Claim::Acquired(ClaimToken::new(webhook_id.clone(), owner))),
                Told::Done => Ok(Claim::Done),
                Told::InProgress => Ok(Claim::InProgress),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn complete(&self, token: &ClaimToken, retention: Duration) -> impl Future<Output = Result<(), StoreError>> + Send {
        SendFuture::new(async move {
            let ask = Ask::Complete {
                owner: token.owner().to_owned(),
                retention_ms: millis(retention),
            };
            match self.ask(token.webhook_id(), &ask).await? {
                Told::Recorded => Ok(()),
                Told::HeldByAnother => Err(StoreError::new("the claim is held by another attempt")),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn release(&self, token: &ClaimToken) -> impl Future<Output = Result<(), StoreError>> + Send {
        SendFuture::new(async move {
            let ask = Ask::Release {
                owner: token.owner().to_owned(),
            };
            match self.ask(token.webhook_id(), &ask).await? {
                Told::Released => Ok(()),
                other => Err(unexpected(&other)),
            }
        })
    }
}
