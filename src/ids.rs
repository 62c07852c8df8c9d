//! Newtypes for the ids Yoco sends, so one cannot be passed for another.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The bytes an id keeps inline: every id Yoco and Svix send (`evt_`,
/// `ch_`, `p_`, `rfd_`, `msg_` and 22 to 27 characters) fits, so an id costs
/// no allocation; a longer one goes to the heap.
const INLINE: usize = 38;

/// The text of an id (or of a store's claim owner), inline when short. (No
/// well-kept crate keeps 38 bytes inline without `unsafe` as a dependency
/// we may add to the core: smol_str and compact_str stop at 23 and 24, too
/// short for a `webhook-id`.)
#[derive(Clone)]
pub(crate) enum IdText {
    /// `bytes[..len]` is UTF-8: built only from a `&str` (see `IdText::new`).
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Heap(Box<str>),
}

impl IdText {
    pub(crate) fn new(text: &str) -> Self {
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                if let Some(prefix) = bytes.get_mut(..text.len()) {
                    prefix.copy_from_slice(text.as_bytes());
                }
                IdText::Inline { len, bytes }
            }
            _ => IdText::Heap(text.into()),
        }
    }

    fn from_string(text: String) -> Self {
        if text.len() <= INLINE {
            Self::new(&text)
        } else {
            IdText::Heap(text.into_boxed_str())
        }
    }

    /// The text's bytes, without checking them as UTF-8 again (which
    /// [`as_str`](Self::as_str) must, having no `unsafe`): for comparing,
    /// hashing privately and writing out.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            IdText::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            IdText::Heap(text) => text.as_bytes(),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Copied from a `&str` whole (see `new`): always UTF-8, so the
            // fallback is unreachable.
            IdText::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|text| std::str::from_utf8(text).ok())
                .unwrap_or_default(),
            IdText::Heap(text) => text,
        }
    }
}

impl PartialEq for IdText {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for IdText {}

impl std::hash::Hash for IdText {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for IdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Kept inline, without an allocation, up to 38 bytes (every id
        /// Yoco sends).
        #[derive(Clone)]
        pub struct $name(IdText);

        impl $name {
            /// Wraps an id.
            pub fn new(id: impl AsRef<str>) -> Self {
                Self(IdText::new(id.as_ref()))
            }

            /// The id as sent.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            /// The id's bytes, unchecked: for comparing, hashing privately
            /// and writing out.
            pub(crate) fn as_bytes(&self) -> &[u8] {
                self.0.as_bytes()
            }

            /// The id as an owned string.
            pub fn into_string(self) -> String {
                match self.0 {
                    IdText::Heap(text) => text.into_string(),
                    inline => inline.as_str().to_owned(),
                }
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0 == other.0
            }
        }

        impl Eq for $name {}

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                // As `str` orders: by its bytes.
                self.as_bytes().cmp(other.as_bytes())
            }
        }

        /// Hashes as the `str` does, as `Borrow<str>` requires.
        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.as_str().hash(state);
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(IdVisitor).map(Self)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        /// Lets a set of these ids be searched with a `&str`.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                self.as_str()
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(IdText::from_string(id))
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(IdText::new(id))
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
    };
}

/// Reads an id from a JSON string without allocating when it is short.
struct IdVisitor;

impl serde::de::Visitor<'_> for IdVisitor {
    type Value = IdText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id string")
    }

    fn visit_str<E: serde::de::Error>(self, id: &str) -> Result<IdText, E> {
        Ok(IdText::new(id))
    }

    fn visit_string<E: serde::de::Error>(self, id: String) -> Result<IdText, E> {
        Ok(IdText::from_string(id))
    }
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
    fn short_ids_are_inline_and_long_ones_on_the_heap_and_both_read_back() {
        for text in [
            "",
            "ch_1",
            "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
            &"é".repeat(19),
            &"x".repeat(39),
            "Zoë ☕",
        ] {
            let id = WebhookId::new(text);
            assert_eq!(id.as_str(), text);
            assert_eq!(matches!(id.0, IdText::Inline { .. }), text.len() <= INLINE, "{text}");
            assert_eq!(WebhookId::from(text.to_owned()), id);
            assert_eq!(id.clone().into_string(), text);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<WebhookId>(&json).unwrap(), id);
        }
        // Escaped in JSON: read through an owned string.
        let id: EventId = serde_json::from_str(r#""evt_\u0041""#).unwrap();
        assert_eq!(id, "evt_A");
        assert!(EventId::new("a") < EventId::new("b"));
    }

    #[test]
    fn ids_are_json_strings() {
        let id: PaymentId = serde_json::from_str("\"p_1\"").unwrap();
        assert_eq!(id.as_str(), "p_1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"p_1\"");
    }

    #[test]
    fn ids_compare_and_order_by_their_bytes_as_their_text_does() {
        let texts = [
            "",
            "a",
            "b",
            "ab",
            "msg_1",
            "msg_2",
            "Zoë",
            "Zoe\u{301}",
            "☕",
            &"x".repeat(38),
            &"x".repeat(39),
            &"é".repeat(20),
        ];
        for a in texts {
            for b in texts {
                let (id_a, id_b) = (WebhookId::new(a), WebhookId::new(b));
                assert_eq!(id_a == id_b, a == b, "{a:?} {b:?}");
                assert_eq!(id_a.cmp(&id_b), a.cmp(b), "{a:?} {b:?}");
                assert_eq!(id_a.as_bytes(), a.as_bytes());
                assert_eq!(IdText::new(a) == IdText::new(b), a == b);
            }
        }
    }
}
