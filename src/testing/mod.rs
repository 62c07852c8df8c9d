//! Helpers for testing webhook handlers: a signer that plays Yoco's part, and
//! sample events. Behind the `testing` feature; enable it in
//! `[dev-dependencies]`.
//!
//! ```
//! use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
//! use yoco_webhooks::{CheckoutFilter, Outcome, Receiver, Verifier, WebhookSecret};
//!
//! let secret = WebhookSecret::parse(TEST_SECRET)?;
//! let receiver = Receiver::new(Verifier::new(secret.clone()), CheckoutFilter::checkout("ch_mine"));
//!
//! let body = SampleEvent::payment_succeeded().checkout_id("ch_mine").amount(2500).to_json();
//! let headers = Signer::new(secret).sign_now("msg_1", &body);
//! let outcome = receiver.receive(&headers, &body)?;
//! assert!(matches!(outcome, Outcome::Process(_)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod sample;
mod signer;

// Playing Yoco's part: the secret, the signer and its headers.
pub use signer::{SignedHeaders, Signer, TEST_SECRET};
// Event bodies to sign.
pub use sample::{DOCUMENTED_SAMPLE, SampleEvent};
