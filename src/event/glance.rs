//! The fast path: whose event a body is, read without building the event.
//!
//! One pass over the bytes checks the whole body's JSON syntax and notes,
//! on the way, the few values the filter needs: `id`, `type`, `createdDate`,
//! `payload.mode` and `payload.metadata.checkoutId`. It answers only when it
//! is certain that [`parse`](super::parse) would read the same (the same
//! type, owner and mode, an envelope that parses), and gives up (`None`)
//! whenever it is not: any backslash (an escape), a repeated key on the way
//! to those values, an exponent or a long number (which `serde_json` may
//! refuse as out of range), nesting deeper than 64, a `createdDate` that is
//! not a date, a value that is not a string where one is required, or
//! anything that is not plain JSON. A key inside a string is never taken
//! for a key: strings are scanned as strings.
//!
//! The caller then takes the full parse, which decides as before; the
//! property tests in `tests/it/fast_path.rs` and the fuzz target
//! `fast_path` hold the two to the same decisions, through
//! `testing::receive_by_full_parse`.

// The arithmetic here is on positions in the body and on the nesting
// depth: a position plus a few bytes cannot overflow (a slice is at most
// `isize::MAX` long), every subtraction is of a smaller count (`digits` counts
// bytes already passed, `depth` is decremented only after `enter`), and
// `stops` and `last_capital_i` work on constants that fit (`0x01…01 *
// 0x5c`, `0x7f…7f` added to a value whose bytes are at most `0x7f`) or
// wrap on purpose, and `last_capital_i` steps back only while 8 bytes are left.
#![allow(clippy::arithmetic_side_effects)]

use serde::de::{self, value::BorrowedStrDeserializer};

/// What the fast path read: borrowed from the body, each the value the full
/// parse would read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Glance<'a> {
    pub(crate) event_id: &'a str,
    pub(crate) event_type: &'a str,
    /// `payload.metadata.checkoutId` when a string (`None` when absent or
    /// not a string, as the full parse reads it).
    pub(crate) checkout_id: Option<&'a str>,
    /// `payload.mode` when a string.
    pub(crate) mode: Option<&'a str>,
}

/// The deepest nesting the fast path follows (`serde_json` allows 128).
const MAX_DEPTH: usize = 64;

/// Reads whose event a body is, from its text (JSON is UTF-8; the
/// caller checked it once for every step, which lets strings be scanned as
/// bytes here), or `None` when not certain.
pub(crate) fn glance(text: &str) -> Option<Glance<'_>> {
    let read = Scanner::new(text.as_bytes()).run()?;
    let value = |span: Span| text.get(span.0..span.1);
    let string = |field: Field| match field {
        Field::Text(span) => value(span).map(Some),
        Field::Absent | Field::Other => Some(None),
    };
    let (Field::Text(id), Field::Text(event_type), Field::Text(created_date), true) =
        (read.id, read.event_type, read.created_date, read.payload)
    else {
        // The envelope would not parse: the full parse says why.
        return None;
    };
    let created_date = value(created_date)?;
    // The function the full parse reads `createdDate` with (`time`'s
    // parser is as quick as a hand-written one for Yoco's shape: measured).
    time::serde::rfc3339::deserialize(BorrowedStrDeserializer::<de::value::Error>::new(created_date)).ok()?;
    Some(Glance {
        event_id: value(id)?,
        event_type: value(event_type)?,
        checkout_id: if read.payload_object && read.metadata_object {
            string(read.checkout_id)?
        } else {
            None
        },
        mode: if read.payload_object { string(read.mode)? } else { None },
    })
}

/// The last `"checkoutId":"..."` of the body, read without parsing: a
/// hint, not a fact (it may sit in another object, be repeated, escaped),
/// good only to skip the fast path for an event that is likely ours, whose
/// full parse then decides.
pub(crate) fn checkout_hint(body: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b"\"checkoutId\"";
    // From the end, where Yoco puts the metadata: each `I`, then the key.
    let mut end = body.len();
    let at = loop {
        let capital = last_capital_i(body.get(..end)?)?;
        let start = capital.checked_sub(9)?;
        if body.get(start..start + KEY.len()) == Some(KEY) {
            break start;
        }
        end = capital;
    };
    let rest = body.get(at + KEY.len()..)?;
    let rest = rest
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start()
        .strip_prefix(b"\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    // An escape: no hint.
    (rest.get(end) == Some(&b'"')).then(|| rest.get(..end)).flatten()
}

/// Where the last `I` of `bytes` is: eight bytes at a time from the end,
/// as the metadata may sit anywhere in the body.
fn last_capital_i(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let mut end = bytes.len();
    while end >= 8 {
        let word = u64::from_le_bytes(bytes.get(end - 8..end)?.try_into().ok()?);
        let x = word ^ (ONES * u64::from(b'I'));
        // The high bit of each byte of `x` that is zero, exactly (no borrow
        // crosses bytes, unlike the quicker test in `stops`).
        let zero = !(((x & LOWS) + LOWS) | x | LOWS);
        if zero != 0 {
            return Some(end - 8 + 7 - (zero.leading_zeros() / 8) as usize);
        }
        end -= 8;
    }
    bytes.get(..end)?.iter().rposition(|&b| b == b'I')
}

/// A string's bytes, without its quotes.
#[derive(Debug, Clone, Copy)]
struct Span(usize, usize);

/// One of the values the fast path notes.
#[derive(Debug, Clone, Copy)]
enum Field {
    Absent,
    Text(Span),
    /// Present, not a string.
    Other,
}

/// What the scan noted.
#[derive(Debug)]
struct Read {
    id: Field,
    event_type: Field,
    created_date: Field,
    /// `payload` is present.
    payload: bool,
    payload_object: bool,
    mode: Field,
    metadata_object: bool,
    checkout_id: Field,
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

impl Slot {
    /// Each noted slot once: a repeated key makes the scan give up.
    fn bit(self) -> u8 {
        match self {
            Slot::Ignored => 0,
            Slot::Id => 1,
            Slot::Type => 2,
            Slot::CreatedDate => 4,
            Slot::Payload => 8,
            Slot::Mode => 16,
            Slot::Metadata => 32,
            Slot::CheckoutId => 64,
        }
    }
}

/// The object the scan is in: one of the three whose keys matter, or
/// another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Top,
    Payload,
    Metadata,
    Other,
}

/// A recursive descent over the body, as strict as `serde_json` or more.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
    depth: usize,
    seen: u8,
    read: Read,
}

impl<'a> Scanner<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            at: 0,
            depth: 0,
            seen: 0,
            read: Read {
                id: Field::Absent,
                event_type: Field::Absent,
                created_date: Field::Absent,
                payload: false,
                payload_object: false,
                mode: Field::Absent,
                metadata_object: false,
                checkout_id: Field::Absent,
            },
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// The next byte after any whitespace, consumed.
    fn next_token(&mut self) -> Option<u8> {
        self.skip_whitespace();
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// The whole body, or `None` at the first thing it is not sure of.
    fn run(mut self) -> Option<Read> {
        if self.next_token()? != b'{' {
            return None;
        }
        self.object(Container::Top)?;
        self.skip_whitespace();
        (self.at == self.bytes.len()).then_some(self.read)
    }

    /// One level deeper, within the limit.
    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// An object's members, after its `{`.
    fn object(&mut self, container: Container) -> Option<()> {
        self.enter()?;
        let mut byte = self.next_token()?;
        if byte != b'}' {
            loop {
                if byte != b'"' {
                    return None;
                }
                let key = self.string()?;
                if self.next_token()? != b':' {
                    return None;
                }
                let slot = match container {
                    Container::Other => Slot::Ignored,
                    _ => self.slot(container, key)?,
                };
                self.skip_whitespace();
                self.value(slot)?;
                match self.next_token()? {
                    b',' => byte = self.next_token()?,
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// An array's elements, after its `[`.
    fn array(&mut self) -> Option<()> {
        self.enter()?;
        self.skip_whitespace();
        if self.peek()? == b']' {
            self.at += 1;
        } else {
            loop {
                self.skip_whitespace();
                self.value(Slot::Ignored)?;
                match self.next_token()? {
                    b',' => {}
                    b']' => break,
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Where the value of the key at `span` in `container` goes.
    fn slot(&mut self, container: Container, Span(start, end): Span) -> Option<Slot> {
        let key = self.bytes.get(start..end)?;
        let slot = match (container, key) {
            (Container::Top, b"id") => Slot::Id,
            (Container::Top, b"type") => Slot::Type,
            (Container::Top, b"createdDate") => Slot::CreatedDate,
            (Container::Top, b"payload") => Slot::Payload,
            (Container::Payload, b"mode") => Slot::Mode,
            (Container::Payload, b"metadata") => Slot::Metadata,
            (Container::Metadata, b"checkoutId") => Slot::CheckoutId,
            _ => return Some(Slot::Ignored),
        };
        if self.seen & slot.bit() != 0 {
            return None; // A repeated key: the full parse takes its last value.
        }
        self.seen |= slot.bit();
        Some(slot)
    }

    /// A value for `slot`, containers included.
    fn value(&mut self, slot: Slot) -> Option<()> {
        let byte = self.peek()?;
        let field = match byte {
            b'"' => {
                self.at += 1;
                Field::Text(self.string()?)
            }
            b'{' => {
                self.at += 1;
                let container = match slot {
                    Slot::Payload => {
                        self.read.payload_object = true;
                        Container::Payload
                    }
                    Slot::Metadata => {
                        self.read.metadata_object = true;
                        Container::Metadata
                    }
                    _ => Container::Other,
                };
                self.note(slot, Field::Other);
                return self.object(container);
            }
            b'[' => {
                self.at += 1;
                self.note(slot, Field::Other);
                return self.array();
            }
            b't' => self.literal(b"true")?,
            b'f' => self.literal(b"false")?,
            b'n' => self.literal(b"null")?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return None,
        };
        self.note(slot, field);
        Some(())
    }

    fn note(&mut self, slot: Slot, field: Field) {
        let read = &mut self.read;
        match slot {
            Slot::Ignored | Slot::Metadata => {}
            Slot::Id => read.id = field,
            Slot::Type => read.event_type = field,
            Slot::CreatedDate => read.created_date = field,
            Slot::Payload => read.payload = true,
            Slot::Mode => read.mode = field,
            Slot::CheckoutId => read.checkout_id = field,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<Field> {
        let end = self.at.checked_add(word.len())?;
        if self.bytes.get(self.at..end)? != word {
            return None;
        }
        self.at = end;
        Some(Field::Other)
    }

    /// A number as JSON spells it, with at most 18 integer digits and no
    /// exponent: every such number parses, where `1e999` or 400 digits
    /// would be out of `f64`'s range.
    fn number(&mut self) -> Option<Field> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let digits = self.digits();
        match digits {
            1 => {}
            2..=18 if self.bytes.get(self.at - digits) != Some(&b'0') => {}
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        match self.peek() {
            Some(b'e' | b'E') => None,
            _ => Some(Field::Other),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    /// A string after its opening quote; its bytes between the quotes.
    /// Gives up on a backslash (an escape) and on a control character (which
    /// JSON forbids unescaped).
    fn string(&mut self) -> Option<Span> {
        let start = self.at;
        let mut at = start;
        // Eight bytes at a time: a byte that is `"`, `\` or below 0x20
        // stops it; the last few bytes of the body one at a time.
        loop {
            if let Some(word) = self.bytes.get(at..at + 8) {
                let stop = stops(u64::from_le_bytes(word.try_into().ok()?));
                if stop == 0 {
                    at += 8;
                    continue;
                }
                at += (stop.trailing_zeros() / 8) as usize;
                break;
            }
            let byte = *self.bytes.get(at)?;
            if byte == b'"' || byte == b'\\' || byte < 0x20 {
                break;
            }
            at += 1;
        }
        if self.bytes.get(at) != Some(&b'"') {
            return None;
        }
        self.at = at + 1;
        Some(Span(start, at))
    }
}

/// The high bit of each byte of `word` that is `"`, `\` or below 0x20 (the
/// lowest such byte exactly; above it there may be false alarms, which do
/// not matter as only the lowest is used).
fn stops(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    zero_byte(word ^ (ONES * u64::from(b'"'))) | zero_byte(word ^ (ONES * u64::from(b'\\'))) | below_space
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path of a body, not certain when it is not UTF-8.
    fn glance(body: &[u8]) -> Option<Glance<'_>> {
        super::glance(std::str::from_utf8(body).ok()?)
    }

    const SAMPLE: &str = include_str!("documented_sample.json");

    #[test]
    fn reads_the_documented_sample() {
        let glance = glance(SAMPLE.as_bytes()).unwrap();
        assert_eq!(
            glance,
            Glance {
                event_id: "evt_1EAwK8Mjy2DT38WIWntiZWxm",
                event_type: "payment.succeeded",
                checkout_id: Some("ch_9LVKD8GnAj7f39DFbn4F16bE"),
                mode: Some("live"),
            }
        );
    }

    #[test]
    fn reads_owners_in_any_order_and_shape() {
        let date = r#""createdDate":"2024-06-16T10:00:00Z""#;
        for (body, checkout_id, mode) in [
            (
                format!(
                    r#"{{"payload":{{"metadata":{{"x":[1,{{"checkoutId":"no"}}],"checkoutId":"ch_1"}},"mode":"test"}},"type":"t",{date},"id":"e"}}"#
                ),
                Some("ch_1"),
                Some("test"),
            ),
            (
                format!(r#"{{"id":"e","type":"t",{date},"payload":{{"metadata":null,"mode":7}}}}"#),
                None,
                None,
            ),
            (
                format!(r#"{{"id":"e","type":"t",{date},"payload":[{{"mode":"live"}}]}}"#),
                None,
                None,
            ),
            (
                format!(r#"{{"id":"e","type":"t",{date},"payload":{{"metadata":{{"checkoutId":42}}}}}}"#),
                None,
                None,
            ),
            (
                format!(
                    " {{ \"id\" : \"e\" ,\n\"type\":\"t\",{date},\"payload\":{{\"metadata\":{{\"checkoutId\":\"ch_2\"}},\"mode\":\"live\",\"n\":-0.5}} }}\r\n"
                ),
                Some("ch_2"),
                Some("live"),
            ),
            (
                format!(r#"{{"id":"e","type":"t",{date},"payload":{{"note":"\"checkoutId\":","metadata":{{}}}}}}"#)
                    .replace(r#"\""#, "'"),
                None,
                None,
            ),
        ] {
            let glance = glance(body.as_bytes()).unwrap_or_else(|| panic!("{body}"));
            assert_eq!((glance.checkout_id, glance.mode), (checkout_id, mode), "{body}");
        }
    }

    #[test]
    fn gives_up_when_unsure() {
        let date = r#""createdDate":"2024-06-16T10:00:00Z""#;
        let good =
            format!(r#"{{"id":"e","type":"t",{date},"payload":{{"mode":"live","metadata":{{"checkoutId":"ch_1"}}}}}}"#);
        assert!(glance(good.as_bytes()).is_some());
        for (from, to) in [
            ("ch_1", r"ch\u0031"),
            (r#""live""#, r#""li\"ve""#),
            (r#""mode""#, r#""mode":"test","mode""#),
            (r#""checkoutId""#, r#""checkoutId":"ch_2","checkoutId""#),
            (r#""metadata""#, r#""metadata":{},"metadata""#),
            (r#""id""#, r#""id":"f","id""#),
            (r#""live""#, "1e3"),
            (r#""live""#, "12345678901234567890"),
            (r#""live""#, "01"),
            (r#""live""#, "1."),
            (r#""live""#, "-"),
            (r#""live""#, "tru"),
            (r#""live""#, "\"li\nve\""),
            ("2024-06-16T10:00:00Z", "yesterday"),
            (r#""e""#, "7"),
            (r#""t""#, "null"),
            ("}}}", "}}"),
            ("}}}", "}}}}"),
            ("}}}", "}}]"),
            ("}}}", "}}},"),
            (r#","payload""#, r#","payloa""#),
        ] {
            let body = good.replacen(from, to, 1);
            assert_ne!(body, good);
            assert_eq!(glance(body.as_bytes()), None, "{body}");
        }
        let deep = format!(
            r#"{{"id":"e","type":"t",{date},"payload":{}{}}}"#,
            "[".repeat(70),
            "]".repeat(70)
        );
        assert_eq!(glance(deep.as_bytes()), None);
        assert_eq!(glance(b"\xff"), None);
        assert_eq!(glance(b""), None);
        assert_eq!(glance(b"[]"), None);
    }

    #[test]
    fn the_hint_is_the_last_checkout_id_key_with_a_plain_string() {
        assert_eq!(
            checkout_hint(SAMPLE.as_bytes()),
            Some(&b"ch_9LVKD8GnAj7f39DFbn4F16bE"[..])
        );
        for (body, hint) in [
            (
                &br#"{"checkoutId":"a","x":{"checkoutId" : "b"},"I":"I"}"#[..],
                Some(&b"b"[..]),
            ),
            (br#"{"checkoutId":7}"#, None),
            (br#"{"checkoutId":"a\"b"}"#, None),
            (br#"{"checkoutId":"a"#, None),
            (br#"I"checkoutId":"a""#, Some(b"a")),
            (b"", None),
        ] {
            assert_eq!(checkout_hint(body), hint, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn the_last_capital_i_is_found_at_every_place() {
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = vec![b'i'; len];
                bytes[at] = b'I';
                if at > 0 {
                    bytes[at - 1] = b'I' ^ 0x80;
                }
                assert_eq!(last_capital_i(&bytes), Some(at), "{len} {at}");
                if at > 2 {
                    bytes[at / 2] = b'I';
                    assert_eq!(last_capital_i(&bytes), Some(at), "{len} {at} with another before");
                }
            }
            assert_eq!(last_capital_i(&vec![b'H'; len]), None);
            assert_eq!(last_capital_i(&vec![b'I' + 1; len]), None);
        }
    }

    #[test]
    fn the_word_scan_stops_at_the_first_stop_byte() {
        for (text, first) in [
            (&b"abcdefgh"[..], None),
            (b"abc\"efgh", Some(3)),
            (b"\\bcdefgh", Some(0)),
            (b"abcdefg\x1f", Some(7)),
            (b"a\x7f\xc3\xa9\"\\\x00h", Some(4)),
        ] {
            let word = u64::from_le_bytes(text.try_into().unwrap());
            let stop = stops(word);
            assert_eq!((stop != 0).then(|| stop.trailing_zeros() / 8), first, "{text:?}");
        }
    }
}
