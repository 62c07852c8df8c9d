//! The common changes to a body on its way in, undone: what the body was
//! before a newline, CRLF line ends, a byte-order mark or a JSON
//! re-serialisation changed it.

use std::borrow::Cow;

use serde::de::IgnoredAny;

use super::BodyChange;

/// The most a re-indented body may grow to: pretty-printing deeply nested
/// JSON multiplies its size, and a hostile body must not make it large.
const MAX_PRETTY: usize = 4 << 20;

/// Every change tried, in the order tried.
pub(super) const CHANGES: [BodyChange; 6] = [
    BodyChange::TrailingNewlineAdded,
    BodyChange::TrailingNewlineRemoved,
    BodyChange::CrlfLineEnds,
    BodyChange::ByteOrderMark,
    BodyChange::PrettyJson,
    BodyChange::CompactJson,
];

/// The body as it was before `change`, if `change` could have made `body`
/// (and undoing it gives other bytes).
pub(super) fn undo(change: BodyChange, body: &[u8]) -> Option<Cow<'_, [u8]>> {
    let undone: Cow<'_, [u8]> = match change {
        BodyChange::TrailingNewlineAdded => {
            Cow::Borrowed(body.strip_suffix(b"\r\n").or_else(|| body.strip_suffix(b"\n"))?)
        }
        BodyChange::TrailingNewlineRemoved => {
            if body.ends_with(b"\n") {
                return None;
            }
            let mut with = body.to_vec();
            with.push(b'\n');
            Cow::Owned(with)
        }
        BodyChange::CrlfLineEnds => {
            if !body.windows(2).any(|pair| pair == b"\r\n") {
                return None;
            }
            let mut lf = Vec::with_capacity(body.len());
            let mut rest = body;
            while let Some((&byte, tail)) = rest.split_first() {
                if !(byte == b'\r' && tail.first() == Some(&b'\n')) {
                    lf.push(byte);
                }
                rest = tail;
            }
            Cow::Owned(lf)
        }
        BodyChange::ByteOrderMark => Cow::Borrowed(body.strip_prefix(b"\xEF\xBB\xBF")?),
        BodyChange::PrettyJson => Cow::Owned(compact(json(body)?)),
        BodyChange::CompactJson => Cow::Owned(pretty(&compact(json(body)?))?),
    };
    (*undone != *body).then_some(undone)
}

/// `body` if it is JSON.
fn json(body: &[u8]) -> Option<&[u8]> {
    serde_json::from_slice::<IgnoredAny>(body).ok().map(|_| body)
}

/// JSON without whitespace outside its strings: what a compact
/// serialiser writes, keys and numbers as they were.
fn compact(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let mut strings = Strings::default();
    for &byte in json {
        if strings.inside(byte) || !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(byte);
        }
    }
    out
}

/// Compact JSON indented as `serde_json`'s pretty printer, JavaScript's
/// `JSON.stringify(value, null, 2)` and Python's `json.dumps(value,
/// indent=2)` write it; `None` past [`MAX_PRETTY`].
fn pretty(compact: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(compact.len().saturating_mul(2));
    let mut strings = Strings::default();
    let mut depth: usize = 0;
    let mut bytes = compact.iter().copied().peekable();
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', depth.saturating_mul(2)));
    };
    while let Some(byte) = bytes.next() {
        if strings.inside(byte) {
            out.push(byte);
            continue;
        }
        match byte {
            b'{' | b'[' => {
                out.push(byte);
                if matches!(bytes.peek(), Some(b'}' | b']')) {
                    out.extend(bytes.next());
                } else {
                    depth = depth.saturating_add(1);
                    newline(&mut out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(byte);
            }
            b',' => {
                out.push(byte);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            _ => out.push(byte),
        }
        if out.len() > MAX_PRETTY {
            return None;
        }
    }
    Some(out)
}

/// Where a scan of JSON is: inside a string or not, and after a
/// backslash.
#[derive(Default)]
struct Strings {
    inside: bool,
    escaped: bool,
}

impl Strings {
    /// Whether `byte` is part of a string, quotes included.
    fn inside(&mut self, byte: u8) -> bool {
        if self.inside {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.inside = false;
            }
            true
        } else if byte == b'"' {
            self.inside = true;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPACT: &str =
        r#"{"id":"evt_1","note":"a, b: {c} \"d\" \\","payload":{"amount":900,"list":[1,2],"empty":{},"none":[]}}"#;

    #[test]
    fn pretty_matches_serde_json_and_compact_undoes_it() {
        let value: serde_json::Value = serde_json::from_str(COMPACT).unwrap();
        let by_serde = serde_json::to_vec_pretty(&value).unwrap();
        // serde_json (without `preserve_order`) sorts keys: compare on a body
        // whose keys are sorted already.
        let sorted = serde_json::to_vec(&value).unwrap();
        assert_eq!(pretty(&sorted).unwrap(), by_serde);
        assert_eq!(compact(&by_serde), sorted);
        assert_eq!(
            compact(COMPACT.as_bytes()),
            COMPACT.as_bytes(),
            "strings keep their spaces"
        );
    }

    #[test]
    fn each_change_is_undone_and_only_where_it_could_have_been_made() {
        let body = COMPACT.as_bytes();
        let undo_of = |change, changed: &[u8]| undo(change, changed).map(Cow::into_owned);
        let with_newline = [body, b"\n"].concat();
        assert_eq!(undo_of(BodyChange::TrailingNewlineAdded, &with_newline).unwrap(), body);
        assert_eq!(undo_of(BodyChange::TrailingNewlineRemoved, body).unwrap(), with_newline);
        let bom = [b"\xEF\xBB\xBF", body].concat();
        assert_eq!(undo_of(BodyChange::ByteOrderMark, &bom).unwrap(), body);
        let pretty_lf = pretty(body).unwrap();
        let pretty_crlf = String::from_utf8(pretty_lf.clone()).unwrap().replace('\n', "\r\n");
        assert_eq!(
            undo_of(BodyChange::CrlfLineEnds, pretty_crlf.as_bytes()).unwrap(),
            pretty_lf
        );
        assert_eq!(undo_of(BodyChange::PrettyJson, &pretty_lf).unwrap(), body);
        assert_eq!(undo_of(BodyChange::CompactJson, body).unwrap(), pretty_lf);
        for change in [
            BodyChange::TrailingNewlineAdded,
            BodyChange::CrlfLineEnds,
            BodyChange::ByteOrderMark,
            BodyChange::PrettyJson,
        ] {
            assert_eq!(undo_of(change, body), None, "{change:?}");
        }
        assert_eq!(undo_of(BodyChange::TrailingNewlineRemoved, &with_newline), None);
        assert_eq!(undo_of(BodyChange::CompactJson, &pretty_lf), None);
        assert_eq!(undo_of(BodyChange::PrettyJson, b"{not json"), None);
    }

    #[test]
    fn a_deeply_nested_body_is_not_pretty_printed_past_the_bound() {
        // 100 levels and 500 000 elements: pretty, each would take a line
        // of 200 spaces.
        let body = format!("{}{}0{}", "[".repeat(100), "0,".repeat(500_000), "]".repeat(100));
        assert!(json(body.as_bytes()).is_some());
        assert_eq!(undo(BodyChange::CompactJson, body.as_bytes()), None);
    }
}
