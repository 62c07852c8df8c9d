//! Which events are this integration's: by checkout id, optionally by mode.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::ids::CheckoutId;
use crate::mode::Mode;

/// Decides which events the merchant processes; the rest are acknowledged
/// and skipped.
///
/// Yoco sends every payment and refund on the account, including in-store
/// payments and other integrations' checkouts. An event whose
/// `payload.metadata.checkoutId` is not one of yours, or which has none,
/// should be answered 2xx and not processed.
///
/// ```
/// use yoco_webhooks::{CheckoutFilter, Mode};
///
/// // One checkout, live mode only.
/// let filter = CheckoutFilter::checkout("ch_9LVKD8GnAj7f39DFbn4F16bE").only_mode(Mode::Live);
/// // Any checkout whose id your store knows.
/// let filter = CheckoutFilter::matching(|id| id.as_str().starts_with("ch_"));
/// ```
#[derive(Clone)]
#[must_use]
pub struct CheckoutFilter {
    checkouts: Checkouts,
    mode: Option<Mode>,
}

#[derive(Clone)]
enum Checkouts {
    Any,
    One(CheckoutId),
    Set(HashSet<CheckoutId>),
    Matching(Arc<dyn Fn(&CheckoutId) -> bool + Send + Sync>),
}

/// Why an authentic event was acknowledged but not processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IgnoreReason {
    /// The event carries no `payload.metadata.checkoutId` (an in-store
    /// payment, say), and the filter wants particular checkouts.
    NoCheckoutId,
    /// The checkout is not one of the merchant's.
    ForeignCheckout,
    /// The event's mode is not the one the filter wants (or it has none).
    UnwantedMode,
}

impl IgnoreReason {
    /// A short, stable description, for logs and response bodies.
    pub fn as_str(&self) -> &'static str {
        match self {
            IgnoreReason::NoCheckoutId => "no checkout id",
            IgnoreReason::ForeignCheckout => "foreign checkout",
            IgnoreReason::UnwantedMode => "unwanted mode",
        }
    }
}

impl fmt::Display for IgnoreReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CheckoutFilter {
    /// Processes every authentic event, with or without a checkout id. For an
    /// account whose only integration is yours.
    pub fn any() -> Self {
        Self::new(Checkouts::Any)
    }

    /// Processes only the events of one checkout.
    pub fn checkout(id: impl Into<CheckoutId>) -> Self {
        Self::new(Checkouts::One(id.into()))
    }

    /// Processes only the events of these checkouts.
    pub fn checkouts<I>(ids: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<CheckoutId>,
    {
        Self::new(Checkouts::Set(ids.into_iter().map(Into::into).collect()))
    }

    /// Processes the events whose checkout id satisfies `is_ours`, such as a
    /// lookup in a cache of pending orders. It is called once per event and
    /// should be quick; do slow lookups in your handler instead.
    pub fn matching<F>(is_ours: F) -> Self
    where
        F: Fn(&CheckoutId) -> bool + Send + Sync + 'static,
    {
        Self::new(Checkouts::Matching(Arc::new(is_ours)))
    }

    /// Also requires the event's mode to be `mode`: live-only in production,
    /// say, while test payments still reach the same endpoint.
    pub fn only_mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }

    fn new(checkouts: Checkouts) -> Self {
        Self { checkouts, mode: None }
    }

    /// `None` if an event with this checkout id and mode is to be processed,
    /// else why not.
    pub fn check(&self, checkout_id: Option<&CheckoutId>, mode: Option<&Mode>) -> Option<IgnoreReason> {
        let ours = match (&self.checkouts, checkout_id) {
            (Checkouts::Any, _) => true,
            (_, None) => return Some(IgnoreReason::NoCheckoutId),
            (Checkouts::One(expected), Some(id)) => expected == id,
            (Checkouts::Set(ids), Some(id)) => ids.contains(id),
            (Checkouts::Matching(is_ours), Some(id)) => is_ours(id),
        };
        if !ours {
            return Some(IgnoreReason::ForeignCheckout);
        }
        match &self.mode {
            Some(wanted) if mode != Some(wanted) => Some(IgnoreReason::UnwantedMode),
            _ => None,
        }
    }
}

impl Default for CheckoutFilter {
    /// [`CheckoutFilter::any`].
    fn default() -> Self {
        Self::any()
    }
}

impl fmt::Debug for CheckoutFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let checkouts: &dyn fmt::Debug = match &self.checkouts {
            Checkouts::Any => &"any",
            Checkouts::One(id) => id,
            Checkouts::Set(ids) => ids,
            Checkouts::Matching(_) => &"matching(<fn>)",
        };
        f.debug_struct("CheckoutFilter")
            .field("checkouts", checkouts)
            .field("mode", &self.mode)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> CheckoutId {
        CheckoutId::new(s)
    }

    #[test]
    fn any_takes_everything_even_without_a_checkout() {
        let filter = CheckoutFilter::any();
        assert_eq!(filter.check(None, None), None);
        assert_eq!(filter.check(Some(&id("ch_x")), Some(&Mode::Test)), None);
    }

    #[test]
    fn one_set_and_predicate_pick_their_checkouts() {
        let filters = [
            CheckoutFilter::checkout("ch_1"),
            CheckoutFilter::checkouts(["ch_1", "ch_2"]),
            CheckoutFilter::matching(|id| id.as_str().ends_with('1')),
        ];
        for filter in filters {
            assert_eq!(filter.check(Some(&id("ch_1")), Some(&Mode::Live)), None, "{filter:?}");
            assert_eq!(
                filter.check(Some(&id("ch_3")), Some(&Mode::Live)),
                Some(IgnoreReason::ForeignCheckout)
            );
            assert_eq!(filter.check(None, Some(&Mode::Live)), Some(IgnoreReason::NoCheckoutId));
        }
    }

    #[test]
    fn mode_is_checked_after_the_checkout() {
        let filter = CheckoutFilter::checkout("ch_1").only_mode(Mode::Live);
        assert_eq!(filter.check(Some(&id("ch_1")), Some(&Mode::Live)), None);
        assert_eq!(
            filter.check(Some(&id("ch_1")), Some(&Mode::Test)),
            Some(IgnoreReason::UnwantedMode)
        );
        assert_eq!(filter.check(Some(&id("ch_1")), None), Some(IgnoreReason::UnwantedMode));
        assert_eq!(
            filter.check(Some(&id("ch_2")), Some(&Mode::Test)),
            Some(IgnoreReason::ForeignCheckout)
        );
        let test_only = CheckoutFilter::any().only_mode(Mode::Test);
        assert_eq!(
            test_only.check(None, Some(&Mode::Live)),
            Some(IgnoreReason::UnwantedMode)
        );
    }
}
