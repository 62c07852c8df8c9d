//! Yoco's webhook-registration API, without I/O: functions that build each
//! request as an `http::Request<Vec<u8>>` and read each
//! `http::Response<Vec<u8>>`, so that any HTTP client can carry them. The
//! `client` feature adds a ready client on top (`Client`).
//!
//! ```
//! use yoco_webhooks::registration::{RegistrationApi, SecretKey};
//!
//! let api = RegistrationApi::new(SecretKey::new("sk_test_960bfde0VBrLlpK098e4ffeb53e1"));
//! let request = api.register_request("shop", "https://shop.example.com/webhooks/yoco")?;
//! assert_eq!(request.uri(), "https://payments.yoco.com/api/webhooks");
//! // ... send it with your HTTP client, then:
//! let answer = http::Response::builder()
//!     .status(201)
//!     .body(br#"{"id":"sub_1","name":"shop","url":"https://shop.example.com/webhooks/yoco","mode":"test","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}"#.to_vec())?;
//! let registered = api.read_register_response(answer)?;
//! assert_eq!(registered.webhook.id.as_str(), "sub_1");
//! let secret = registered.secret.to_webhook_secret()?; // store `registered.secret` now: Yoco shows it once
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - `types`: [`SecretKey`], [`RevealedSecret`], [`SubscriptionId`],
//!   [`Subscription`], [`Registered`].
//! - `api`: [`RegistrationApi`] (requests and answer readers) and
//!   [`plan_ensure`].
//! - `url`: the rule for URLs, [`check_endpoint_url`].
//! - `error`: [`Error`], and `ClientError` (feature `client`).
//! - `client` (feature `client`): `Client`, the reqwest client.

mod api;
#[cfg(feature = "client")]
mod client;
mod error;
mod types;
mod url;

// Requests and answers, sans-IO.
pub use api::{DEFAULT_API_BASE, EnsurePlan, MAX_WEBHOOKS, RegistrationApi, plan_ensure};
// What they take and give.
pub use types::{Registered, RevealedSecret, SecretKey, Subscription, SubscriptionId};
// The URL rule for endpoints and the API base.
pub use url::check_endpoint_url;
// Errors: the sans-IO API's, and the client's around it.
#[cfg(feature = "client")]
pub use error::ClientError;
pub use error::Error;
// The ready client.
#[cfg(feature = "client")]
pub use client::{Client, DEFAULT_TIMEOUT, Ensured};
