//! A local imitation of Yoco's webhook API on 127.0.0.1, serving the
//! answers recorded in `tests/data/api/`: what the registration client and
//! command line are tested against, and `listen` registers its webhook with.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use yoco_webhooks::Mode;
use yoco_webhooks::registration::Subscription;

pub(crate) const GOOD_KEY: &str = "sk_test_960bfde0VBrLlpK098e4ffeb53e1";
/// The same account's live key.
pub(crate) const LIVE_KEY: &str = "sk_live_3b1e4fd2Qm7Xc0Rt5Wv8Yz2Ab4Cd";
pub(crate) const BAD_KEY: &str = "sk_test_revokedrevokedrevoked0000";
pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const REGISTER_OK: &str = include_str!("../data/api/register_ok.json");
const ERROR_400: &str = include_str!("../data/api/error_400.json");
const ERROR_403: &str = include_str!("../data/api/error_403.json");
const ERROR_LIMIT: &str = include_str!("../data/api/error_limit.json");
pub(crate) const ERROR_500: &str = include_str!("../data/api/error_500.html");

/// Yoco's webhook API as far as the client uses it: keyed by the bearer
/// token (a test and a live key), at most five webhooks, a validation error
/// for URLs it dislikes. A webhook has the mode of the key that registered
/// it, and the list shows both modes' webhooks, as community code suggests.
#[derive(Clone, Default)]
pub(crate) struct FakeYoco {
    pub(crate) webhooks: Arc<Mutex<Vec<Subscription>>>,
    /// How many registrations it accepted; each gets the next id.
    pub(crate) registrations: Arc<Mutex<u32>>,
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "application/json")], body).into_response()
}

impl FakeYoco {
    /// The mode of the request's key, if it is one of the account's.
    fn mode_of(headers: &HeaderMap) -> Option<&'static str> {
        let authorization = headers.get("authorization").and_then(|value| value.to_str().ok())?;
        [(GOOD_KEY, "test"), (LIVE_KEY, "live")]
            .into_iter()
            .find_map(|(key, mode)| (authorization == format!("Bearer {key}")).then_some(mode))
    }

    /// Yoco's refusal of a request without a good key, if it is one.
    fn refusal(headers: &HeaderMap) -> Option<Response> {
        Self::mode_of(headers)
            .is_none()
            .then(|| json(StatusCode::FORBIDDEN, ERROR_403.to_owned()))
    }

    async fn register(State(fake): State<Self>, headers: HeaderMap, body: Bytes) -> Response {
        let Some(mode) = Self::mode_of(&headers) else {
            return json(StatusCode::FORBIDDEN, ERROR_403.to_owned());
        };
        let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let (name, url) = (request["name"].as_str().unwrap(), request["url"].as_str().unwrap());
        if url.contains("unreachable") {
            return json(StatusCode::BAD_REQUEST, ERROR_400.to_owned());
        }
        let mut webhooks = fake.webhooks.lock().unwrap();
        if webhooks.len() >= 5 {
            return json(StatusCode::BAD_REQUEST, ERROR_LIMIT.to_owned());
        }
        let mut registrations = fake.registrations.lock().unwrap();
        *registrations += 1;
        let id = format!("sub_{registrations}");
        let answer = REGISTER_OK
            .replace("sub_3Fz9qkL2mWc8Pn1Rd5Tv7Xy0", &id)
            .replace("NAME", name)
            .replace("URL", url)
            .replace(r#""mode": "test""#, &format!(r#""mode": "{mode}""#))
            .replace("SECRET", SECRET);
        webhooks.push(serde_json::from_str(&answer).unwrap());
        json(StatusCode::CREATED, answer)
    }

    async fn list(State(fake): State<Self>, headers: HeaderMap) -> Response {
        if let Some(refused) = Self::refusal(&headers) {
            return refused;
        }
        let webhooks: Vec<serde_json::Value> = fake
            .webhooks
            .lock()
            .unwrap()
            .iter()
            .map(|w| {
                let mode = w.mode.as_ref().map(Mode::as_str);
                serde_json::json!({"id": w.id.as_str(), "name": w.name, "url": w.url, "mode": mode, "extra": true})
            })
            .collect();
        json(
            StatusCode::OK,
            serde_json::json!({ "subscriptions": webhooks, "page": 1 }).to_string(),
        )
    }

    async fn delete(State(fake): State<Self>, headers: HeaderMap, Path(id): Path<String>) -> Response {
        if let Some(refused) = Self::refusal(&headers) {
            return refused;
        }
        let mut webhooks = fake.webhooks.lock().unwrap();
        let before = webhooks.len();
        webhooks.retain(|w| w.id.as_str() != id);
        if webhooks.len() == before {
            return json(StatusCode::NOT_FOUND, r#"{"message":"Webhook not found"}"#.to_owned());
        }
        StatusCode::NO_CONTENT.into_response()
    }

    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route("/api/webhooks", get(Self::list).post(Self::register))
            .route("/api/webhooks/{id}", delete(Self::delete))
            .with_state(self.clone())
    }
}

/// Serves `router` on a free loopback port.
pub(crate) async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address
}
