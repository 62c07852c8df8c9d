//! `yoco-webhooks doctor` as a process: a raw request captured to a file
//! and a request given as `--header`/`--body`, diagnosed as the command
//! line prints it, with `--json` and its exit codes, and no secret in what
//! it prints.

use std::io::Write as _;
use std::process::{Command, Stdio};

use yoco_webhooks::Mode;
use yoco_webhooks::WebhookSecret;
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};

/// A live secret beside [`TEST_SECRET`].
const LIVE_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// When the requests were signed: 2024-06-15T15:51:55Z.
const SIGNED_AT: i64 = 1_718_466_715;

/// The binary's exit code, standard output and error for `args`, with
/// `stdin` as its input; no secret in what it printed.
fn doctor(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_yoco-webhooks"))
        .arg("doctor")
        .args(args)
        .env_remove("YOCO_WEBHOOK_SECRET")
        .env_remove("YOCO_WEBHOOK_SECRET_TEST")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    let (out, err) = (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    );
    for secret in [TEST_SECRET, LIVE_SECRET, &TEST_SECRET[6..], &LIVE_SECRET[6..]] {
        assert!(!out.contains(secret) && !err.contains(secret), "{out}{err}");
    }
    (output.status.code().unwrap(), out, err)
}

/// A request as a capture shows it: request line, headers, blank line, body.
fn raw_request(headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut raw =
        String::from("POST /webhooks/yoco HTTP/1.1\r\nHost: shop.example.com\r\ncontent-type: application/json\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    [raw.as_bytes(), body].concat()
}

/// A test-mode payment, signed with [`TEST_SECRET`] at [`SIGNED_AT`].
fn signed(mode: Mode) -> (Vec<(String, String)>, Vec<u8>) {
    let body = SampleEvent::payment_succeeded().mode(mode).to_json();
    let headers = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_at_unix("msg_doctor", SIGNED_AT, &body);
    let pairs = headers
        .pairs()
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    (pairs, body)
}

fn borrowed(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

#[test]
fn a_captured_request_verifies_or_names_its_cause() {
    let (headers, body) = signed(Mode::Test);
    let good = raw_request(&borrowed(&headers), &body);
    let at = SIGNED_AT.to_string();

    let (code, out, _) = doctor(&["--request", "-", "--secret", TEST_SECRET, "--at", &at], &good);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.trim(),
        "verifies: signed by the secret `secret-1`, within the tolerance"
    );

    // An hour later, from a file, with the secret from the environment.
    let path = std::env::temp_dir().join(format!("yoco-doctor-{}.http", std::process::id()));
    std::fs::write(&path, &good).unwrap();
    let later = (SIGNED_AT + 3600).to_string();
    let mut command = Command::new(env!("CARGO_BIN_EXE_yoco-webhooks"));
    let output = command
        .args(["doctor", "--request", path.to_str().unwrap(), "--at", &later, "--json"])
        .env("YOCO_WEBHOOK_SECRET", TEST_SECRET)
        .env_remove("YOCO_WEBHOOK_SECRET_TEST")
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["verifies"], false);
    assert_eq!(json["cause"], "outside_tolerance");
    assert_eq!(
        (json["age_secs"].as_i64(), json["secret"].as_str()),
        (Some(3600), Some("secret-1"))
    );
    let message = json["message"].as_str().unwrap();
    assert!(message.contains("signed 3600 s (about 60 minutes) ago"), "{message}");
    assert!(String::from_utf8(output.stderr).unwrap().contains("does not verify"));

    // A trailing newline the handler added to the body it verified.
    let changed = raw_request(&borrowed(&headers), &[&body[..], b"\n"].concat());
    let (code, out, _) = doctor(
        &[
            "--request",
            "-",
            "--secret",
            LIVE_SECRET,
            "--secret",
            TEST_SECRET,
            "--at",
            &at,
        ],
        &changed,
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("not authentic: the body was changed on its way in (a newline added at the end)"),
        "{out}"
    );
    assert!(
        out.contains("`secret-2`") && out.trim_end().ends_with("[body_changed]"),
        "{out}"
    );

    // The test secret's signature on a live event, with both bound.
    let (headers, body) = signed(Mode::Live);
    let live_event = raw_request(&borrowed(&headers), &body);
    let (code, out, _) = doctor(
        &[
            "--request",
            "-",
            "--live-secret",
            LIVE_SECRET,
            "--test-secret",
            TEST_SECRET,
            "--at",
            &at,
            "--json",
        ],
        &live_event,
    );
    assert_eq!(code, 1, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            json["cause"].as_str(),
            json["secret"].as_str(),
            json["bound"].as_str(),
            json["event"].as_str()
        ),
        (Some("other_mode_secret"), Some("test"), Some("test"), Some("live"))
    );
}

#[test]
fn headers_and_body_given_apart_are_diagnosed_alike() {
    let (headers, body) = signed(Mode::Test);
    let at = SIGNED_AT.to_string();
    let mut args: Vec<String> = Vec::new();
    for (name, value) in &headers {
        // The signature under the name a gateway gave it.
        let name = if name == "webhook-signature" {
            "X-Yoco-Signature"
        } else {
            name
        };
        args.extend(["--header".to_owned(), format!("{name}: {value}")]);
    }
    args.extend([
        "--body".into(),
        "-".into(),
        "--secret".into(),
        TEST_SECRET.into(),
        "--at".into(),
        at,
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, _) = doctor(&[&args[..], &["--json"]].concat(), &body);
    assert_eq!(code, 1, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            json["cause"].as_str(),
            json["header"].as_str(),
            json["look_alike"].as_str()
        ),
        (
            Some("missing_header"),
            Some("webhook-signature"),
            Some("x-yoco-signature")
        )
    );
    let body_text = String::from_utf8(body).unwrap();
    let pairs: Vec<String> = headers.iter().map(|(name, value)| format!("{name}:{value}")).collect();
    let mut plain: Vec<&str> = pairs.iter().flat_map(|pair| ["-H", pair.as_str()]).collect();
    plain.extend(["--body-text", &body_text, "--secret", TEST_SECRET, "--at", "1718466715"]);
    let (code, out, _) = doctor(&plain, b"");
    assert_eq!((code, out.starts_with("verifies")), (0, true), "{out}");
}

#[test]
fn usage_errors_exit_2_and_never_show_the_secret() {
    let (headers, body) = signed(Mode::Test);
    let good = raw_request(&borrowed(&headers), &body);
    // No secret at all.
    let (code, _, err) = doctor(&["--request", "-"], &good);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("YOCO_WEBHOOK_SECRET"), "{err}");
    // A secret that does not parse: named, not shown.
    let (code, _, err) = doctor(&["--request", "-", "--secret", "sk_test_c2VjcmV0LWtleQ"], &good);
    assert_eq!(code, 2);
    assert!(err.contains("`secret-1`") && !err.contains("c2VjcmV0LWtleQ"), "{err}");
    // Not an HTTP request; a header without a colon; both inputs.
    let (code, _, err) = doctor(&["--request", "-", "--secret", TEST_SECRET], b"\x00\x01 not http");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not an HTTP request"), "{err}");
    let (code, _, _) = doctor(&["-H", "webhook-id msg_1", "--secret", TEST_SECRET], b"");
    assert_eq!(code, 2);
    let (code, _, _) = doctor(&["--request", "-", "-H", "a: b", "--secret", TEST_SECRET], b"");
    assert_eq!(code, 2);
    let (code, out, _) = doctor(&["--help"], b"");
    assert_eq!(code, 0);
    assert!(
        out.contains("Exit status:") && out.contains("a request that does not verify"),
        "{out}"
    );
}
