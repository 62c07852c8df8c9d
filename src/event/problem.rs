//! What is wrong with a body, said without quoting it.
//!
//! `serde_json`'s messages quote the values they refuse (`invalid type:
//! string "zoe@example.com", expected i64`), verbatim and unbounded. A
//! body holds customers' names, e-mail addresses and card details, and
//! errors end up in logs: a [`ParseProblem`] keeps the kind of problem, the
//! field when the message names one of ours, and the position, and drops
//! every value.

use std::borrow::Cow;
use std::fmt;

/// What is wrong with a webhook body, and where (line and column, from 1),
/// without any value from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseProblem {
    what: Cow<'static, str>,
    position: Option<(usize, usize)>,
}

/// The kinds of value `serde`'s messages name before quoting one.
const KINDS: &[&str] = &[
    "boolean",
    "integer",
    "floating point",
    "character",
    "string",
    "byte array",
    "unit value",
    "Option value",
    "newtype struct",
    "sequence",
    "map",
    "enum",
    "unit variant",
    "newtype variant",
    "tuple variant",
    "struct variant",
    "null",
];

/// The longest text a problem keeps of what a type of ours expected.
const MAX_EXPECTED: usize = 80;

impl ParseProblem {
    pub(crate) fn new(what: &'static str) -> Self {
        Self {
            what: Cow::Borrowed(what),
            position: None,
        }
    }

    /// `what`, at byte `offset` of `body`.
    pub(crate) fn at(body: &[u8], offset: usize, what: &'static str) -> Self {
        let before = body.get(..offset).unwrap_or(body);
        let line = before.iter().filter(|&&byte| byte == b'\n').count().saturating_add(1);
        let column = before
            .iter()
            .rposition(|&byte| byte == b'\n')
            .map_or(before.len(), |newline| {
                before.len().saturating_sub(newline).saturating_sub(1)
            })
            .saturating_add(1);
        Self {
            what: Cow::Borrowed(what),
            position: Some((line, column)),
        }
    }

    /// A `serde_json` error met reading the text that starts at `offset`
    /// of `body`, without the value it quotes.
    pub(crate) fn from_serde(error: &serde_json::Error, body: &[u8], offset: usize) -> Self {
        let position = (error.line() > 0).then(|| {
            let start = Self::at(body, offset, "").position.unwrap_or((1, 1));
            let line = start.0.saturating_add(error.line()).saturating_sub(1);
            let column = if error.line() == 1 {
                start.1.saturating_add(error.column()).saturating_sub(1)
            } else {
                error.column()
            };
            (line, column)
        });
        Self {
            what: describe(error),
            position,
        }
    }

    /// Where it is: line and column (from 1), when known.
    pub fn position(&self) -> Option<(usize, usize)> {
        self.position
    }
}

impl fmt::Display for ParseProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)?;
        if let Some((line, column)) = self.position {
            write!(f, " at line {line} column {column}")?;
        }
        Ok(())
    }
}

/// `error`'s message with every quoted value left out.
fn describe(error: &serde_json::Error) -> Cow<'static, str> {
    use serde_json::error::Category;
    let message = error.to_string();
    // `serde_json` appends the position, which `ParseProblem` keeps apart.
    let message = match message.rfind(" at line ") {
        Some(end) if error.line() > 0 => message.get(..end).unwrap_or_default(),
        _ => &message,
    };
    match error.classify() {
        // `serde_json`'s own syntax messages never quote the input.
        Category::Syntax | Category::Eof | Category::Io => Cow::Owned(printable(message, 120)),
        Category::Data => Cow::Owned(describe_data(message)),
    }
}

/// A data error of `serde` (a value of the wrong type or form, a missing
/// or repeated field of ours), with the value left out.
fn describe_data(message: &str) -> String {
    for (prefix, adjective) in [("invalid type: ", ""), ("invalid value: ", "an invalid ")] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let kind = KINDS
                .iter()
                .filter(|kind| rest.starts_with(*kind))
                .max_by_key(|kind| kind.len())
                .copied()
                .unwrap_or("value");
            // What a type of ours expected: the last `, expected `, as the
            // quoted value comes before it.
            let expected = rest
                .rfind(", expected ")
                .and_then(|at| rest.get(at.saturating_add(", expected ".len())..))
                .map_or_else(
                    || "another value".to_owned(),
                    |expected| printable(expected, MAX_EXPECTED),
                );
            let article = if adjective.is_empty() { article(kind) } else { adjective };
            return format!("{article}{kind} where {expected} was expected");
        }
    }
    for field in ["missing field `", "duplicate field `"] {
        if let Some(rest) = message.strip_prefix(field) {
            // Our own field names: short identifiers.
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name.len() <= 32 {
                return format!("{field}{name}`");
            }
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        let count: String = rest.chars().take_while(char::is_ascii_digit).collect();
        return format!("a sequence of {count} elements where another length was expected");
    }
    for unknown in ["unknown field", "unknown variant"] {
        if message.starts_with(unknown) {
            return unknown.to_owned();
        }
    }
    "a value of the wrong form".to_owned()
}

fn article(kind: &str) -> &'static str {
    match kind.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o' | b'u' | b'O') => "an ",
        _ => "a ",
    }
}

/// At most `max` characters of `text`, control characters left out.
fn printable(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem<T: serde::de::DeserializeOwned>(json: &str) -> String {
        let error = serde_json::from_str::<T>(json).err().unwrap();
        ParseProblem::from_serde(&error, json.as_bytes(), 0).to_string()
    }

    #[test]
    fn values_are_left_out_and_the_kind_and_position_kept() {
        let shown = problem::<i64>(r#""zoe@example.com""#);
        assert_eq!(shown, "a string where i64 was expected at line 1 column 17");
        let shown = problem::<i64>("4111111111111111.5");
        assert_eq!(shown, "a floating point where i64 was expected at line 1 column 18");
        let shown = problem::<u8>("4111111111111111");
        assert_eq!(shown, "an invalid integer where u8 was expected at line 1 column 16");
        // A quoted value that spells the separator itself.
        let shown = problem::<i64>(r#""whsec_x, expected y""#);
        assert!(!shown.contains("whsec"), "{shown}");
        assert!(shown.starts_with("a string where i64 was expected"), "{shown}");
    }

    #[test]
    fn syntax_messages_and_field_names_stay() {
        assert_eq!(
            problem::<Vec<i64>>("[1,"),
            "EOF while parsing a value at line 1 column 3"
        );
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Two {
            amount: i64,
        }
        assert_eq!(problem::<Two>("{}"), "missing field `amount` at line 1 column 2");
        assert_eq!(
            problem::<Two>(r#"{"amount":1,"amount":2}"#),
            "duplicate field `amount` at line 1 column 20"
        );
    }

    #[test]
    fn positions_count_from_the_start_of_the_body() {
        use std::collections::HashMap;
        let body = b"{\n  \"payload\": {\"amount\": \"x\"}}";
        let offset = 15;
        let error = serde_json::from_slice::<HashMap<String, i64>>(&body[offset..]).unwrap_err();
        let problem = ParseProblem::from_serde(&error, body, offset);
        // Where `serde_json` itself places it, reading the whole body.
        let whole = serde_json::from_slice::<HashMap<String, HashMap<String, i64>>>(body).unwrap_err();
        assert_eq!(problem.position(), Some((whole.line(), whole.column())));
        assert_eq!(ParseProblem::at(b"ab\ncd", 4, "x").position(), Some((2, 2)));
        assert_eq!(ParseProblem::at(b"ab", 0, "x").position(), Some((1, 1)));
    }
}
