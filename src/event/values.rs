//! The values Yoco sends as strings (`mode`, `status`, ...), as enums that
//! keep an `Other` variant, and `payload.metadata`.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::ids::CheckoutId;
use crate::mode::string_enum;

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
                    // A repeated key takes its last value, as in a
                    // `serde_json::Value`: a later `checkoutId` replaces an
                    // earlier one, string or not.
                    match key {
                        MetadataKey::CheckoutId => match map.next_value::<CheckoutValue>()? {
                            CheckoutValue::Id(id) => {
                                metadata.checkout_id = Some(id);
                                metadata.other.remove(CHECKOUT_ID);
                            }
                            CheckoutValue::Other(value) => {
                                metadata.checkout_id = None;
                                metadata.other.insert(CHECKOUT_ID.to_owned(), value);
                            }
                        },
                        MetadataKey::Other(key) => {
                            let value: Value = map.next_value()?;
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

/// The value of `checkoutId`: a string read straight into the id (no
/// allocation for a short one), anything else as the `Value` it is.
enum CheckoutValue {
    Id(CheckoutId),
    Other(Value),
}

impl<'de> Deserialize<'de> for CheckoutValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CheckoutVisitor;
        impl<'de> Visitor<'de> for CheckoutVisitor {
            type Value = CheckoutValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, id: &str) -> Result<CheckoutValue, E> {
                Ok(CheckoutValue::Id(CheckoutId::from(id)))
            }
            fn visit_string<E: de::Error>(self, id: String) -> Result<CheckoutValue, E> {
                Ok(CheckoutValue::Id(CheckoutId::from(id)))
            }
            // The rest as `serde_json::Value` reads them.
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<CheckoutValue, E> {
                Ok(CheckoutValue::Other(Value::Bool(value)))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<CheckoutValue, E> {
                Ok(CheckoutValue::Other(Value::from(value)))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<CheckoutValue, E> {
                Ok(CheckoutValue::Other(Value::from(value)))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<CheckoutValue, E> {
                Ok(CheckoutValue::Other(Value::from(value)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<CheckoutValue, E> {
                Ok(CheckoutValue::Other(Value::Null))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<CheckoutValue, A::Error> {
                Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(CheckoutValue::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CheckoutValue, A::Error> {
                Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(CheckoutValue::Other)
            }
        }
        deserializer.deserialize_any(CheckoutVisitor)
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
