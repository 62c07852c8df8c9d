//! Newtypes for the ids Yoco sends, so one cannot be passed for another.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as sent.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Lets a set of these ids be searched with a `&str`.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id_type!(
    /// The `webhook-id` of a message: the same for every retry of it, so the
    /// key for processing each delivery once.
    WebhookId
);
id_type!(
    /// The id of an event (`evt_...`).
    EventId
);
id_type!(
    /// The id of a Checkout (`ch_...`), the merchant's handle on an order.
    CheckoutId
);
id_type!(
    /// The id of a payment (`p_...`).
    PaymentId
);
id_type!(
    /// The id of a refund (`rfd_...`).
    RefundId
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_compare_with_strings_and_work_as_set_keys() {
        let ours: HashSet<CheckoutId> = ["ch_1", "ch_2"].into_iter().map(CheckoutId::from).collect();
        assert!(ours.contains("ch_1"));
        assert!(!ours.contains("ch_3"));
        assert_eq!(CheckoutId::new("ch_1"), "ch_1");
        assert_eq!(
            format!("{:?} {}", EventId::new("evt_1"), EventId::new("evt_1")),
            "EventId(\"evt_1\") evt_1"
        );
    }

    #[test]
    fn ids_are_json_strings() {
        let id: PaymentId = serde_json::from_str("\"p_1\"").unwrap();
        assert_eq!(id.as_str(), "p_1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"p_1\"");
    }
}
