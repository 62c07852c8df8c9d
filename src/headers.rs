//! Case-insensitive header lookup over whatever the caller's server hands us.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

/// Name of the header carrying the message id, stable across retries.
pub const WEBHOOK_ID: &str = "webhook-id";
/// Name of the header carrying the Unix time (seconds) of this attempt.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Name of the header carrying the space-separated `v1,<base64>` signatures.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// Svix's name for [`WEBHOOK_ID`], which its CLI and a default svix-server
/// send; read where `webhook-id` is absent.
pub const SVIX_ID: &str = "svix-id";
/// Svix's name for [`WEBHOOK_TIMESTAMP`]; read where `webhook-timestamp` is absent.
pub const SVIX_TIMESTAMP: &str = "svix-timestamp";
/// Svix's name for [`WEBHOOK_SIGNATURE`]; read where `webhook-signature` is absent.
pub const SVIX_SIGNATURE: &str = "svix-signature";

/// One of the three signed headers, whichever name it is sent under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Id,
    Timestamp,
    Signature,
}

impl Which {
    /// The Standard Webhooks name (`webhook-id`, ...).
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Which::Id => WEBHOOK_ID,
            Which::Timestamp => WEBHOOK_TIMESTAMP,
            Which::Signature => WEBHOOK_SIGNATURE,
        }
    }

    /// Svix's name for the same header (`svix-id`, ...).
    pub(crate) const fn svix_name(self) -> &'static str {
        match self {
            Which::Id => SVIX_ID,
            Which::Timestamp => SVIX_TIMESTAMP,
            Which::Signature => SVIX_SIGNATURE,
        }
    }
}

/// What [`webhook_header`] found under either name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found<'a> {
    /// One value, under one name or the same under both.
    One(&'a [u8]),
    /// Under neither name.
    Missing,
    /// Sent more than once under the name given.
    Repeated(&'static str),
    /// Sent under both names with different values: which is meant is
    /// anyone's guess, so the request is refused.
    Conflicting,
}

/// The header `which`, as Svix's libraries read it: the `webhook-*` name,
/// else the `svix-*` one. Both sent with one value is that value; with
/// different values, [`Found::Conflicting`].
pub(crate) fn webhook_header<H: Headers + ?Sized>(headers: &H, which: Which) -> Found<'_> {
    match (headers.lookup(which.name()), headers.lookup(which.svix_name())) {
        (Lookup::Repeated, _) => Found::Repeated(which.name()),
        (_, Lookup::Repeated) => Found::Repeated(which.svix_name()),
        (Lookup::One(value), Lookup::One(other)) if value != other => Found::Conflicting,
        (Lookup::One(value), _) | (Lookup::Missing, Lookup::One(value)) => Found::One(value),
        (Lookup::Missing, Lookup::Missing) => Found::Missing,
    }
}

/// What a header lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// No header of that name.
    Missing,
    /// Exactly one header of that name, with its raw value bytes.
    One(&'a [u8]),
    /// The header appears more than once. A webhook header sent twice is
    /// ambiguous, so verification refuses it.
    Repeated,
}

/// Read access to request headers, by case-insensitive name.
///
/// Implemented for `http::HeaderMap` (feature `http`), for slices, arrays and
/// vectors of `(name, value)` pairs, and for `HashMap`/`BTreeMap` from name
/// to value. Implement it for your server's own header type if it has one;
/// names are passed in lower case and must be matched ignoring ASCII case.
pub trait Headers {
    /// Looks up the header `name` (lower-case ASCII).
    fn lookup(&self, name: &str) -> Lookup<'_>;
}

impl<T: Headers + ?Sized> Headers for &T {
    fn lookup(&self, name: &str) -> Lookup<'_> {
        (**self).lookup(name)
    }
}

/// Folds the values whose name matches into one [`Lookup`].
fn lookup_pairs<'a, K, V, I>(pairs: I, name: &str) -> Lookup<'a>
where
    K: AsRef<str> + 'a + ?Sized,
    V: AsRef<[u8]> + 'a + ?Sized,
    I: IntoIterator<Item = (&'a K, &'a V)>,
{
    let mut found = Lookup::Missing;
    for (key, value) in pairs {
        if key.as_ref().eq_ignore_ascii_case(name) {
            found = match found {
                Lookup::Missing => Lookup::One(value.as_ref()),
                Lookup::One(_) | Lookup::Repeated => return Lookup::Repeated,
            };
        }
    }
    found
}

impl<K: AsRef<str>, V: AsRef<[u8]>> Headers for [(K, V)] {
    fn lookup(&self, name: &str) -> Lookup<'_> {
        lookup_pairs(self.iter().map(|(k, v)| (k, v)), name)
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>, const N: usize> Headers for [(K, V); N] {
    fn lookup(&self, name: &str) -> Lookup<'_> {
        self.as_slice().lookup(name)
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> Headers for Vec<(K, V)> {
    fn lookup(&self, name: &str) -> Lookup<'_> {
        self.as_slice().lookup(name)
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>, S: BuildHasher> Headers for HashMap<K, V, S> {
    fn lookup(&self, name: &str) -> Lookup<'_> {
        // Keys may be in any case, so every entry is compared.
        lookup_pairs(self.iter(), name)
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> Headers for BTreeMap<K, V> {
    fn lookup(&self, name: &str) -> Lookup<'_> {
        lookup_pairs(self.iter(), name)
    }
}

#[cfg(feature = "http")]
impl Headers for http::HeaderMap {
    fn lookup(&self, name: &str) -> Lookup<'_> {
        // Pre-built names skip parsing `name` on every request; any other
        // name is parsed (and lower-cased) by `HeaderMap` itself.
        static ID: http::HeaderName = http::HeaderName::from_static(WEBHOOK_ID);
        static TIMESTAMP: http::HeaderName = http::HeaderName::from_static(WEBHOOK_TIMESTAMP);
        static SIGNATURE: http::HeaderName = http::HeaderName::from_static(WEBHOOK_SIGNATURE);
        static SVIX_ID_NAME: http::HeaderName = http::HeaderName::from_static(SVIX_ID);
        static SVIX_TIMESTAMP_NAME: http::HeaderName = http::HeaderName::from_static(SVIX_TIMESTAMP);
        static SVIX_SIGNATURE_NAME: http::HeaderName = http::HeaderName::from_static(SVIX_SIGNATURE);
        let values = match name {
            WEBHOOK_ID => self.get_all(&ID),
            WEBHOOK_TIMESTAMP => self.get_all(&TIMESTAMP),
            WEBHOOK_SIGNATURE => self.get_all(&SIGNATURE),
            SVIX_ID => self.get_all(&SVIX_ID_NAME),
            SVIX_TIMESTAMP => self.get_all(&SVIX_TIMESTAMP_NAME),
            SVIX_SIGNATURE => self.get_all(&SVIX_SIGNATURE_NAME),
            other => self.get_all(other),
        };
        let mut values = values.iter();
        match (values.next(), values.next()) {
            (None, _) => Lookup::Missing,
            (Some(value), None) => Lookup::One(value.as_bytes()),
            (Some(_), Some(_)) => Lookup::Repeated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_matched_ignoring_case() {
        let headers = [("Webhook-ID", "a"), ("content-type", "b")];
        assert_eq!(headers.lookup(WEBHOOK_ID), Lookup::One(b"a"));
        assert_eq!(headers.lookup(WEBHOOK_SIGNATURE), Lookup::Missing);
    }

    #[test]
    fn a_repeated_header_is_reported_whatever_its_case() {
        let headers = vec![("webhook-id", "a"), ("WEBHOOK-ID", "b")];
        assert_eq!(headers.lookup(WEBHOOK_ID), Lookup::Repeated);
        let map: HashMap<&str, &str> = [("webhook-id", "a"), ("Webhook-Id", "b")].into();
        assert_eq!(map.lookup(WEBHOOK_ID), Lookup::Repeated);
    }

    #[test]
    fn maps_and_byte_values_work() {
        let map: BTreeMap<String, Vec<u8>> = [("Webhook-Timestamp".to_owned(), b"12".to_vec())].into();
        assert_eq!(map.lookup(WEBHOOK_TIMESTAMP), Lookup::One(b"12"));
        assert_eq!((&&map).lookup(WEBHOOK_ID), Lookup::Missing);
    }

    #[test]
    fn svix_names_are_read_where_the_standard_ones_are_absent() {
        let svix = [("Svix-Id", "msg_1"), ("svix-timestamp", "12")];
        assert_eq!(webhook_header(&svix, Which::Id), Found::One(b"msg_1"));
        assert_eq!(webhook_header(&svix, Which::Timestamp), Found::One(b"12"));
        assert_eq!(webhook_header(&svix, Which::Signature), Found::Missing);
        let standard = [("webhook-id", "msg_1")];
        assert_eq!(webhook_header(&standard, Which::Id), Found::One(b"msg_1"));
    }

    #[test]
    fn both_names_must_agree() {
        let same = [("webhook-id", "msg_1"), ("svix-id", "msg_1")];
        assert_eq!(webhook_header(&same, Which::Id), Found::One(b"msg_1"));
        let different = [("webhook-id", "msg_1"), ("svix-id", "msg_2")];
        assert_eq!(webhook_header(&different, Which::Id), Found::Conflicting);
        // Either name repeated is ambiguous, whatever the other holds.
        let repeated = [("webhook-id", "msg_1"), ("svix-id", "msg_1"), ("SVIX-ID", "msg_1")];
        assert_eq!(webhook_header(&repeated, Which::Id), Found::Repeated(SVIX_ID));
        let repeated = [("svix-id", "msg_1"), ("webhook-id", "a"), ("webhook-id", "b")];
        assert_eq!(webhook_header(&repeated, Which::Id), Found::Repeated(WEBHOOK_ID));
    }

    #[cfg(feature = "http")]
    #[test]
    fn header_map_finds_svix_names() {
        let mut map = http::HeaderMap::new();
        map.insert("Svix-Signature", http::HeaderValue::from_static("v1,a"));
        map.insert("svix-timestamp", http::HeaderValue::from_static("12"));
        assert_eq!(webhook_header(&map, Which::Signature), Found::One(b"v1,a"));
        assert_eq!(webhook_header(&map, Which::Timestamp), Found::One(b"12"));
        assert_eq!(webhook_header(&map, Which::Id), Found::Missing);
    }

    #[cfg(feature = "http")]
    #[test]
    fn header_map_reports_one_missing_and_repeated() {
        let mut map = http::HeaderMap::new();
        map.insert("Webhook-Id", http::HeaderValue::from_static("msg_1"));
        map.append(WEBHOOK_SIGNATURE, http::HeaderValue::from_static("v1,a"));
        map.append(WEBHOOK_SIGNATURE, http::HeaderValue::from_static("v1,b"));
        assert_eq!(map.lookup(WEBHOOK_ID), Lookup::One(b"msg_1"));
        assert_eq!(map.lookup(WEBHOOK_TIMESTAMP), Lookup::Missing);
        assert_eq!(map.lookup(WEBHOOK_SIGNATURE), Lookup::Repeated);
    }
}
