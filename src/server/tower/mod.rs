//! The tower adapter: a [`Layer`](tower_layer::Layer) for any server built
//! on tower (hyper, axum, other tower stacks) that verifies, parses and
//! filters each delivery, answers what is not the merchant's to process,
//! and passes the [`Delivery`](crate::Delivery) to the inner service in the
//! request extensions, at most once per `webhook-id`.
//!
//! ```
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use tower::{ServiceBuilder, ServiceExt as _, service_fn};
//! use yoco_webhooks::tower::YocoWebhookLayer;
//! use yoco_webhooks::{CheckoutFilter, Delivery, Receiver, Verifier, WebhookSecret, YocoWebhookConfig};
//!
//! /// Only ever called with an authentic delivery for one of your checkouts.
//! async fn record(request: Request<Full<Bytes>>) -> Result<Response<String>, Infallible> {
//!     let delivery: &Delivery = request.extensions().get().expect("behind YocoWebhookLayer");
//!     println!("{} for {:?}", delivery.event.event_type(), delivery.event.checkout_id());
//!     // The raw body, as signed, is still the request's body.
//!     Ok(Response::new("recorded".into())) // non-2xx (or an Err) and Yoco retries
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let receiver = Receiver::new(Verifier::new(secret), CheckoutFilter::any());
//! let service = ServiceBuilder::new()
//!     .layer(YocoWebhookLayer::new(YocoWebhookConfig::new(receiver))) // body limit, store: as for the extractors
//!     .service(service_fn(record)); // serve it with hyper, or use the layer on an axum route
//!
//! let unsigned = Request::post("/webhooks/yoco").body(Full::new(Bytes::from("{}"))).unwrap();
//! let response = service.oneshot(unsigned).await.unwrap();
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! # Ok::<(), yoco_webhooks::SecretError>(())
//! # }).unwrap();
//! ```
//!
//! On axum, put the layer on the webhook route and take the delivery with
//! `Extension<Delivery>`:
//! `.route("/webhooks/yoco", post(handler).layer(YocoWebhookLayer::new(config)))`
//! (or use the [`axum`](crate::axum) extractor, which needs no layer).
//! A plain hyper server serves the layered service through hyper-util's
//! `TowerToHyperService`.
//!
//! # What the layer answers
//!
//! Without calling the inner service: 405 for a method other than POST;
//! 413 for a body over the limit (refused before reading when
//! `content-length` says so, and while reading a body without one); 400 for
//! a body that could not be read or is not a Yoco event; 401 for a request
//! that is not authentic; 200 for an event that is not yours (another
//! checkout or mode) and for a delivery processed already; 409 while
//! another request processes the same delivery; 503 when the deduplication
//! store cannot answer; 200 `queued` for a delivery recorded in the
//! configuration's queue ([`YocoWebhookConfig::with_queue`]: answer now,
//! process later, see the [inbox guide](crate::guide::inbox)). Each with a
//! short text that reveals nothing.
//!
//! Otherwise the inner service's response, as it is. A 2xx marks the
//! delivery done; any other status, or an error from the inner service,
//! releases the claim, so that Yoco's retry is processed.
//!
//! # Placing it
//!
//! - The inner service receives a `Request<Full<Bytes>>`: the body has been
//!   read to check its signature, and is handed on as the same raw bytes.
//!   An axum `Route` or `Router` accepts it as it is.
//! - The layer reads at most the body limit (1 MiB by default); keep it
//!   behind your server's own limits on headers, connections and time
//!   (a slow client holds a request open while its body arrives).
//! - It marks `webhook-signature` (and Svix's `svix-signature`) sensitive
//!   for everything inside it. A tracing layer outside it sees the request
//!   first: put tower-http's `SetSensitiveRequestHeadersLayer` (with
//!   [`WEBHOOK_SIGNATURE`](crate::headers::WEBHOOK_SIGNATURE) and
//!   [`SVIX_SIGNATURE`](crate::headers::SVIX_SIGNATURE)) outside your tracing.
//! - `poll_ready` is the inner service's; the ready service is kept for the
//!   request (tower's `std::mem::replace` pattern) and called once the body
//!   is read and the delivery claimed, or dropped unused when the layer
//!   answers itself.
//!
//! [`YocoWebhookConfig::with_queue`]: crate::YocoWebhookConfig::with_queue

mod body;
mod future;
mod layer;
mod service;

pub use self::body::YocoResponseBody;
pub use self::future::ResponseFuture;
pub use self::layer::YocoWebhookLayer;
pub use self::service::YocoWebhookService;
