//! The one reader: whose event a body is, decided once, from the bytes.
//!
//! One pass over the body checks its whole JSON syntax (RFC 8259, at any
//! depth, without recursion beyond the three objects it looks into) and
//! reads, on the way, the values that decide what happens to the event:
//! `id`, `type`, `createdDate`, `payload` (where it is, and whether it is
//! an object), `payload.mode` and `payload.metadata.checkoutId`. Every
//! other step takes them from here: the filter, the mode check, the typed
//! event (whose ids, type and owner are these), the stored and queued
//! paths. No later reader can contradict them.
//!
//! It reads them as `serde_json::Value` does: a key sent more than once
//! takes its last value (and a repeated `payload` or `metadata` forgets
//! what the earlier one held), escapes are decoded, keys included, and a
//! value that is not a string means none. It also notes whether `Value`
//! can read the body at all ([`Owner::unreadable`]): a lone surrogate
//! escape, a number beyond `f64` or nesting deeper than 127 make
//! `serde_json` refuse a body that is still JSON; such a body is never
//! acknowledged as someone else's (see [`Receiver`](crate::Receiver)).
//!
//! A body that is not UTF-8, not JSON, or not an object with a string `id`
//! and `type`, an RFC 3339 `createdDate` and a `payload` is not an event.

// The arithmetic here is on positions in the body and on the nesting depth:
// a position plus a few bytes cannot overflow (a slice is at most
// `isize::MAX` long), and every subtraction is of a smaller count.
#![allow(clippy::arithmetic_side_effects)]

use std::borrow::Cow;

use serde::de::{self, value::BorrowedStrDeserializer};
use time::OffsetDateTime;

use super::problem::ParseProblem;
use json::Open;

mod json;

/// What the reader read: each value as `serde_json::Value` would read it,
/// borrowed from the body unless it had escapes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Owner<'a> {
    /// The whole body, as text (checked UTF-8).
    pub(crate) text: &'a str,
    pub(crate) event_id: Cow<'a, str>,
    pub(crate) event_type: Cow<'a, str>,
    pub(crate) created_date: OffsetDateTime,
    /// The (last) `payload` value's text.
    pub(crate) payload: &'a str,
    /// Where it starts in the body.
    pub(crate) payload_at: usize,
    /// Whether that value is an object.
    pub(crate) payload_is_object: bool,
    /// `payload.metadata.checkoutId`, when `payload` and `metadata` are
    /// objects and its (last) value is a string.
    pub(crate) checkout_id: Option<Cow<'a, str>>,
    /// `payload.mode`, when `payload` is an object and its (last) value is
    /// a string.
    pub(crate) mode: Option<Cow<'a, str>>,
    /// Why `serde_json::Value` cannot read the body, if it cannot: the
    /// first lone surrogate escape, number beyond `f64` or nesting deeper
    /// than 127.
    pub(crate) unreadable: Option<ParseProblem>,
    /// Where each lone surrogate escape (`\uD83D` without its pair) starts.
    pub(crate) lone_surrogates: Vec<usize>,
}

/// The deepest nesting `serde_json` reads (its recursion limit, 128, counts
/// the level it refuses).
const VALUE_MAX_DEPTH: usize = 127;

/// Reads whose event `body` is.
///
/// # Errors
/// A [`ParseProblem`] when the body is not an event: not UTF-8, not JSON, or
/// without a string `id` and `type`, an RFC 3339 `createdDate` and a
/// `payload`. It names what is wrong and where, never a value.
pub(crate) fn read(body: &[u8]) -> Result<Owner<'_>, ParseProblem> {
    let text =
        std::str::from_utf8(body).map_err(|error| ParseProblem::at(body, error.valid_up_to(), "body is not UTF-8"))?;
    let mut scanner = Scanner::new(text);
    scanner.skip_whitespace();
    if scanner.peek() != Some(b'{') {
        return Err(scanner.problem("body is not a JSON object"));
    }
    scanner.at += 1;
    scanner.object(Container::Top, 1)?;
    scanner.skip_whitespace();
    if scanner.at != text.len() {
        return Err(scanner.problem("trailing characters after the event"));
    }
    let Scanner {
        read,
        unreadable,
        lone_surrogates,
        ..
    } = scanner;
    let event_id = required(read.id, "missing field `id`", "`id` is not a string")?;
    let event_type = required(read.event_type, "missing field `type`", "`type` is not a string")?;
    let created_date = required(
        read.created_date,
        "missing field `createdDate`",
        "`createdDate` is not a string",
    )?;
    // The function the typed payload reads its own dates with.
    let created_date =
        time::serde::rfc3339::deserialize(BorrowedStrDeserializer::<de::value::Error>::new(&created_date))
            .map_err(|_| ParseProblem::new("`createdDate` is not an RFC 3339 date"))?;
    let (payload_at, payload) = read
        .payload
        .and_then(|(start, end)| Some((start, text.get(start..end)?)))
        .ok_or_else(|| ParseProblem::new("missing field `payload`"))?;
    Ok(Owner {
        text,
        event_id,
        event_type,
        created_date,
        payload,
        payload_at,
        payload_is_object: read.payload_is_object,
        checkout_id: if read.payload_is_object && read.metadata_is_object {
            read.checkout_id.text()
        } else {
            None
        },
        mode: if read.payload_is_object { read.mode.text() } else { None },
        unreadable,
        lone_surrogates,
    })
}

/// A string field the envelope must have.
fn required<'a>(
    field: Field<'a>,
    missing: &'static str,
    not_string: &'static str,
) -> Result<Cow<'a, str>, ParseProblem> {
    match field {
        Field::Text(value) => Ok(value),
        Field::Absent => Err(ParseProblem::new(missing)),
        Field::Other => Err(ParseProblem::new(not_string)),
    }
}

/// One of the values the reader notes.
#[derive(Debug, Clone, PartialEq)]
enum Field<'a> {
    Absent,
    Text(Cow<'a, str>),
    /// Present, not a string.
    Other,
}

impl<'a> Field<'a> {
    /// The value when it is a string.
    fn text(self) -> Option<Cow<'a, str>> {
        match self {
            Field::Text(value) => Some(value),
            Field::Absent | Field::Other => None,
        }
    }
}

/// What the scan noted: each the last value of its key.
#[derive(Debug)]
struct Read<'a> {
    id: Field<'a>,
    event_type: Field<'a>,
    created_date: Field<'a>,
    /// Where the `payload` value is.
    payload: Option<(usize, usize)>,
    payload_is_object: bool,
    mode: Field<'a>,
    metadata_is_object: bool,
    checkout_id: Field<'a>,
}

/// Where a key's value goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Ignored,
    Id,
    Type,
    CreatedDate,
    Payload,
    Mode,
    Metadata,
    CheckoutId,
}

/// The object the scan is in: one of the three whose keys matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Top,
    Payload,
    Metadata,
}

/// A recursive descent over the three objects that matter, and a loop over
/// everything inside them.
struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    read: Read<'a>,
    unreadable: Option<ParseProblem>,
    lone_surrogates: Vec<usize>,
    open: Open,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            at: 0,
            read: Read {
                id: Field::Absent,
                event_type: Field::Absent,
                created_date: Field::Absent,
                payload: None,
                payload_is_object: false,
                mode: Field::Absent,
                metadata_is_object: false,
                checkout_id: Field::Absent,
            },
            unreadable: None,
            lone_surrogates: Vec::new(),
            open: Open::default(),
        }
    }

    /// The members of one of the three objects that matter, after its `{`,
    /// at nesting `depth`.
    fn object(&mut self, container: Container, depth: usize) -> Result<(), ParseProblem> {
        let mut byte = self.next_token()?;
        if byte == b'}' {
            return Ok(());
        }
        loop {
            if byte != b'"' {
                return Err(self.syntax());
            }
            let key = self.string(true)?;
            self.expect(b':')?;
            let slot = key.map_or(Slot::Ignored, |key| slot(container, &key));
            self.skip_whitespace();
            self.member(slot, depth)?;
            match self.next_token()? {
                b',' => byte = self.next_token()?,
                b'}' => return Ok(()),
                _ => return Err(self.syntax()),
            }
        }
    }

    /// The value of a member whose key goes to `slot`, in an object at
    /// nesting `depth`.
    fn member(&mut self, slot: Slot, depth: usize) -> Result<(), ParseProblem> {
        let start = self.at;
        let inner = match slot {
            Slot::Payload => Some(Container::Payload),
            Slot::Metadata => Some(Container::Metadata),
            _ => None,
        };
        // A repeated `payload` or `metadata` replaces what the earlier one held.
        match slot {
            Slot::Payload => {
                let read = &mut self.read;
                (
                    read.payload_is_object,
                    read.mode,
                    read.metadata_is_object,
                    read.checkout_id,
                ) = (false, Field::Absent, false, Field::Absent);
            }
            Slot::Metadata => {
                (self.read.metadata_is_object, self.read.checkout_id) = (false, Field::Absent);
            }
            _ => {}
        }
        let field = match (self.peek(), inner) {
            (Some(b'"'), _) => {
                self.at += 1;
                match self.string(slot != Slot::Ignored)? {
                    Some(text) => Field::Text(text),
                    None => Field::Other,
                }
            }
            (Some(b'{'), Some(container)) => {
                self.at += 1;
                self.check_depth(depth + 1);
                match container {
                    Container::Payload => self.read.payload_is_object = true,
                    _ => self.read.metadata_is_object = true,
                }
                self.object(container, depth + 1)?;
                Field::Other
            }
            _ => {
                self.value(depth)?;
                Field::Other
            }
        };
        let read = &mut self.read;
        match slot {
            Slot::Ignored | Slot::Metadata => {}
            Slot::Id => read.id = field,
            Slot::Type => read.event_type = field,
            Slot::CreatedDate => read.created_date = field,
            Slot::Payload => read.payload = Some((start, self.at)),
            Slot::Mode => read.mode = field,
            Slot::CheckoutId => read.checkout_id = field,
        }
        Ok(())
    }

    /// Notes a body nested deeper than `serde_json` reads.
    fn check_depth(&mut self, depth: usize) {
        if depth > VALUE_MAX_DEPTH {
            self.unreadable("nesting deeper than 127 levels");
        }
    }

    /// Notes a lone surrogate escape whose backslash is at `at`.
    fn lone_surrogate(&mut self, at: usize) {
        self.lone_surrogates.push(at);
        if self.unreadable.is_none() {
            self.unreadable = Some(ParseProblem::at(self.bytes, at, "a lone surrogate escape in a string"));
        }
    }

    /// Notes the first thing that `serde_json::Value` would refuse.
    fn unreadable(&mut self, what: &'static str) {
        if self.unreadable.is_none() {
            self.unreadable = Some(self.problem(what));
        }
    }
}

/// Where the value of the key `key` in `container` goes.
fn slot(container: Container, key: &str) -> Slot {
    match (container, key) {
        (Container::Top, "id") => Slot::Id,
        (Container::Top, "type") => Slot::Type,
        (Container::Top, "createdDate") => Slot::CreatedDate,
        (Container::Top, "payload") => Slot::Payload,
        (Container::Payload, "mode") => Slot::Mode,
        (Container::Payload, "metadata") => Slot::Metadata,
        (Container::Metadata, "checkoutId") => Slot::CheckoutId,
        _ => Slot::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../documented_sample.json");
    const DATE: &str = r#""createdDate":"2024-06-16T10:00:00Z""#;

    fn owner(body: &str) -> (Option<String>, Option<String>) {
        let owner = read(body.as_bytes()).unwrap_or_else(|problem| panic!("{body}: {problem}"));
        (owner.checkout_id.map(Cow::into_owned), owner.mode.map(Cow::into_owned))
    }

    #[test]
    fn reads_the_documented_sample() {
        let owner = read(SAMPLE.as_bytes()).unwrap();
        assert_eq!(owner.event_id, "evt_1EAwK8Mjy2DT38WIWntiZWxm");
        assert_eq!(owner.event_type, "payment.succeeded");
        assert_eq!(owner.checkout_id.as_deref(), Some("ch_9LVKD8GnAj7f39DFbn4F16bE"));
        assert_eq!(owner.mode.as_deref(), Some("live"));
        assert!(owner.payload_is_object && owner.unreadable.is_none());
        assert!(
            matches!(owner.event_id, Cow::Borrowed(_)),
            "no allocation without escapes"
        );
        assert_eq!(
            &SAMPLE[owner.payload_at..owner.payload_at + owner.payload.len()],
            owner.payload
        );
    }

    #[test]
    fn reads_owners_in_any_order_shape_and_spelling() {
        for (body, checkout_id, mode) in [
            (
                format!(
                    r#"{{"payload":{{"metadata":{{"x":[1,{{"checkoutId":"no"}}],"checkoutId":"ch_1"}},"mode":"test"}},"type":"t",{DATE},"id":"e"}}"#
                ),
                Some("ch_1"),
                Some("test"),
            ),
            // Escapes, in values and in keys.
            (
                format!(
                    r#"{{"id":"e","type":"t",{DATE},"payload":{{"mo\u0064e":"l\u0069ve","metadata":{{"checkout\u0049d":"ch_\"1\"\ud83d\ude00"}}}}}}"#
                ),
                Some("ch_\"1\"\u{1f600}"),
                Some("live"),
            ),
            // Not strings, not objects.
            (
                format!(r#"{{"id":"e","type":"t",{DATE},"payload":{{"metadata":null,"mode":7}}}}"#),
                None,
                None,
            ),
            (
                format!(r#"{{"id":"e","type":"t",{DATE},"payload":[{{"mode":"live"}}]}}"#),
                None,
                None,
            ),
            (
                format!(r#"{{"id":"e","type":"t",{DATE},"payload":{{"metadata":["checkoutId","ch_1"]}}}}"#),
                None,
                None,
            ),
            // A key inside a string is not a key.
            (
                format!(
                    r#"{{"id":"e","type":"t",{DATE},"payload":{{"note":"\"checkoutId\":\"ch_1\"","metadata":{{}}}}}}"#
                ),
                None,
                None,
            ),
            // Repeated keys: the last value, and a repeated container forgets the earlier one.
            (
                format!(
                    r#"{{"id":"e","type":"t",{DATE},"payload":{{"mode":"live","mode":"test","metadata":{{"checkoutId":"ch_1","checkoutId":"ch_2"}}}}}}"#
                ),
                Some("ch_2"),
                Some("test"),
            ),
            (
                format!(
                    r#"{{"id":"e","type":"t",{DATE},"payload":{{"mode":"live","metadata":{{"checkoutId":"ch_1"}}}},"payload":{{"x":1}}}}"#
                ),
                None,
                None,
            ),
            (
                format!(
                    r#"{{"id":"e","type":"t",{DATE},"payload":{{"metadata":{{"checkoutId":"ch_1"}},"metadata":{{}}}}}}"#
                ),
                None,
                None,
            ),
            (
                format!(
                    r#"{{"id":"e","type":"t",{DATE},"payload":{{"metadata":{{"checkoutId":"ch_1","checkoutId":7}}}}}}"#
                ),
                None,
                None,
            ),
        ] {
            assert_eq!(
                owner(&body),
                (checkout_id.map(str::to_owned), mode.map(str::to_owned)),
                "{body}"
            );
            let value: serde_json::Value = serde_json::from_str(&body).unwrap();
            let by_value = (
                value["payload"]["metadata"]["checkoutId"].as_str().map(str::to_owned),
                value["payload"]["mode"].as_str().map(str::to_owned),
            );
            assert_eq!(owner(&body), by_value, "{body}");
        }
    }

    #[test]
    fn notes_what_value_cannot_read_and_reads_on() {
        let deep = format!("{}{}", "[".repeat(127), "]".repeat(126));
        for (extra, unreadable) in [
            (r#""a":"\ud83d""#.to_owned(), true),
            (r#""a":"\udc00\ud83d\ude00""#.to_owned(), true),
            (r#""a":"\ud83d\u0041""#.to_owned(), true),
            (r#""a":"\ud83d\ude00""#.to_owned(), false),
            ("\"a\":1e400".to_owned(), true),
            ("\"a\":-1e400".to_owned(), true),
            (
                "\"a\":1.7976931348623158e308".to_owned(),
                serde_json::from_str::<f64>("1.7976931348623158e308").is_err(),
            ),
            ("\"a\":1e-400".to_owned(), false),
            (format!("\"a\":{}", "9".repeat(400)), true),
            (format!("\"a\":{}", "9".repeat(30)), false),
            // 126 more levels inside the top object: 127 in all, as deep as `Value` reads.
            (format!("\"a\":{}", &deep[1..]), false),
            (format!("\"a\":{deep}]"), true),
        ] {
            let body = format!(
                r#"{{{extra},"id":"e","type":"t",{DATE},"payload":{{"mode":"live","metadata":{{"checkoutId":"ch_1"}}}}}}"#
            );
            let owner = read(body.as_bytes()).unwrap_or_else(|problem| panic!("{body}: {problem}"));
            assert_eq!(
                owner.unreadable.is_some(),
                unreadable,
                "{}",
                &body[..body.len().min(80)]
            );
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&body).is_err(),
                unreadable,
                "{extra}"
            );
            assert_eq!(
                (owner.checkout_id.as_deref(), owner.mode.as_deref()),
                (Some("ch_1"), Some("live"))
            );
        }
    }

    #[test]
    fn a_body_nested_a_million_deep_is_read_without_recursion() {
        let depth = 1 << 20;
        let body = format!(
            r#"{{"id":"e","type":"t",{DATE},"payload":{{"x":{}{}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let owner = read(body.as_bytes()).unwrap();
        assert!(owner.unreadable.is_some());
        let unclosed = format!(r#"{{"id":"e","type":"t",{DATE},"payload":{}"#, "[{\"a\":".repeat(depth));
        assert!(read(unclosed.as_bytes()).is_err());
    }

    #[test]
    fn what_is_not_an_event_says_why_without_a_value() {
        let good = format!(r#"{{"id":"e","type":"t",{DATE},"payload":{{"mode":"live"}}}}"#);
        assert!(read(good.as_bytes()).is_ok());
        for (from, to, why) in [
            (r#""id":"e""#, r#""id":7"#, "`id` is not a string"),
            (r#""id":"e","#, "", "missing field `id`"),
            (r#""type":"t""#, r#""type":null"#, "`type` is not a string"),
            (
                "2024-06-16T10:00:00Z",
                "zoe@example.com",
                "`createdDate` is not an RFC 3339 date",
            ),
            (r#","payload":{"mode":"live"}"#, "", "missing field `payload`"),
            (r#""live""#, r#""li\ve""#, "a string holds an invalid escape"),
            (r#""live""#, "\"li\nve\"", "a string holds a control character"),
            (r#""live""#, "01", "body is not valid JSON"),
            (r#""live""#, "1.", "body is not valid JSON"),
            (r#""live""#, "1e", "body is not valid JSON"),
            (r#""live""#, "tru", "body is not valid JSON"),
            (r#""live""#, "[1,]", "body is not valid JSON"),
            (r#""live""#, "{\"a\" 1}", "body is not valid JSON"),
            ("}}", "}", "body ends in the middle of the JSON"),
            ("}}", "}}}", "trailing characters after the event"),
            ("}}", "}},", "trailing characters after the event"),
        ] {
            let body = good.replacen(from, to, 1);
            let problem = read(body.as_bytes()).unwrap_err().to_string();
            assert!(problem.starts_with(why), "{body}: {problem}");
            assert!(!problem.contains("zoe"), "{problem}");
        }
        for body in [&b""[..], b"[]", b"null", b" ", b"\xff", b"{\"a\":\"\xc3\"}"] {
            assert!(read(body).is_err(), "{body:?}");
        }
    }
}
