//! What the pipeline answered itself, without running the handler: an
//! event not the merchant's, a delivery queued, or a refusal.

use super::answer::Answer;
use super::rejection::YocoRejection;
use crate::filter::IgnoreReason;
use crate::ids::WebhookId;
use crate::receive::{Ignored, ReceiveError};

/// A request the pipeline answered without the handler: an authentic event
/// that is not yours ([`Ignored`](Self::Ignored), 200), a delivery recorded
/// in the queue for your workers ([`Queued`](Self::Queued), 200) or found
/// there already ([`AlreadyQueued`](Self::AlreadyQueued), 200), or a
/// refusal that keeps its cause ([`Refused`](Self::Refused), 4xx or 5xx).
///
/// Every extractor and every `extract` gives the handler a
/// [`YocoWebhook`](crate::YocoWebhook) to process, or this: the frameworks
/// carry it as their rejection type, so it implements their response traits
/// and [`std::error::Error`], but only [`Refused`](Self::Refused) is a
/// failure. Log refusals from a handler that takes
/// `Result<YocoWebhook, Answered>`:
///
/// ```
/// use yoco_webhooks::{Answered, YocoRejection};
///
/// fn log(answered: &Answered) {
///     match answered {
///         Answered::Refused(why) => eprintln!("refused ({}): {why}", why.reason()),
///         Answered::Ignored(event) => eprintln!("not ours: {}", event.reason),
///         Answered::Queued(id) => eprintln!("queued {id}"),
///         _ => {}
///     }
/// }
/// log(&Answered::from(YocoRejection::MethodNotAllowed));
/// assert_eq!(Answered::from(YocoRejection::MethodNotAllowed).status(), 405);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Answered {
    /// An authentic event that is not yours (another checkout, no checkout
    /// id, another mode): 200, so that Yoco does not retry it.
    #[error("ignored: {}", .0.reason)]
    Ignored(Ignored),
    /// The delivery was recorded in the queue
    /// ([`YocoWebhookConfig::with_queue`](crate::YocoWebhookConfig::with_queue)):
    /// 200; your workers process it.
    #[error("queued: {0}")]
    Queued(WebhookId),
    /// The queue holds this `webhook-id` already (Yoco's retry, or a copy
    /// that arrived at the same time) and changed nothing
    /// ([`Enqueued::AlreadyQueued`](crate::Enqueued::AlreadyQueued)): 200
    /// `duplicate`, counted as a duplicate.
    #[error("queued already: {0}")]
    AlreadyQueued(WebhookId),
    /// The request was refused, and why: a status that is not 2xx, so that
    /// Yoco retries (or gives up on a request that was never its own).
    #[error(transparent)]
    Refused(#[from] YocoRejection),
}

impl Answered {
    /// The HTTP status to answer: 200 for an ignored or queued event (or
    /// one queued already), or
    /// the refusal's ([`YocoRejection::status`]).
    pub fn status(&self) -> u16 {
        self.answer().status().as_u16()
    }

    /// [`status`](Self::status) as an [`http::StatusCode`].
    pub fn status_code(&self) -> http::StatusCode {
        self.answer().status()
    }

    /// The short text to answer with.
    pub fn body_text(&self) -> &'static str {
        self.answer().text()
    }

    /// Why, as a short stable label for logs and metrics: why an event was
    /// ignored (`foreign_checkout`, ...), `queued`, `duplicate`, or the refusal's
    /// [`reason`](YocoRejection::reason).
    pub fn reason(&self) -> &'static str {
        match self {
            Answered::Ignored(ignored) => match ignored.reason {
                IgnoreReason::NoCheckoutId => "no_checkout_id",
                IgnoreReason::ForeignCheckout => "foreign_checkout",
                IgnoreReason::UnwantedMode => "unwanted_mode",
            },
            Answered::Queued(_) => "queued",
            Answered::AlreadyQueued(_) => "duplicate",
            Answered::Refused(rejection) => rejection.reason(),
        }
    }

    /// Whether this is a refusal (not 2xx).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Answered::Refused(_))
    }

    pub(crate) fn answer(&self) -> Answer {
        match self {
            Answered::Ignored(ignored) => Answer::Ignored(ignored.reason),
            Answered::Queued(_) => Answer::Queued,
            Answered::AlreadyQueued(_) => Answer::Duplicate,
            Answered::Refused(rejection) => rejection.answer(),
        }
    }
}

impl From<ReceiveError> for Answered {
    fn from(err: ReceiveError) -> Self {
        Answered::Refused(err.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refusal_is_not_2xx() {
        let queued = Answered::Queued(WebhookId::new("msg_1"));
        assert_eq!(
            (queued.status(), queued.reason(), queued.is_refusal()),
            (200, "queued", false)
        );
        let again = Answered::AlreadyQueued(WebhookId::new("msg_1"));
        assert_eq!(
            (again.status(), again.body_text(), again.reason(), again.is_refusal()),
            (200, "duplicate", "duplicate", false)
        );
        let refused = Answered::from(YocoRejection::BodyTooLarge);
        assert_eq!(
            (refused.status(), refused.reason(), refused.is_refusal()),
            (413, "body_too_large", true)
        );
        assert_eq!(refused.status_code(), http::StatusCode::PAYLOAD_TOO_LARGE);
    }
}
