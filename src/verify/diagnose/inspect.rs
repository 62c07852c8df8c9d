//! The inspection behind [`Diagnosis`]: the headers, then the signature
//! under each secret as received, then the mistakes that explain a
//! mismatch (a misspelled signature, the secret's text as the key, a body
//! changed on its way in), then the timestamp; each a fixed, small amount
//! of work.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::body::{CHANGES, undo};
use super::{Diagnosis, SignatureSpelling, TextKey};
use crate::headers::{Found, Headers, Lookup, Which, webhook_header};
use crate::secret::TextKeys;
use crate::signature::{self, ENCODED_LEN, EncodedSignature, SIGNATURE_LEN};
use crate::verify::{MAX_UNIX_SECONDS, Verifier};

/// The entries of `webhook-signature` read: a sender signs with one or
/// two secrets at a time; the rest of a longer header is not looked at.
pub(super) const MAX_ENTRIES: usize = 16;

/// The most HMACs computed per secret: the body as received, with the two
/// texts of the secret as the key, and the body with each common change
/// undone.
pub(super) const MAX_MACS_PER_SECRET: usize = 3 + CHANGES.len();

/// The largest body whose common changes are undone and tried (1 MiB, the
/// adapters' default body limit); a larger one is checked as received only.
pub(super) const MAX_REWORKED_BODY: usize = 1 << 20;

/// Names a sender or a proxy uses instead of each header, tried in order.
fn look_alikes(which: Which) -> &'static [&'static str] {
    match which {
        Which::Id => &[
            "x-yoco-id",
            "x-yoco-webhook-id",
            "yoco-id",
            "x-webhook-id",
            "x-svix-id",
            "webhook_id",
            "svix_id",
            "http_webhook_id",
            "x-forwarded-webhook-id",
            "x-original-webhook-id",
            "x-amzn-remapped-webhook-id",
        ],
        Which::Timestamp => &[
            "x-yoco-timestamp",
            "x-yoco-webhook-timestamp",
            "yoco-timestamp",
            "x-webhook-timestamp",
            "x-svix-timestamp",
            "webhook_timestamp",
            "svix_timestamp",
            "http_webhook_timestamp",
            "x-forwarded-webhook-timestamp",
            "x-original-webhook-timestamp",
            "x-amzn-remapped-webhook-timestamp",
        ],
        Which::Signature => &[
            "x-yoco-signature",
            "x-yoco-webhook-signature",
            "yoco-signature",
            "x-webhook-signature",
            "x-svix-signature",
            "webhook_signature",
            "svix_signature",
            "http_webhook_signature",
            "x-forwarded-webhook-signature",
            "x-original-webhook-signature",
            "x-amzn-remapped-webhook-signature",
            "x-signature",
            "signature",
        ],
    }
}

/// One signature found in `webhook-signature`, as padded standard base64,
/// and how it was spelled when not `v1,<base64>`.
struct Candidate {
    tag: EncodedSignature,
    spelling: Option<SignatureSpelling>,
}

/// What the first [`MAX_ENTRIES`] entries of `webhook-signature` hold.
#[derive(Default)]
struct Entries {
    candidates: Vec<Candidate>,
    /// Whether a `v1` entry is no signature at all.
    unreadable: bool,
}

/// URL-safe base64, padded or not.
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Reads the first [`MAX_ENTRIES`] entries.
fn entries(header: &[u8]) -> Entries {
    let mut found = Entries::default();
    for entry in header
        .split(|&byte| byte == b' ')
        .filter(|entry| !entry.is_empty())
        .take(MAX_ENTRIES)
    {
        let (versioned, text) = match entry.strip_prefix(b"v1,") {
            Some(text) => (true, text),
            None if is_other_version(entry) => continue,
            None => (
                false,
                [&b"sha256="[..], b"v1=", b"v1:"]
                    .iter()
                    .find_map(|prefix| entry.strip_prefix(*prefix))
                    .unwrap_or(entry),
            ),
        };
        let candidate = if signature::is_tag_shaped(text) {
            let mut tag = [b'='; ENCODED_LEN];
            tag.iter_mut().zip(text).for_each(|(slot, &byte)| *slot = byte);
            Some(Candidate {
                tag,
                spelling: (!versioned).then_some(SignatureSpelling::Unversioned),
            })
        } else if let Some(bytes) = hex(text) {
            Some(Candidate {
                tag: signature::encode(&bytes),
                spelling: Some(if versioned {
                    SignatureSpelling::Hex
                } else {
                    SignatureSpelling::UnversionedHex
                }),
            })
        } else if versioned {
            url_safe(text).map(|bytes| Candidate {
                tag: signature::encode(&bytes),
                spelling: Some(SignatureSpelling::UrlSafeBase64),
            })
        } else {
            None
        };
        match candidate {
            Some(candidate) => found.candidates.push(candidate),
            None => found.unreadable |= versioned,
        }
    }
    found
}

/// Whether an entry is of another version (`v2,...`, `v1a,...`), which the
/// scheme says to skip.
fn is_other_version(entry: &[u8]) -> bool {
    entry.first() == Some(&b'v') && entry.contains(&b',')
}

/// 64 hex digits as the 32 bytes they spell.
fn hex(text: &[u8]) -> Option<[u8; SIGNATURE_LEN]> {
    if text.len() != 2 * SIGNATURE_LEN {
        return None;
    }
    let mut bytes = [0_u8; SIGNATURE_LEN];
    for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
        let digits = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(digits, 16).ok()?;
    }
    Some(bytes)
}

/// URL-safe base64 of 32 bytes, with `-` or `_` in it.
fn url_safe(text: &[u8]) -> Option<[u8; SIGNATURE_LEN]> {
    if !(text.len() == ENCODED_LEN || text.len() == ENCODED_LEN - 1) || !text.iter().any(|&b| b == b'-' || b == b'_') {
        return None;
    }
    let mut bytes = [0_u8; SIGNATURE_LEN];
    match URL_SAFE.decode_slice(text, &mut bytes) {
        Ok(SIGNATURE_LEN) => Some(bytes),
        _ => None,
    }
}

/// The timestamp as Unix seconds, if it is ASCII digits in range.
fn seconds(header: &[u8]) -> Option<i64> {
    if header.is_empty() || !header.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(header).ok()?.parse::<i64>().ok()
}

/// Unix milliseconds from 2001 to 2286: as seconds, no sender means them.
const MILLISECONDS: std::ops::Range<i64> = 1_000_000_000_000..10_000_000_000_000;

/// The HMACs the inspection computes, counted to hold it to its bound.
#[derive(Default)]
pub(super) struct Work {
    pub(super) macs: usize,
}

/// The diagnosis of a request at `now` (Unix seconds), and the work it took.
pub(super) fn inspect<H: Headers + ?Sized>(
    verifier: &Verifier,
    headers: &H,
    body: &[u8],
    now: i64,
) -> (Diagnosis, Work) {
    let mut work = Work::default();
    let diagnosis = diagnose(verifier, headers, body, now, &mut work);
    (diagnosis, work)
}

fn diagnose<H: Headers + ?Sized>(
    verifier: &Verifier,
    headers: &H,
    body: &[u8],
    now: i64,
    work: &mut Work,
) -> Diagnosis {
    let [id, timestamp, signature_header] =
        match [Which::Id, Which::Timestamp, Which::Signature].map(|which| header(headers, which)) {
            [Ok(id), Ok(timestamp), Ok(signature)] => [id, timestamp, signature],
            [Err(diagnosis), ..] | [_, Err(diagnosis), _] | [.., Err(diagnosis)] => return diagnosis,
        };
    if id.is_empty() || std::str::from_utf8(id).is_err() {
        return Diagnosis::InvalidWebhookId;
    }
    let entries = entries(signature_header);
    let sent = seconds(timestamp);
    let age = sent.map(|sent| i64::try_from(i128::from(now).saturating_sub(i128::from(sent))).unwrap_or(i64::MAX));
    let milliseconds = sent
        .filter(|sent| MILLISECONDS.contains(sent))
        .map(|sent| now.saturating_sub(sent / 1000));

    // The body as received, under each secret.
    let signs = |expected: &EncodedSignature| {
        entries
            .candidates
            .iter()
            .find(|candidate| bool::from(signature::entry_matches(expected, &candidate.tag)))
            .map(|candidate| candidate.spelling)
    };
    let mut misspelled = None;
    let mut signer = None;
    for accepted in &verifier.secrets {
        work.macs = work.macs.saturating_add(1);
        match signs(&signature::sign(&accepted.secret, id, timestamp, body)) {
            Some(None) => signer = Some(&accepted.binding.name),
            Some(Some(spelling)) => misspelled = Some((spelling, accepted.binding.name.clone())),
            None => {}
        }
    }
    if let Some(secret) = signer {
        let tolerance = verifier.tolerance_secs;
        if let Some(age_secs) = milliseconds {
            return Diagnosis::TimestampInMilliseconds { age_secs };
        }
        return match (sent, age) {
            (Some(sent), Some(age)) if sent <= MAX_UNIX_SECONDS => {
                if age.unsigned_abs() > tolerance {
                    Diagnosis::OutsideTolerance {
                        secret: secret.clone(),
                        age_secs: age,
                        tolerance_secs: tolerance,
                    }
                } else {
                    Diagnosis::Verifies { secret: secret.clone() }
                }
            }
            _ => Diagnosis::MalformedTimestamp,
        };
    }
    if let Some((spelling, secret)) = misspelled {
        return Diagnosis::MisspelledSignature {
            spelling,
            secret: Some(secret),
        };
    }
    if entries.candidates.is_empty() {
        return if entries.unreadable {
            Diagnosis::MisspelledSignature {
                spelling: SignatureSpelling::NotASignature,
                secret: None,
            }
        } else {
            Diagnosis::NoSignature
        };
    }

    // The secret's text as the key.
    for accepted in &verifier.secrets {
        let Some(TextKeys { whole, encoded }) = accepted.secret.text_keys() else {
            continue;
        };
        for (key, mac) in [(TextKey::WholeText, whole), (TextKey::Base64Text, encoded)] {
            work.macs = work.macs.saturating_add(1);
            if signs(&signature::sign_keyed(mac.clone(), id, timestamp, body)).is_some() {
                return Diagnosis::SecretTextAsKey {
                    secret: accepted.binding.name.clone(),
                    key,
                };
            }
        }
    }

    // The body as it was before a common change.
    let body_too_large = body.len() > MAX_REWORKED_BODY;
    if !body_too_large {
        for change in CHANGES {
            let Some(original) = undo(change, body) else {
                continue;
            };
            for accepted in &verifier.secrets {
                work.macs = work.macs.saturating_add(1);
                if signs(&signature::sign(&accepted.secret, id, timestamp, &original)).is_some() {
                    return Diagnosis::BodyChanged {
                        secret: accepted.binding.name.clone(),
                        change,
                    };
                }
            }
        }
    }

    if let Some(age_secs) = milliseconds {
        return Diagnosis::TimestampInMilliseconds { age_secs };
    }
    if sent.is_none_or(|sent| sent > MAX_UNIX_SECONDS) {
        return Diagnosis::MalformedTimestamp;
    }
    // Only misspelled signatures, none of them any secret's.
    if entries.candidates.iter().all(|candidate| candidate.spelling.is_some())
        && let Some(spelling) = entries.candidates.first().and_then(|candidate| candidate.spelling)
    {
        return Diagnosis::MisspelledSignature { spelling, secret: None };
    }
    Diagnosis::NoSecretSigns {
        secrets: verifier.secrets.len(),
        body_too_large,
    }
}

/// The one value of a required header, or the diagnosis of its absence.
fn header<H: Headers + ?Sized>(headers: &H, which: Which) -> Result<&[u8], Diagnosis> {
    match webhook_header(headers, which) {
        Found::One(value) => Ok(value),
        Found::Missing => Err(Diagnosis::MissingHeader {
            name: which.name(),
            look_alike: look_alikes(which)
                .iter()
                .copied()
                .find(|name| !matches!(headers.lookup(name), Lookup::Missing)),
        }),
        Found::Repeated(name) => Err(Diagnosis::RepeatedHeader { name }),
        Found::Conflicting => Err(Diagnosis::ConflictingHeaders {
            name: which.name(),
            svix_name: which.svix_name(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{SVIX_SIGNATURE, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
    use crate::testing::{SampleEvent, Signer, TEST_SECRET};
    use crate::{BodyChange, CheckoutFilter, Mode, Receiver, SecretName, WebhookSecret};

    const OTHER_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    /// 2024-06-15T15:51:55Z.
    const SIGNED_AT: i64 = 1_718_466_715;

    fn secret(text: &str) -> WebhookSecret {
        WebhookSecret::parse(text).unwrap()
    }

    /// A good request, as Yoco sends it: the sample event, compact, signed
    /// with [`TEST_SECRET`] at [`SIGNED_AT`]; its headers as pairs to break.
    fn good() -> (Vec<(String, String)>, Vec<u8>) {
        let body = SampleEvent::payment_succeeded().to_json();
        (signed(&secret(TEST_SECRET), &body, SIGNED_AT), body)
    }

    fn signed(secret: &WebhookSecret, body: &[u8], at: i64) -> Vec<(String, String)> {
        let headers = Signer::new(secret.clone()).sign_at_unix("msg_2Nc6Tb1A", at, body);
        headers
            .pairs()
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn set(headers: &mut [(String, String)], name: &str, value: String) {
        headers
            .iter_mut()
            .filter(|(n, _)| n == name)
            .for_each(|(_, v)| *v = value.clone());
    }

    fn signature_of(headers: &[(String, String)]) -> String {
        headers.iter().find(|(n, _)| n == WEBHOOK_SIGNATURE).unwrap().1.clone()
    }

    /// The diagnosis by a verifier of [`TEST_SECRET`] then
    /// [`OTHER_SECRET`], at `now`; the work is held to its bound.
    fn diagnose_with(verifier: &Verifier, headers: &[(String, String)], body: &[u8], now: i64) -> Diagnosis {
        let (diagnosis, work) = inspect(verifier, headers, body, now);
        assert!(
            work.macs <= MAX_MACS_PER_SECRET.saturating_mul(verifier.secrets.len()),
            "{} HMACs",
            work.macs
        );
        let shown = diagnosis.to_string();
        for secret_text in [TEST_SECRET, OTHER_SECRET, &TEST_SECRET[6..], &OTHER_SECRET[6..]] {
            assert!(!shown.contains(secret_text), "{shown}");
        }
        if let Some((_, signature)) = headers.iter().find(|(n, _)| n == WEBHOOK_SIGNATURE) {
            assert!(signature.len() < 8 || !shown.contains(&signature[3..]), "{shown}");
        }
        assert!(!shown.contains('\n'), "{shown}");
        diagnosis
    }

    fn diagnose(headers: &[(String, String)], body: &[u8]) -> Diagnosis {
        let verifier = Verifier::builder(secret(TEST_SECRET))
            .also_accept(secret(OTHER_SECRET))
            .build();
        diagnose_with(&verifier, headers, body, SIGNED_AT + 10)
    }

    fn name(text: &str) -> SecretName {
        SecretName::from(text)
    }

    #[test]
    fn a_good_request_verifies_and_names_the_secret_that_signs_it() {
        let (headers, body) = good();
        assert_eq!(
            diagnose(&headers, &body),
            Diagnosis::Verifies {
                secret: name("secret-1")
            }
        );
        let other = signed(&secret(OTHER_SECRET), &body, SIGNED_AT);
        let diagnosis = diagnose(&other, &body);
        assert_eq!(
            diagnosis,
            Diagnosis::Verifies {
                secret: name("secret-2")
            }
        );
        assert!(diagnosis.verifies() && diagnosis.code() == "verifies");
        assert!(
            diagnosis
                .to_string()
                .starts_with("verifies: signed by the secret `secret-2`")
        );
    }

    #[test]
    fn a_missing_header_names_the_look_alike_that_is_there_instead() {
        let (headers, body) = good();
        let renamed = |to: &str| -> Vec<(String, String)> {
            headers
                .iter()
                .map(|(n, v)| {
                    (
                        if n == WEBHOOK_SIGNATURE {
                            to.to_owned()
                        } else {
                            n.clone()
                        },
                        v.clone(),
                    )
                })
                .collect()
        };
        for (to, found) in [
            ("X-Yoco-Signature", Some("x-yoco-signature")),
            ("x-svix-signature", Some("x-svix-signature")),
            ("webhook_signature", Some("webhook_signature")), // a proxy's rewrite
            ("HTTP_WEBHOOK_SIGNATURE", Some("http_webhook_signature")), // CGI's
            (
                "x-amzn-remapped-webhook-signature",
                Some("x-amzn-remapped-webhook-signature"),
            ),
            ("x-unrelated", None),
        ] {
            let diagnosis = diagnose(&renamed(to), &body);
            assert_eq!(
                diagnosis,
                Diagnosis::MissingHeader {
                    name: WEBHOOK_SIGNATURE,
                    look_alike: found
                },
                "{to}"
            );
            assert!(
                diagnosis.to_string().starts_with("no `webhook-signature` header"),
                "{diagnosis}"
            );
        }
        // Svix's own name is read: not missing.
        assert!(diagnose(&renamed(SVIX_SIGNATURE), &body).verifies());
        let without_id: Vec<_> = headers.iter().filter(|(n, _)| n != WEBHOOK_ID).cloned().collect();
        assert_eq!(
            diagnose(&without_id, &body),
            Diagnosis::MissingHeader {
                name: WEBHOOK_ID,
                look_alike: None
            }
        );
        let mut twice = headers.clone();
        twice.push((WEBHOOK_TIMESTAMP.to_owned(), SIGNED_AT.to_string()));
        assert_eq!(
            diagnose(&twice, &body),
            Diagnosis::RepeatedHeader {
                name: WEBHOOK_TIMESTAMP
            }
        );
        let mut empty_id = headers;
        set(&mut empty_id, WEBHOOK_ID, String::new());
        assert_eq!(diagnose(&empty_id, &body), Diagnosis::InvalidWebhookId);
    }

    #[test]
    fn a_signature_in_hex_or_without_v1_is_named_with_the_secret_it_is_of() {
        let (mut headers, body) = good();
        let tag = base64::engine::general_purpose::STANDARD
            .decode(&signature_of(&headers)[3..])
            .unwrap();
        let hex: String = tag.iter().map(|byte| format!("{byte:02x}")).collect();
        let base64 = signature_of(&headers)[3..].to_owned();
        let url_safe = base64::engine::general_purpose::URL_SAFE.encode(&tag);
        for (spelled, spelling) in [
            (format!("v1,{hex}"), SignatureSpelling::Hex),
            (base64.clone(), SignatureSpelling::Unversioned),
            (format!("sha256={base64}"), SignatureSpelling::Unversioned),
            (hex.to_uppercase(), SignatureSpelling::UnversionedHex),
            (format!("v1,{url_safe}"), SignatureSpelling::UrlSafeBase64),
        ] {
            if spelling == SignatureSpelling::UrlSafeBase64 && !url_safe.contains(['-', '_']) {
                continue; // this tag is spelled the same in both alphabets
            }
            set(&mut headers, WEBHOOK_SIGNATURE, spelled.clone());
            let diagnosis = diagnose(&headers, &body);
            assert_eq!(
                diagnosis,
                Diagnosis::MisspelledSignature {
                    spelling,
                    secret: Some(name("secret-1"))
                },
                "{spelled}"
            );
        }
        // A wrong signature spelled right beside one spelled wrong.
        set(
            &mut headers,
            WEBHOOK_SIGNATURE,
            format!("v1,{} v1,{}", "A".repeat(43), "ab".repeat(32)),
        );
        assert!(matches!(diagnose(&headers, &body), Diagnosis::NoSecretSigns { .. }));
        // Spelled wrong, and no secret's either.
        set(&mut headers, WEBHOOK_SIGNATURE, format!("v1,{}", "ab".repeat(32)));
        assert_eq!(
            diagnose(&headers, &body),
            Diagnosis::MisspelledSignature {
                spelling: SignatureSpelling::Hex,
                secret: None
            }
        );
        for (header, diagnosis) in [
            (
                "v1,abc v1,",
                Diagnosis::MisspelledSignature {
                    spelling: SignatureSpelling::NotASignature,
                    secret: None,
                },
            ),
            ("v2,abc", Diagnosis::NoSignature),
            ("", Diagnosis::NoSignature),
        ] {
            set(&mut headers, WEBHOOK_SIGNATURE, header.to_owned());
            assert_eq!(diagnose(&headers, &body), diagnosis, "{header:?}");
        }
    }

    #[test]
    fn a_timestamp_in_milliseconds_is_named() {
        let body = SampleEvent::payment_succeeded().to_json();
        let millis = SIGNED_AT.saturating_mul(1000).saturating_add(250);
        // Signed over the milliseconds as sent...
        let headers = signed(&secret(TEST_SECRET), &body, millis);
        let diagnosis = diagnose(&headers, &body);
        assert_eq!(diagnosis, Diagnosis::TimestampInMilliseconds { age_secs: 10 });
        assert!(
            diagnosis.to_string().contains("milliseconds (signed 10 s ago)"),
            "{diagnosis}"
        );
        // ...or over the seconds, with milliseconds in the header.
        let (mut headers, body) = good();
        set(&mut headers, WEBHOOK_TIMESTAMP, millis.to_string());
        assert_eq!(
            diagnose(&headers, &body),
            Diagnosis::TimestampInMilliseconds { age_secs: 10 }
        );
        set(&mut headers, WEBHOOK_TIMESTAMP, "2024-06-15T15:51:55Z".to_owned());
        assert_eq!(diagnose(&headers, &body), Diagnosis::MalformedTimestamp);
    }

    #[test]
    fn a_good_signature_outside_the_tolerance_says_how_far_and_which_way() {
        let (headers, body) = good();
        let verifier = Verifier::new(secret(TEST_SECRET));
        let diagnosis = diagnose_with(&verifier, &headers, &body, SIGNED_AT + 3600);
        assert_eq!(
            diagnosis,
            Diagnosis::OutsideTolerance {
                secret: name("secret-1"),
                age_secs: 3600,
                tolerance_secs: 180
            }
        );
        let shown = diagnosis.to_string();
        assert!(
            shown.contains("3600 s (about 60 minutes) ago") && shown.contains("replay"),
            "{shown}"
        );
        let diagnosis = diagnose_with(&verifier, &headers, &body, SIGNED_AT - 600);
        assert!(matches!(diagnosis, Diagnosis::OutsideTolerance { age_secs: -600, .. }));
        assert!(
            diagnosis.to_string().contains("600 s (about 10 minutes) in the future"),
            "{diagnosis}"
        );
        let long_ago = diagnose_with(&verifier, &headers, &body, SIGNED_AT + 78_005_197).to_string();
        assert!(
            long_ago.contains("signed 78005197 s (about 902 days) ago"),
            "{long_ago}"
        );
        // At the edge of the tolerance it verifies, as `verify_at` does.
        assert!(diagnose_with(&verifier, &headers, &body, SIGNED_AT + 180).verifies());
    }

    #[test]
    fn the_other_modes_secret_is_named_by_the_receiver() {
        let live = secret(OTHER_SECRET);
        let test = secret(TEST_SECRET);
        let verifier = Verifier::builder(live)
            .named("live")
            .for_mode(Mode::Live)
            .also_accept_for(test.clone(), Mode::Test)
            .named("test")
            .build();
        let receiver = Receiver::new(verifier, CheckoutFilter::any());
        let at = time::OffsetDateTime::from_unix_timestamp(SIGNED_AT).unwrap();
        let live_event = SampleEvent::payment_succeeded().mode(Mode::Live).to_json();
        let headers = signed(&test, &live_event, SIGNED_AT);
        assert!(receiver.receive_at(&headers, &live_event, at).is_err());
        let diagnosis = receiver.diagnose_at(&headers, &live_event, at);
        assert_eq!(
            diagnosis,
            Diagnosis::OtherModeSecret {
                secret: name("test"),
                bound: Mode::Test,
                event: Some(Mode::Live)
            }
        );
        assert!(
            diagnosis
                .to_string()
                .contains("bound to mode `test`, but the event's mode is `live`")
        );
        // The verifier alone does not read the event.
        assert!(receiver.verifier().diagnose_at(&headers, &live_event, at).verifies());
        let test_event = SampleEvent::payment_succeeded().mode(Mode::Test).to_json();
        let headers = signed(&test, &test_event, SIGNED_AT);
        assert_eq!(
            receiver.diagnose_at(&headers, &test_event, at),
            Diagnosis::Verifies { secret: name("test") }
        );
    }

    #[test]
    fn the_secrets_text_used_as_the_key_is_named() {
        let body = SampleEvent::payment_succeeded().to_json();
        for (key, text_key) in [
            (TEST_SECRET, TextKey::WholeText),
            (&TEST_SECRET[6..], TextKey::Base64Text),
        ] {
            let wrong = WebhookSecret::from_key_bytes(key.as_bytes()).unwrap();
            let headers = signed(&wrong, &body, SIGNED_AT);
            let diagnosis = diagnose(&headers, &body);
            assert_eq!(
                diagnosis,
                Diagnosis::SecretTextAsKey {
                    secret: name("secret-1"),
                    key: text_key
                }
            );
            assert!(diagnosis.to_string().contains("decodes to"), "{diagnosis}");
        }
        // A secret made from its bytes has no text to misuse.
        let wrong = WebhookSecret::from_key_bytes(TEST_SECRET.as_bytes()).unwrap();
        let headers = signed(&wrong, &body, SIGNED_AT);
        let from_bytes = Verifier::new(WebhookSecret::from_key_bytes(b"test-secret-for-yoco-webhooks-tests").unwrap());
        assert!(matches!(
            diagnose_with(&from_bytes, &headers, &body, SIGNED_AT),
            Diagnosis::NoSecretSigns { secrets: 1, .. }
        ));
    }

    #[test]
    fn a_body_changed_on_its_way_in_is_named_by_the_change_that_undoes_it() {
        let compact = SampleEvent::payment_succeeded().to_json();
        let value: serde_json::Value = serde_json::from_slice(&compact).unwrap();
        // Sorted keys, as serde_json writes them: its pretty form is then the
        // compact one re-indented.
        let compact = serde_json::to_vec(&value).unwrap();
        let pretty = serde_json::to_vec_pretty(&value).unwrap();
        let crlf = String::from_utf8(pretty.clone())
            .unwrap()
            .replace('\n', "\r\n")
            .into_bytes();
        for (signed_body, received, change) in [
            (
                &compact,
                [&compact[..], b"\n"].concat(),
                BodyChange::TrailingNewlineAdded,
            ),
            (
                &compact,
                [&compact[..], b"\r\n"].concat(),
                BodyChange::TrailingNewlineAdded,
            ),
            (&pretty, crlf, BodyChange::CrlfLineEnds),
            (
                &compact,
                [&b"\xEF\xBB\xBF"[..], &compact].concat(),
                BodyChange::ByteOrderMark,
            ),
            (&compact, pretty.clone(), BodyChange::PrettyJson),
            (&pretty, compact.clone(), BodyChange::CompactJson),
        ] {
            let headers = signed(&secret(OTHER_SECRET), signed_body, SIGNED_AT);
            let diagnosis = diagnose(&headers, &received);
            assert_eq!(
                diagnosis,
                Diagnosis::BodyChanged {
                    secret: name("secret-2"),
                    change
                },
                "{change:?}"
            );
            assert!(diagnosis.to_string().contains("raw request body"), "{diagnosis}");
        }
        let with_newline = [&pretty[..], b"\n"].concat();
        let headers = signed(&secret(TEST_SECRET), &with_newline, SIGNED_AT);
        assert_eq!(
            diagnose(&headers, &pretty),
            Diagnosis::BodyChanged {
                secret: name("secret-1"),
                change: BodyChange::TrailingNewlineRemoved
            }
        );
    }

    #[test]
    fn otherwise_no_secret_given_signs_it() {
        let (_, body) = good();
        let headers = signed(&secret("whsec_bm90LW9uZS1vZi1vdXJz"), &body, SIGNED_AT);
        let diagnosis = diagnose(&headers, &body);
        assert_eq!(
            diagnosis,
            Diagnosis::NoSecretSigns {
                secrets: 2,
                body_too_large: false
            }
        );
        assert!(
            diagnosis
                .to_string()
                .starts_with("no secret given signs this request (2 secrets tried)")
        );
        // A changed id is no common mistake either.
        let (mut headers, body) = good();
        set(&mut headers, WEBHOOK_ID, "msg_other".to_owned());
        assert!(matches!(diagnose(&headers, &body), Diagnosis::NoSecretSigns { .. }));
    }

    #[test]
    fn hostile_requests_cost_a_bounded_amount_of_work() {
        // 10 MB: checked as received only, never copied.
        let huge = vec![b' '; 10_000_000];
        let headers = signed(&secret("whsec_bm90LW9uZS1vZi1vdXJz"), b"{}", SIGNED_AT);
        let verifier = Verifier::new(secret(TEST_SECRET));
        let (diagnosis, work) = inspect(&verifier, &headers, &huge, SIGNED_AT);
        assert_eq!(
            diagnosis,
            Diagnosis::NoSecretSigns {
                secrets: 1,
                body_too_large: true
            }
        );
        assert_eq!(work.macs, 3, "as received, and the secret's two texts as the key");
        assert!(diagnosis.to_string().contains("over 1048576 bytes"), "{diagnosis}");
        // A good signature on a 10 MB body is still found.
        let good_huge = signed(&secret(TEST_SECRET), &huge, SIGNED_AT);
        assert!(diagnose_with(&verifier, &good_huge, &huge, SIGNED_AT).verifies());

        // 10 000 entries: the first 16 are read; a good one after them is not.
        let (mut headers, body) = good();
        let good_entry = signature_of(&headers);
        let junk = format!("v1,{}", "A".repeat(43));
        let many = format!("{} {good_entry}", vec![junk.as_str(); 10_000].join(" "));
        assert_eq!(entries(many.as_bytes()).candidates.len(), MAX_ENTRIES);
        set(&mut headers, WEBHOOK_SIGNATURE, many);
        let (diagnosis, work) = inspect(&verifier, &headers, &body, SIGNED_AT);
        assert!(matches!(diagnosis, Diagnosis::NoSecretSigns { .. }), "{diagnosis:?}");
        assert_eq!(
            work.macs, 5,
            "as received, the two texts as the key, and the two changes that make a compact body: \
             a newline removed, pretty JSON compacted"
        );
        // Within the first 16, it is found.
        let few = format!("{} {good_entry}", vec![junk.as_str(); MAX_ENTRIES - 1].join(" "));
        set(&mut headers, WEBHOOK_SIGNATURE, few);
        assert!(diagnose_with(&verifier, &headers, &body, SIGNED_AT).verifies());
    }

    #[test]
    fn codes_are_snake_case_and_distinct() {
        let diagnoses = [
            Diagnosis::InvalidWebhookId,
            Diagnosis::NoSignature,
            Diagnosis::MalformedTimestamp,
            Diagnosis::TimestampInMilliseconds { age_secs: 0 },
        ];
        let codes: std::collections::BTreeSet<&str> = diagnoses.iter().map(Diagnosis::code).collect();
        assert_eq!(codes.len(), diagnoses.len());
        assert!(
            codes
                .iter()
                .all(|code| code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
    }
}
