//! The whole of `Verifier::verify_at`: id, timestamp and signature headers and
//! the body all come from the input, and an independent signer says what must
//! verify.
//!
//! Input layout (so that seeds stay readable): one flag byte, then
//! `id \n timestamp \n signature \n body` (the body is the rest and may hold
//! newlines; missing parts are empty). Flags:
//!
//! | bit | meaning |
//! |---|---|
//! | 0 | the timestamp part is a signed decimal offset from `now`; the header is `now + offset` |
//! | 1 | prepend a `0` to the timestamp header (same instant, other signed bytes) |
//! | 2 | send `webhook-id` twice (must be refused as repeated) |
//! | 3 | leave out `webhook-signature` in the fuzzed request (must be refused as missing) |
//! | 4 | in the signed request, put the correct entry after the fuzzed entries, not before |
//! | 5 | in the signed request, strip the `=` padding of the correct entry |
//! | 6 | send the header names in upper case |
//!
//! Two requests are verified:
//! 1. the fuzzed one, with the signature header from the input: it verifies
//!    only if that header holds the correct entry and every other check
//!    passes, and fails with the error of the first failing check otherwise;
//! 2. the same with the correct entry (computed without the crate) added to
//!    the fuzzed signature header: it verifies exactly when the id is
//!    non-empty UTF-8 and the timestamp header is ASCII digits within ±180 s
//!    of `now` (and no header is repeated).
//!
//! Where the crate's `testing::Signer` can express the request (UTF-8 id,
//! canonical timestamp), its signature must equal the independent one.
#![no_main]

mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use yoco_webhooks::testing::Signer;
use yoco_webhooks::{Verifier, VerifyError, headers::{WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP}};

const RELATIVE_TIMESTAMP: u8 = 1 << 0;
const LEADING_ZERO: u8 = 1 << 1;
const REPEAT_ID: u8 = 1 << 2;
const OMIT_SIGNATURE: u8 = 1 << 3;
const CORRECT_LAST: u8 = 1 << 4;
const UNPADDED: u8 = 1 << 5;
const UPPER_CASE_NAMES: u8 = 1 << 6;

fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let verifier = Verifier::new(common::secret());
        assert_eq!(verifier.tolerance().as_secs(), common::TOLERANCE_SECS as u64);
        verifier
    })
}

fn signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(|| Signer::new(common::secret()))
}

/// Which check fails first, in the order the Standard Webhooks scheme
/// prescribes; `None` when the headers are fine and only the signature
/// remains to be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    RepeatedId,
    MissingSignature,
    InvalidId,
    InvalidTimestamp,
    Stale,
    Future,
}

/// The timestamp header's instant, or why it is refused.
fn check_timestamp(header: &[u8]) -> Result<i64, Expected> {
    if header.is_empty() || !header.iter().all(u8::is_ascii_digit) {
        return Err(Expected::InvalidTimestamp);
    }
    let mut value: u64 = 0;
    for &digit in header {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit - b'0')))
            .ok_or(Expected::InvalidTimestamp)?;
    }
    let value = i128::from(value);
    let now = i128::from(common::NOW_UNIX);
    let tolerance = i128::from(common::TOLERANCE_SECS);
    if value < now - tolerance {
        return Err(Expected::Stale);
    }
    if value > now + tolerance {
        return Err(Expected::Future);
    }
    Ok(i64::try_from(value).expect("within 180 s of 2024"))
}

fn matches_expected(err: &VerifyError, expected: Expected) -> bool {
    match expected {
        Expected::RepeatedId => *err == VerifyError::RepeatedHeader { name: WEBHOOK_ID },
        Expected::MissingSignature => *err == VerifyError::MissingHeader { name: WEBHOOK_SIGNATURE },
        Expected::InvalidId => matches!(err, VerifyError::InvalidHeader { name, .. } if *name == WEBHOOK_ID),
        Expected::InvalidTimestamp => {
            matches!(err, VerifyError::InvalidHeader { name, .. } if *name == WEBHOOK_TIMESTAMP)
        }
        Expected::Stale => *err == VerifyError::StaleTimestamp,
        Expected::Future => *err == VerifyError::FutureTimestamp,
    }
}

fn headers<'a>(
    flags: u8,
    id: &'a [u8],
    timestamp: &'a [u8],
    signature: Option<&'a [u8]>,
) -> Vec<(&'static str, &'a [u8])> {
    let upper = flags & UPPER_CASE_NAMES != 0;
    let name = |lower: &'static str, upper_case: &'static str| if upper { upper_case } else { lower };
    let mut headers = vec![
        ("content-type", &b"application/json"[..]),
        (name(WEBHOOK_ID, "WEBHOOK-ID"), id),
        (name(WEBHOOK_TIMESTAMP, "WEBHOOK-TIMESTAMP"), timestamp),
    ];
    if let Some(signature) = signature {
        headers.push((name(WEBHOOK_SIGNATURE, "WEBHOOK-SIGNATURE"), signature));
    }
    if flags & REPEAT_ID != 0 {
        headers.push(("Webhook-Id", id));
    }
    headers
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(4, |&b| b == b'\n');
    let id = parts.next().unwrap_or_default();
    let timestamp_part = parts.next().unwrap_or_default();
    let signature = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();

    let mut timestamp: Vec<u8> = if flags & RELATIVE_TIMESTAMP != 0 {
        let offset = std::str::from_utf8(timestamp_part)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0);
        match common::NOW_UNIX.checked_add(offset) {
            Some(at) => at.to_string().into_bytes(),
            None => timestamp_part.to_vec(),
        }
    } else {
        timestamp_part.to_vec()
    };
    if flags & LEADING_ZERO != 0 {
        timestamp.insert(0, b'0');
    }

    let id_ok = std::str::from_utf8(id).ok().filter(|s| !s.is_empty());
    let headers_check: Result<i64, Expected> = if flags & REPEAT_ID != 0 {
        Err(Expected::RepeatedId)
    } else if id_ok.is_none() {
        Err(Expected::InvalidId)
    } else {
        check_timestamp(&timestamp)
    };

    let correct = common::v1_entry(id, &timestamp, body);

    // The crate's own signer, where it can express this request.
    if let (Some(id_str), Ok(canonical)) = (
        std::str::from_utf8(id).ok(),
        std::str::from_utf8(&timestamp).map(str::parse::<i64>),
    ) && let Ok(canonical) = canonical
        && canonical.to_string().as_bytes() == timestamp.as_slice()
        && let Ok(at) = OffsetDateTime::from_unix_timestamp(canonical)
    {
        let signed = signer().sign(id_str, at, body);
        assert_eq!(signed.webhook_timestamp.as_bytes(), timestamp.as_slice());
        assert_eq!(signed.webhook_signature, correct, "crate's Signer disagrees with HMAC-SHA256");
    }

    // 1. The fuzzed request.
    let omit = flags & OMIT_SIGNATURE != 0;
    let fuzzed = headers(flags, id, &timestamp, (!omit).then_some(signature));
    let expected = match headers_check {
        Err(Expected::RepeatedId) => Err(Expected::RepeatedId),
        _ if omit => Err(Expected::MissingSignature),
        other => other,
    };
    let result = verifier().verify_at(&fuzzed[..], body, common::now());
    match (&result, expected) {
        (Ok(verified), Ok(at)) => {
            assert!(
                common::holds_entry(signature, &correct),
                "verified without the correct signature: {:?}",
                String::from_utf8_lossy(signature)
            );
            assert_eq!(Some(verified.webhook_id()), id_ok);
            assert_eq!(verified.timestamp().unix_timestamp(), at);
            assert_eq!(verified.body(), body);
        }
        (Ok(_), Err(expected)) => panic!("verified, but expected {expected:?}"),
        (Err(err), Ok(_)) => {
            assert_eq!(*err, common::signature_error(signature), "valid headers, yet {err:?}");
            assert!(
                !common::holds_entry(signature, &correct),
                "refused the correct signature: {err:?}"
            );
        }
        (Err(err), Err(expected)) => {
            assert!(matches_expected(err, expected), "expected {expected:?}, got {err:?}");
        }
    }
    if let Err(err) = &result {
        assert_eq!(err.status(), 401);
        let _ = err.to_string();
    }

    // 2. The same request, correctly signed (among the fuzzed entries).
    let correct_entry = if flags & UNPADDED != 0 {
        correct.trim_end_matches('=')
    } else {
        correct.as_str()
    };
    let mut signed_header = Vec::with_capacity(signature.len() + correct_entry.len() + 1);
    if flags & CORRECT_LAST != 0 {
        signed_header.extend_from_slice(signature);
        signed_header.push(b' ');
        signed_header.extend_from_slice(correct_entry.as_bytes());
    } else {
        signed_header.extend_from_slice(correct_entry.as_bytes());
        signed_header.push(b' ');
        signed_header.extend_from_slice(signature);
    }
    let signed = headers(flags, id, &timestamp, Some(&signed_header));
    match (verifier().verify_at(&signed[..], body, common::now()), headers_check) {
        (Ok(verified), Ok(at)) => {
            assert_eq!(Some(verified.webhook_id()), id_ok);
            assert_eq!(verified.timestamp().unix_timestamp(), at);
            assert_eq!(verified.body(), body);
        }
        (Ok(_), Err(expected)) => panic!("signed request verified, but expected {expected:?}"),
        (Err(err), Ok(_)) => panic!("correctly signed request refused: {err:?}"),
        (Err(err), Err(expected)) => {
            assert!(matches_expected(&err, expected), "signed request: expected {expected:?}, got {err:?}");
        }
    }
});
