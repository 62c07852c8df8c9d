//! What the store writes to its table and how it reads what it finds: the
//! attribute names and values, the expressions that make each write
//! conditional, the clock they compare against, and the item a failed
//! condition hands back. No I/O: [`DynamoDbStore`](super::DynamoDbStore)
//! sends them.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::dedup::StoreError;

/// The table's partition key (type `S`): the `webhook-id` as received.
pub const KEY_ATTRIBUTE: &str = "webhook_id";

/// The attribute the table's time to live reads (type `N`, seconds since
/// the Unix epoch): DynamoDB deletes an item some time after it passes.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// `claimed` or `done`.
pub(super) const STATE: &str = "state";
/// The claim's owner token (kept once done, to tell whose completion it was).
pub(super) const OWNER: &str = "owner";
/// When a claim's lease runs out, in milliseconds since the Unix epoch.
pub(super) const LEASE_UNTIL: &str = "lease_until";

pub(super) const CLAIMED: &str = "claimed";
pub(super) const DONE: &str = "done";

/// A claim writes its item only if there is none, or the one there is over:
/// a claim whose lease ran out, or an item past its time to live that
/// DynamoDB has not deleted yet (it may take days).
pub(super) const CLAIM_CONDITION: &str =
    "attribute_not_exists(#id) OR #expires < :now_s OR (#state = :claimed AND #lease <= :now_ms)";

/// A completion turns the item into a done one, kept for the retention.
pub(super) const COMPLETE_UPDATE: &str = "SET #state = :done, #owner = :owner, #expires = :expires REMOVE #lease";

/// ... only while our claim holds it, or no live claim or completion does
/// (our lease ran out and no one claimed it since): as the Redis and
/// PostgreSQL stores record it.
pub(super) const COMPLETE_CONDITION: &str = "attribute_not_exists(#id) OR #expires < :now_s \
     OR (#state = :claimed AND (#owner = :owner OR #lease <= :now_ms))";

/// A release deletes the item only if it is still our claim.
pub(super) const RELEASE_CONDITION: &str = "#state = :claimed AND #owner = :owner";

/// The clock the leases and the time to live are read against: this
/// machine's, as milliseconds since the Unix epoch. DynamoDB's expressions
/// have no clock of their own, so instances compare their clocks: keep them
/// synchronised (AWS's compute is, by the Amazon Time Sync Service).
#[derive(Debug, Clone, Copy)]
pub(super) struct Now {
    millis: u64,
}

impl Now {
    /// The time now.
    ///
    /// # Errors
    /// A configuration error for a clock before 1970.
    pub(super) fn read() -> Result<Self, StoreError> {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| StoreError::configuration("the system clock is set before 1970"))?;
        Ok(Self::at_millis(
            u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX),
        ))
    }

    pub(super) fn at_millis(millis: u64) -> Self {
        Self { millis }
    }

    /// `:now_ms`.
    pub(super) fn millis(self) -> AttributeValue {
        number(self.millis)
    }

    /// `:now_s`: whole seconds, rounded down, so that an item counts as
    /// past its time to live only once a whole second has gone by.
    pub(super) fn seconds(self) -> AttributeValue {
        number(self.millis / 1000)
    }

    /// Milliseconds since the epoch `duration` from now.
    ///
    /// # Errors
    /// A configuration error if that is too far to write.
    pub(super) fn after(self, duration: Duration, what: &str) -> Result<u64, StoreError> {
        u64::try_from(duration.as_millis())
            .ok()
            .and_then(|millis| self.millis.checked_add(millis.max(1)))
            .ok_or_else(|| StoreError::configuration(format!("{what} too long")))
    }
}

/// An `N` attribute.
pub(super) fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The time to live of an item that lasts until `millis`: whole seconds,
/// rounded up, so that it lasts at least that long.
pub(super) fn expires_at(millis: u64) -> AttributeValue {
    number(millis.div_ceil(1000))
}

/// What an item a condition refused says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// A live claim (ours or another's).
    Claimed,
    /// A completed delivery, still remembered.
    Done,
    /// No item, or one this store did not write.
    Other,
}

/// Reads the item a refused condition returned (`ALL_OLD`).
pub(super) fn found(item: Option<&HashMap<String, AttributeValue>>) -> Found {
    match item
        .and_then(|item| item.get(STATE))
        .and_then(|state| state.as_s().ok())
    {
        Some(state) if state == CLAIMED => Found::Claimed,
        Some(state) if state == DONE => Found::Done,
        _ => Found::Other,
    }
}

/// A table item this store did not write: refuse to guess.
pub(super) fn foreign_item() -> StoreError {
    StoreError::configuration(
        "the delivery's DynamoDB item holds something this store did not write (is the table shared?)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_whole_units_rounded_the_safe_way() {
        let now = Now::at_millis(1_700_000_000_999);
        assert_eq!(now.seconds(), AttributeValue::N("1700000000".into()));
        assert_eq!(now.millis(), AttributeValue::N("1700000000999".into()));
        assert_eq!(
            now.after(Duration::from_micros(10), "lease").unwrap(),
            1_700_000_001_000
        );
        assert_eq!(expires_at(1_700_000_001_000), AttributeValue::N("1700000001".into()));
        assert_eq!(expires_at(1_700_000_001_001), AttributeValue::N("1700000002".into()));
        assert!(now.after(Duration::MAX, "lease").unwrap_err().is_configuration());
    }

    #[test]
    fn a_refused_item_reads_by_its_state() {
        let item = |state: &str| HashMap::from([(STATE.to_owned(), AttributeValue::S(state.to_owned()))]);
        assert_eq!(found(Some(&item("claimed"))), Found::Claimed);
        assert_eq!(found(Some(&item("done"))), Found::Done);
        assert_eq!(found(Some(&item("paid"))), Found::Other);
        assert_eq!(found(None), Found::Other);
        let number = HashMap::from([(STATE.to_owned(), AttributeValue::N("1".into()))]);
        assert_eq!(found(Some(&number)), Found::Other);
    }
}
