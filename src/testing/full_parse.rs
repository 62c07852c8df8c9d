//! The receiver without its fast path, for differential tests.

use time::OffsetDateTime;

use crate::headers::Headers;
use crate::receive::{Outcome, ReceiveError, Receiver};

/// What [`Receiver::receive_at`] answers, decided by the full parse alone:
/// without the fast path that answers a foreign event from a scan of the
/// body. The two must always agree (the crate's property test and fuzz
/// target check it); this is the reference to hold a receiver to.
///
/// ```
/// use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET, receive_by_full_parse};
/// use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret};
/// use time::OffsetDateTime;
///
/// let secret = WebhookSecret::parse(TEST_SECRET)?;
/// let receiver = Receiver::new(Verifier::new(secret.clone()), CheckoutFilter::checkout("ch_mine"));
/// let body = SampleEvent::payment_succeeded().checkout_id("ch_theirs").to_json();
/// let now = OffsetDateTime::now_utc();
/// let headers = Signer::new(secret).sign("msg_1", now, &body);
/// assert_eq!(
///     receiver.receive_at(&headers, &body, now)?,
///     receive_by_full_parse(&receiver, &headers, &body, now)?,
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`Receiver::receive_at`].
pub fn receive_by_full_parse<H: Headers + ?Sized>(
    receiver: &Receiver,
    headers: &H,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<Outcome, ReceiveError> {
    receiver.receive_at_unix(headers, body, now.unix_timestamp(), false)
}
