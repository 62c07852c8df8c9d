//! The JSON syntax the reader checks below the three objects it looks
//! into: whitespace, tokens, any value skipped in a loop however deep (the
//! kinds of the open containers on a bit stack), strings scanned eight
//! bytes at a time and decoded when kept, escapes, numbers.

// Positions in the body plus a few bytes cannot overflow (a slice is at
// most `isize::MAX` long); every subtraction is of a smaller count; `stops`
// wraps on purpose.
#![allow(clippy::arithmetic_side_effects)]

use std::borrow::Cow;

use super::Scanner;
use crate::event::problem::ParseProblem;

/// The kinds of the containers open below the three the reader looks
/// into: a bit each (1 for an object), the first 64 without allocating.
#[derive(Debug, Default)]
pub(super) struct Open {
    /// How many are open.
    pub(super) len: usize,
    first: u64,
    more: Vec<u64>,
}

impl Open {
    pub(super) fn push(&mut self, object: bool) {
        let (word, bit) = (self.len / 64, self.len % 64);
        if word == 0 {
            self.first = (self.first & !(1 << bit)) | (u64::from(object) << bit);
        } else {
            if self.more.len() < word {
                self.more.push(0);
            }
            if let Some(slot) = self.more.get_mut(word - 1) {
                *slot = (*slot & !(1 << bit)) | (u64::from(object) << bit);
            }
        }
        self.len += 1;
    }

    /// Whether the innermost open container is an object.
    pub(super) fn top_is_object(&self) -> bool {
        let Some(index) = self.len.checked_sub(1) else {
            return false;
        };
        let (word, bit) = (index / 64, index % 64);
        let bits = if word == 0 {
            self.first
        } else {
            self.more.get(word - 1).copied().unwrap_or(0)
        };
        bits & (1 << bit) != 0
    }
}

impl<'a> Scanner<'a> {
    pub(super) fn problem(&self, what: &'static str) -> ParseProblem {
        ParseProblem::at(self.bytes, self.at, what)
    }

    pub(super) fn syntax(&self) -> ParseProblem {
        if self.at >= self.bytes.len() {
            self.problem("body ends in the middle of the JSON")
        } else {
            self.problem("body is not valid JSON")
        }
    }

    #[inline]
    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline]
    pub(super) fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// The next byte after any whitespace, consumed.
    #[inline]
    pub(super) fn next_token(&mut self) -> Result<u8, ParseProblem> {
        self.skip_whitespace();
        let byte = self.peek().ok_or_else(|| self.syntax())?;
        self.at += 1;
        Ok(byte)
    }

    #[inline]
    pub(super) fn expect(&mut self, byte: u8) -> Result<(), ParseProblem> {
        if self.next_token()? == byte {
            Ok(())
        } else {
            Err(self.syntax())
        }
    }

    /// Any value, containers included, in a container at nesting `depth`:
    /// a loop, not a recursion, however deep.
    pub(super) fn value(&mut self, depth: usize) -> Result<(), ParseProblem> {
        let base = self.open.len;
        loop {
            // A value starts here.
            self.skip_whitespace();
            match self.peek().ok_or_else(|| self.syntax())? {
                open @ (b'{' | b'[') => {
                    self.at += 1;
                    let object = open == b'{';
                    self.open.push(object);
                    self.check_depth(depth + self.open.len - base);
                    self.skip_whitespace();
                    let close = if object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.at += 1;
                        self.open.len -= 1;
                    } else {
                        if object {
                            self.key()?;
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.at += 1;
                    self.string(false)?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return Err(self.syntax()),
            }
            // After a value: close what ends here, up to the next value.
            loop {
                if self.open.len == base {
                    return Ok(());
                }
                let object = self.open.top_is_object();
                match (self.next_token()?, object) {
                    (b',', true) => {
                        self.key()?;
                        break;
                    }
                    (b',', false) => break,
                    (b'}', true) | (b']', false) => self.open.len -= 1,
                    _ => return Err(self.syntax()),
                }
            }
        }
    }

    /// A key of an object the reader does not look into, and its colon.
    pub(super) fn key(&mut self) -> Result<(), ParseProblem> {
        self.expect(b'"')?;
        self.string(false)?;
        self.expect(b':')
    }

    pub(super) fn literal(&mut self, word: &[u8]) -> Result<(), ParseProblem> {
        let end = self.at + word.len();
        if self.bytes.get(self.at..end) != Some(word) {
            return Err(self.syntax());
        }
        self.at = end;
        Ok(())
    }

    /// A number as JSON spells it. One that `serde_json` may find out of
    /// range (an exponent, or more digits than an `i64` has) is read by
    /// `serde_json` itself, to know whether `Value` holds it.
    pub(super) fn number(&mut self) -> Result<(), ParseProblem> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let digits = self.digits();
        let leading_zero = digits > 1 && self.bytes.get(self.at - digits) == Some(&b'0');
        if digits == 0 || leading_zero {
            return Err(self.syntax());
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.syntax());
            }
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.peek() {
            exponent = true;
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.syntax());
            }
        }
        if (exponent || digits > 18)
            && self.unreadable.is_none()
            && self
                .text
                .get(start..self.at)
                .is_none_or(|number| serde_json::from_str::<f64>(number).is_err())
        {
            self.unreadable = Some(ParseProblem::at(self.bytes, start, "a number beyond the range of f64"));
        }
        Ok(())
    }

    pub(super) fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    /// A string after its opening quote: its text, decoded, when `keep`
    /// (borrowed unless it has escapes; a lone surrogate becomes U+FFFD and
    /// makes the body [`unreadable`](Owner::unreadable) for `Value`).
    #[inline]
    pub(super) fn string(&mut self, keep: bool) -> Result<Option<Cow<'a, str>>, ParseProblem> {
        let start = self.at;
        let mut decoded: Option<String> = None;
        let mut run = start;
        loop {
            let stop = self.skip_to_stop();
            match self.peek() {
                Some(b'"') => {
                    let end = self.at;
                    self.at += 1;
                    if !keep {
                        return Ok(None);
                    }
                    let tail = self.text.get(run..end).unwrap_or_default();
                    return Ok(Some(match decoded {
                        Some(mut text) => {
                            text.push_str(tail);
                            Cow::Owned(text)
                        }
                        None => Cow::Borrowed(self.text.get(start..end).unwrap_or_default()),
                    }));
                }
                Some(b'\\') => {
                    if keep {
                        decoded
                            .get_or_insert_with(String::new)
                            .push_str(self.text.get(run..stop).unwrap_or_default());
                    }
                    self.at += 1;
                    let unescaped = self.escape()?;
                    if let Some(text) = decoded.as_mut() {
                        text.push(unescaped);
                    }
                    run = self.at;
                }
                Some(_) => return Err(self.problem("a string holds a control character")),
                None => return Err(self.syntax()),
            }
        }
    }

    /// Moves to the next `"`, `\` or control character, eight bytes at a
    /// time; the position it stopped at.
    #[inline]
    pub(super) fn skip_to_stop(&mut self) -> usize {
        // A local position: the loop stays in registers.
        let (bytes, mut at) = (self.bytes, self.at);
        while let Some(word) = bytes.get(at..at + 8).and_then(|word| <[u8; 8]>::try_from(word).ok()) {
            let stop = stops(u64::from_le_bytes(word));
            if stop != 0 {
                at += (stop.trailing_zeros() / 8) as usize;
                self.at = at;
                return at;
            }
            at += 8;
        }
        while let Some(&byte) = bytes.get(at) {
            if byte == b'"' || byte == b'\\' || byte < 0x20 {
                break;
            }
            at += 1;
        }
        self.at = at;
        at
    }

    /// An escape after its backslash, decoded.
    pub(super) fn escape(&mut self) -> Result<char, ParseProblem> {
        let backslash = self.at - 1;
        let byte = self.peek().ok_or_else(|| self.syntax())?;
        self.at += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        // A high surrogate: a pair only with a low one next.
                        let low = if self.bytes.get(self.at..self.at + 2) == Some(b"\\u") {
                            let back = self.at;
                            self.at += 2;
                            let low = self.hex4()?;
                            if (0xDC00..=0xDFFF).contains(&low) {
                                Some(low)
                            } else {
                                self.at = back;
                                None
                            }
                        } else {
                            None
                        };
                        match low {
                            Some(low) => {
                                let code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                                char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)
                            }
                            None => {
                                self.lone_surrogate(backslash);
                                char::REPLACEMENT_CHARACTER
                            }
                        }
                    }
                    0xDC00..=0xDFFF => {
                        self.lone_surrogate(backslash);
                        char::REPLACEMENT_CHARACTER
                    }
                    other => char::from_u32(u32::from(other)).unwrap_or(char::REPLACEMENT_CHARACTER),
                }
            }
            _ => return Err(self.problem("a string holds an invalid escape")),
        })
    }

    pub(super) fn hex4(&mut self) -> Result<u16, ParseProblem> {
        let digits = self.bytes.get(self.at..self.at + 4).ok_or_else(|| self.syntax())?;
        let mut unit: u16 = 0;
        for &digit in digits {
            let value = match digit {
                b'0'..=b'9' => digit - b'0',
                b'a'..=b'f' => digit - b'a' + 10,
                b'A'..=b'F' => digit - b'A' + 10,
                _ => return Err(self.problem("a string holds an invalid escape")),
            };
            unit = (unit << 4) | u16::from(value);
        }
        self.at += 4;
        Ok(unit)
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

    #[test]
    fn the_open_containers_are_kept_past_64_levels() {
        let mut open = Open::default();
        let kinds: Vec<bool> = (0..200).map(|level| level % 3 == 0).collect();
        for &object in &kinds {
            open.push(object);
        }
        for &object in kinds.iter().rev() {
            assert_eq!(open.top_is_object(), object);
            open.len -= 1;
        }
        assert!(!open.top_is_object());
    }
}
