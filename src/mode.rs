//! Live or test: the mode of an event, and of the secret that vouches for
//! it. A concept of the core that both `verify` (a secret bound to a mode)
//! and `event` (the mode an event was made in) use, so neither imports the
//! other.
//!
//! It also declares `string_enum!`, how the values Yoco sends as strings
//! (`mode`, `status`, ...) become enums that keep an `Other` variant.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

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
pub(crate) use string_enum;

/// A mode as a bounded label for metrics: `live`, `test`, `other` or `none`.
#[cfg(feature = "http")]
pub(crate) fn mode_label(mode: Option<&Mode>) -> &'static str {
    match mode {
        Some(Mode::Live) => "live",
        Some(Mode::Test) => "test",
        Some(_) => "other",
        None => "none",
    }
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
