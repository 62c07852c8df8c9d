//! `doctor`: why a refused request is not authentic, named as a cause to
//! act on ([`Receiver::diagnose_at`]), from a raw request as captured or
//! from its headers and body.

use std::io::Read as _;
use std::time::Duration;

use clap::{ArgGroup, Args};
use time::OffsetDateTime;
use yoco_webhooks::{CheckoutFilter, Diagnosis, Mode, Receiver, Verifier, VerifierBuilder, WebhookSecret};

use crate::failure::Failure;
use crate::trigger::Hidden;

/// The request to diagnose, the secrets to diagnose it with, and when.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["request", "headers"])))]
pub(crate) struct Doctor {
    /// The raw HTTP request as captured: the request line, the headers, a
    /// blank line and the body (chunked bodies are decoded; `-` reads
    /// standard input).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["headers", "body", "body_text"])]
    pub(crate) request: Option<String>,
    /// A header of the request, as `name: value`; repeat for each.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,
    /// The file holding the request's body, byte for byte (`-` reads
    /// standard input); with --header.
    #[arg(long, value_name = "FILE", requires = "headers", conflicts_with = "body_text")]
    pub(crate) body: Option<String>,
    /// The request's body as text; with --header.
    #[arg(long, value_name = "TEXT", requires = "headers")]
    pub(crate) body_text: Option<String>,
    /// A webhook secret to check with (whsec_...); repeat for each, named
    /// secret-1, secret-2, ... in order. Never printed. Without any secret
    /// option: YOCO_WEBHOOK_SECRET (with YOCO_WEBHOOK_SECRET_TEST, the two
    /// bound to live and test, as the example receivers bind them).
    #[arg(long = "secret", value_name = "WHSEC")]
    pub(crate) secrets: Vec<Hidden>,
    /// The live registration's secret, named `live`, vouching for live
    /// events only. Never printed.
    #[arg(long, value_name = "WHSEC")]
    pub(crate) live_secret: Option<Hidden>,
    /// The test registration's secret, named `test`, vouching for test
    /// events only. Never printed.
    #[arg(long, value_name = "WHSEC")]
    pub(crate) test_secret: Option<Hidden>,
    /// Diagnose as of this time (Unix seconds), such as when a saved
    /// request arrived; now when omitted.
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub(crate) at: Option<i64>,
    /// The tolerance on webhook-timestamp, in seconds, as the receiver's.
    #[arg(long, value_name = "SECONDS", default_value_t = 180)]
    pub(crate) tolerance: u64,
    /// Print one JSON object, for scripts:
    /// {"verifies":..,"cause":..,"message":..} and the cause's details
    /// (secret, header, look_alike, spelling, age_secs, tolerance_secs,
    /// bound, event, key, change, secrets, body_too_large).
    #[arg(long)]
    pub(crate) json: bool,
}

/// Diagnoses the request and prints the cause; fails with 1 unless it
/// verifies, with 2 on a usage error.
pub(crate) fn doctor(options: Doctor) -> Result<(), Failure> {
    let usage = |reason: String| Failure(2, reason);
    let (headers, body) = match &options.request {
        Some(path) => parse_request(&read(path)?).map_err(|reason| usage(format!("{path}: {reason}")))?,
        None => {
            let headers = options
                .headers
                .iter()
                .map(|line| header(line))
                .collect::<Result<Vec<_>, String>>()
                .map_err(usage)?;
            let body = match (&options.body, &options.body_text) {
                (Some(path), _) => read(path)?,
                (None, Some(text)) => text.clone().into_bytes(),
                (None, None) => Vec::new(),
            };
            (headers, body)
        }
    };
    let verifier = verifier(&options)?;
    let now = match options.at {
        Some(at) => OffsetDateTime::from_unix_timestamp(at).map_err(|err| usage(format!("--at: {err}")))?,
        None => OffsetDateTime::now_utc(),
    };
    let diagnosis = Receiver::new(verifier, CheckoutFilter::any()).diagnose_at(&headers, &body, now);
    if options.json {
        println!("{}", json(&diagnosis));
    } else if diagnosis.verifies() {
        println!("{diagnosis}");
    } else {
        println!("not authentic: {diagnosis} [{}]", diagnosis.code());
    }
    if diagnosis.verifies() {
        Ok(())
    } else {
        Err(Failure(1, "the request does not verify".to_owned()))
    }
}

/// A file's bytes, or standard input's for `-`.
fn read(path: &str) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    let read = if path == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(path).map(|read| bytes = read)
    };
    read.map_err(|err| Failure(2, format!("{path}: {err}")))?;
    Ok(bytes)
}

/// A header given as `name: value`.
fn header(line: &str) -> Result<(String, Vec<u8>), String> {
    match line.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() && !name.trim().contains(char::is_whitespace) => {
            Ok((name.trim().to_owned(), value.trim().as_bytes().to_vec()))
        }
        _ => Err(format!("--header takes `name: value`, not {line:?}")),
    }
}

/// A request's headers, as given.
type HeaderList = Vec<(String, Vec<u8>)>;

/// The most headers read from a captured request.
const MAX_HEADERS: usize = 256;

/// The headers and body of a raw HTTP/1.x request.
fn parse_request(raw: &[u8]) -> Result<(HeaderList, Vec<u8>), String> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut slots);
    let start = match request.parse(raw) {
        Ok(httparse::Status::Complete(start)) => start,
        Ok(httparse::Status::Partial) => {
            return Err("the request ends before the blank line that ends its headers".to_owned());
        }
        Err(err) => return Err(format!("not an HTTP request ({err})")),
    };
    let headers: HeaderList = request
        .headers
        .iter()
        .map(|header| (header.name.to_owned(), header.value.to_vec()))
        .collect();
    let rest = raw.get(start..).unwrap_or_default();
    let value = |name: &str| {
        headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| String::from_utf8_lossy(value).to_ascii_lowercase())
    };
    let body = if value("transfer-encoding").is_some_and(|coding| coding.contains("chunked")) {
        unchunk(rest)?
    } else {
        match value("content-length").and_then(|length| length.trim().parse::<usize>().ok()) {
            Some(length) if length < rest.len() => {
                eprintln!(
                    "note: {} bytes after the body's Content-Length ({length}) were left out",
                    rest.len().saturating_sub(length)
                );
                rest.get(..length).unwrap_or(rest).to_vec()
            }
            _ => rest.to_vec(),
        }
    };
    Ok((headers, body))
}

/// A chunked body, decoded.
fn unchunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let (start, size) = match httparse::parse_chunk_size(rest) {
            Ok(httparse::Status::Complete(found)) => found,
            Ok(httparse::Status::Partial) | Err(_) => {
                return Err("the chunked body is cut short or malformed".to_owned());
            }
        };
        let size = usize::try_from(size).map_err(|_| "a chunk is too large".to_owned())?;
        if size == 0 {
            return Ok(body);
        }
        let end = start.checked_add(size).ok_or("a chunk is too large")?;
        body.extend_from_slice(rest.get(start..end).ok_or("the chunked body is cut short")?);
        let after = rest.get(end..).unwrap_or_default();
        rest = after
            .strip_prefix(b"\r\n")
            .or_else(|| after.strip_prefix(b"\n"))
            .ok_or("a chunk does not end with a line end")?;
    }
}

/// The verifier of the secrets given, or of YOCO_WEBHOOK_SECRET (and
/// YOCO_WEBHOOK_SECRET_TEST).
fn verifier(options: &Doctor) -> Result<Verifier, Failure> {
    let mut given: Vec<(String, String, Option<Mode>)> = Vec::new();
    if let Some(Hidden(text)) = &options.live_secret {
        given.push(("live".to_owned(), text.clone(), Some(Mode::Live)));
    }
    if let Some(Hidden(text)) = &options.test_secret {
        given.push(("test".to_owned(), text.clone(), Some(Mode::Test)));
    }
    for (position, Hidden(text)) in (1..).zip(&options.secrets) {
        given.push((format!("secret-{position}"), text.clone(), None));
    }
    if given.is_empty() {
        let text = std::env::var("YOCO_WEBHOOK_SECRET").map_err(|_| {
            Failure(
                2,
                "--secret, --live-secret, --test-secret or YOCO_WEBHOOK_SECRET is required".to_owned(),
            )
        })?;
        match std::env::var("YOCO_WEBHOOK_SECRET_TEST") {
            Ok(test) if !test.trim().is_empty() => {
                given.push(("live".to_owned(), text, Some(Mode::Live)));
                given.push(("test".to_owned(), test, Some(Mode::Test)));
            }
            _ => given.push(("secret-1".to_owned(), text, None)),
        }
    }
    let mut builder: Option<VerifierBuilder> = None;
    for (name, text, mode) in given {
        let secret =
            WebhookSecret::parse(&text).map_err(|err| Failure(2, format!("the webhook secret `{name}`: {err}")))?;
        let added = match (builder.take(), mode) {
            (None, mode) => {
                let first = Verifier::builder(secret);
                match mode {
                    Some(mode) => first.for_mode(mode),
                    None => first,
                }
            }
            (Some(builder), Some(mode)) => builder.also_accept_for(secret, mode),
            (Some(builder), None) => builder.also_accept(secret),
        };
        builder = Some(added.named(name));
    }
    let builder = builder.ok_or_else(|| Failure(2, "no webhook secret given".to_owned()))?;
    Ok(builder.tolerance(Duration::from_secs(options.tolerance)).build())
}

/// The diagnosis as one JSON object: whether it verifies, the cause's
/// code and sentence, and its details.
fn json(diagnosis: &Diagnosis) -> serde_json::Value {
    use serde_json::json;
    let details = match diagnosis {
        Diagnosis::Verifies { secret } => json!({"secret": secret.as_str()}),
        Diagnosis::MissingHeader { name, look_alike } => json!({"header": name, "look_alike": look_alike}),
        Diagnosis::RepeatedHeader { name } => json!({"header": name}),
        Diagnosis::ConflictingHeaders { name, svix_name } => json!({"header": name, "svix_header": svix_name}),
        Diagnosis::MisspelledSignature { spelling, secret } => {
            json!({"spelling": snake(spelling), "secret": secret.as_ref().map(|secret| secret.as_str())})
        }
        Diagnosis::TimestampInMilliseconds { age_secs } => json!({"age_secs": age_secs}),
        Diagnosis::OutsideTolerance {
            secret,
            age_secs,
            tolerance_secs,
        } => json!({"secret": secret.as_str(), "age_secs": age_secs, "tolerance_secs": tolerance_secs}),
        Diagnosis::OtherModeSecret { secret, bound, event } => json!({
            "secret": secret.as_str(),
            "bound": bound.as_str(),
            "event": event.as_ref().map(Mode::as_str),
        }),
        Diagnosis::SecretTextAsKey { secret, key } => json!({"secret": secret.as_str(), "key": snake(key)}),
        Diagnosis::BodyChanged { secret, change } => json!({"secret": secret.as_str(), "change": snake(change)}),
        Diagnosis::NoSecretSigns {
            secrets,
            body_too_large,
        } => json!({"secrets": secrets, "body_too_large": body_too_large}),
        _ => json!({}),
    };
    let mut object = json!({
        "verifies": diagnosis.verifies(),
        "cause": diagnosis.code(),
        "message": diagnosis.to_string(),
    });
    if let (Some(object), serde_json::Value::Object(details)) = (object.as_object_mut(), details) {
        object.extend(details);
    }
    object
}

/// A unit variant's name in snake case (`BodyChange::PrettyJson` is
/// `pretty_json`).
fn snake(value: &impl std::fmt::Debug) -> String {
    let mut out = String::new();
    for (position, character) in format!("{value:?}").chars().enumerate() {
        if character.is_ascii_uppercase() && position > 0 {
            out.push('_');
        }
        out.push(character.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_raw_request_with_lf_or_crlf_and_a_chunked_body() {
        let raw = b"POST /webhooks/yoco HTTP/1.1\r\nHost: x\r\nWebhook-Id: msg_1\r\nContent-Length: 2\r\n\r\n{}\n";
        let (headers, body) = parse_request(raw).unwrap();
        assert_eq!(headers[1], ("Webhook-Id".to_owned(), b"msg_1".to_vec()));
        assert_eq!(body, b"{}", "the newline an editor added is past Content-Length");
        let lf = b"POST / HTTP/1.1\nwebhook-id: msg_1\n\n{\"a\":1}";
        assert_eq!(parse_request(lf).unwrap().1, b"{\"a\":1}");
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(parse_request(chunked).unwrap().1, b"{\"a\":1}");
        for bad in [&b"POST / HTTP/1.1\r\nwebhook-id: msg_1\r\n"[..], b"\x00\x01", b""] {
            assert!(parse_request(bad).is_err(), "{bad:?}");
        }
        let cut = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{}";
        assert!(parse_request(cut).is_err());
    }

    #[test]
    fn reads_a_header_given_as_name_colon_value() {
        assert_eq!(
            header("webhook-id: msg_1").unwrap(),
            ("webhook-id".to_owned(), b"msg_1".to_vec())
        );
        assert_eq!(header("a:b:c").unwrap().1, b"b:c");
        for bad in ["no colon", ": value", "two words: x"] {
            assert!(header(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn snake_cases_variant_names() {
        assert_eq!(snake(&yoco_webhooks::BodyChange::PrettyJson), "pretty_json");
        assert_eq!(snake(&yoco_webhooks::TextKey::WholeText), "whole_text");
    }
}
