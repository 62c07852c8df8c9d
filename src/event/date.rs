//! Yoco's dates: the shape Yoco sends, `2024-06-15T15:51:55.260284Z`, read
//! straight from the text; any other RFC 3339 date by `time`'s parser.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, Time};

/// Reads an RFC 3339 date as `time::serde::rfc3339` does (the same dates,
/// the same errors), the usual shape without its general parser.
pub(crate) fn parse(text: &str) -> Result<OffsetDateTime, time::error::Parse> {
    match plain_utc(text.as_bytes()) {
        Some(date) => Ok(date),
        None => OffsetDateTime::parse(text, &Rfc3339),
    }
}

/// For `#[serde(with = "...")]` and the envelope.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
    struct DateVisitor;
    impl Visitor<'_> for DateVisitor {
        type Value = OffsetDateTime;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            // As `time::serde::rfc3339` says it.
            f.write_str("an RFC3339-formatted `OffsetDateTime`")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<OffsetDateTime, E> {
            parse(text).map_err(E::custom)
        }
    }
    deserializer.deserialize_str(DateVisitor)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with a fraction of 1 to 9 digits, a
/// real date and a time of day (no leap second): a subset of what `time`
/// reads as RFC 3339, read to the same instant (the unit test compares
/// the two over every day of several years). `None` for anything else.
fn plain_utc(text: &[u8]) -> Option<OffsetDateTime> {
    let (head, tail) = text.split_first_chunk::<19>()?;
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1, b'T', h0, h1, b':', n0, n1, b':', s0, s1] = *head else {
        return None;
    };
    let digit = |byte: u8| byte.is_ascii_digit().then(|| byte - b'0');
    let two = |tens: u8, ones: u8| Some(digit(tens)? * 10 + digit(ones)?);
    let nanos = match tail {
        [b'Z'] => 0,
        [b'.', digits @ .., b'Z'] if (1..=9).contains(&digits.len()) => {
            let mut nanos = 0_u32;
            for &byte in digits {
                nanos = nanos * 10 + u32::from(digit(byte)?);
            }
            // Right-padded to nine digits.
            (digits.len()..9).fold(nanos, |n, _| n * 10)
        }
        _ => return None,
    };
    let year = i32::from(two(y0, y1)?) * 100 + i32::from(two(y2, y3)?);
    let month = Month::try_from(two(m0, m1)?).ok()?;
    let date = Date::from_calendar_date(year, month, two(d0, d1)?).ok()?;
    let time = Time::from_hms_nano(two(h0, h1)?, two(n0, n1)?, two(s0, s1)?, nanos).ok()?;
    Some(date.with_time(time).assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_date_reads_as_time_reads_it() {
        let by_time = |text: &str| OffsetDateTime::parse(text, &Rfc3339).ok();
        let mut plain = 0;
        for year in [0, 1900, 1999, 2000, 2023, 2024, 2100, 9999] {
            for month in 0..=13 {
                for day in 0..=32 {
                    for time in ["00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "07:08:09"] {
                        for fraction in ["", ".5", ".050", ".123456", ".123456789", ".1234567890", "."] {
                            let text = format!("{year:04}-{month:02}-{day:02}T{time}{fraction}Z");
                            if let Some(date) = plain_utc(text.as_bytes()) {
                                plain += 1;
                                assert_eq!(Some(date), by_time(&text), "{text}");
                            }
                            assert_eq!(parse(&text).ok(), by_time(&text), "{text}");
                        }
                    }
                }
            }
        }
        assert_eq!(
            plain,
            (365 * 5 + 366 * 3) * 3 * 5,
            "every real day, three times, five fractions"
        );
        for text in [
            "2024-06-16T10:00:00+02:00",
            "2024-06-16t10:00:00Z",
            "2024-06-16T10:00:00z",
            "2024-06-16 10:00:00Z",
            "2024-6-16T10:00:00Z",
            "+2024-06-16T10:00:00Z",
            "2024-06-16T10:00:00",
            "2024-06-16T10:00Z",
            "2024-06-16T10:00:0-Z",
            "",
            "Z",
        ] {
            assert_eq!(plain_utc(text.as_bytes()), None, "{text}");
            assert_eq!(parse(text).ok(), by_time(text), "{text}");
        }
    }

    #[test]
    fn errors_read_as_times() {
        let theirs: Result<OffsetDateTime, _> = time::serde::rfc3339::deserialize(serde_json::Value::from("yesterday"));
        let ours: Result<OffsetDateTime, _> = deserialize(serde_json::Value::from("yesterday"));
        assert_eq!(ours.unwrap_err().to_string(), theirs.unwrap_err().to_string());
        let ours: Result<OffsetDateTime, _> = deserialize(serde_json::Value::from(7));
        let theirs: Result<OffsetDateTime, _> = time::serde::rfc3339::deserialize(serde_json::Value::from(7));
        assert_eq!(ours.unwrap_err().to_string(), theirs.unwrap_err().to_string());
    }
}
