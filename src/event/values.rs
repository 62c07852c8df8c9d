//! The values Yoco sends as strings (`mode`, `status`, ...), as enums that
//! keep an `Other` variant, and `payload.metadata`.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::ids::CheckoutId;

/// Declares an enum of the strings Yoco sends for a field, with an `Other`
/// variant for the ones it may add: known values cost no allocation, and a
/// new value never fails the parse.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$variant_doc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$variant_doc])* $variant,)*
            /// A value this crate does not know, as sent.
            Other(String),
        }

        impl $name {
            /// The value as Yoco spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(other) => other,
                }
            }

            pub(crate) fn from_text(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct TextVisitor;
                impl Visitor<'_> for TextVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: de::Error>(self, text: &str) -> Result<$name, E> {
                        Ok($name::from_text(text))
                    }
                }
                deserializer.deserialize_str(TextVisitor)
            }
        }
    };
}

string_enum!(
    /// Live or test mode. One endpoint receives both.
    Mode {
        /// Real money.
        Live = "live",
        /// Test payments.
        Test = "test",
    }
);

string_enum!(
    /// The status of a payment or refund.
    Status {
        /// It went through.
        Succeeded = "succeeded",
        /// It did not.
        Failed = "failed",
    }
);

string_enum!(
    /// ISO 4217 currency code.
    Currency {
        /// South African rand.
        Zar = "ZAR",
    }
);

string_enum!(
    /// How the customer paid.
    PaymentMethod {
        /// A card.
        Card = "card",
    }
);

string_enum!(
    /// The scheme of a card.
    CardScheme {
        /// Visa.
        Visa = "visa",
        /// Mastercard.
        Mastercard = "mastercard",
        /// American Express.
        Amex = "amex",
    }
);

/// The key of the checkout id in `payload.metadata`.
const CHECKOUT_ID: &str = "checkoutId";

/// `payload.metadata`: the checkout id, plus every other key the merchant set
/// when creating the checkout.
///
/// A key sent more than once takes its last value, as `serde_json::Value`
/// reads it, so a handler that reads the raw body again agrees with the
/// event. A `checkoutId` whose last value is not a string means no checkout
/// id: [`checkout_id`](Self::checkout_id) is `None` and the value is kept in
/// [`other`](Self::other).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Metadata {
    /// `checkoutId`, when present and (its last value) a string.
    pub checkout_id: Option<CheckoutId>,
    /// Every other key, as sent (a non-string `checkoutId` is kept here too).
    pub other: Map<String, Value>,
}

impl Metadata {
    /// A metadata key other than `checkoutId`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.other.get(key)
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MetadataVisitor;
        impl<'de> Visitor<'de> for MetadataVisitor {
            type Value = Metadata;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a metadata object")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Metadata, E> {
                Ok(Metadata::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metadata, A::Error> {
                let mut metadata = Metadata::default();
                while let Some(key) = map.next_key::<MetadataKey>()? {
                    let value: Value = map.next_value()?;
                    // A repeated key takes its last value, as in a
                    // `serde_json::Value`: a later `checkoutId` replaces an
                    // earlier one, string or not.
                    match (key, value) {
                        (MetadataKey::CheckoutId, Value::String(id)) => {
                            metadata.checkout_id = Some(CheckoutId::new(id));
                            metadata.other.remove(CHECKOUT_ID);
                        }
                        (MetadataKey::CheckoutId, value) => {
                            metadata.checkout_id = None;
                            metadata.other.insert(CHECKOUT_ID.to_owned(), value);
                        }
                        (MetadataKey::Other(key), value) => {
                            metadata.other.insert(key, value);
                        }
                    }
                }
                Ok(metadata)
            }
        }
        // `null` is treated as empty metadata.
        deserializer.deserialize_any(MetadataVisitor)
    }
}

/// A metadata key; `checkoutId`, the one read on every event, without allocating.
enum MetadataKey {
    CheckoutId,
    Other(String),
}

impl<'de> Deserialize<'de> for MetadataKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = MetadataKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a metadata key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<MetadataKey, E> {
                Ok(match key {
                    CHECKOUT_ID => MetadataKey::CheckoutId,
                    other => MetadataKey::Other(other.to_owned()),
                })
            }
            fn visit_string<E: de::Error>(self, key: String) -> Result<MetadataKey, E> {
                Ok(if key == CHECKOUT_ID {
                    MetadataKey::CheckoutId
                } else {
                    MetadataKey::Other(key)
                })
            }
        }
        deserializer.deserialize_string(KeyVisitor)
    }
}
