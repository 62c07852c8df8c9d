//! The requests to Yoco's webhook API and the readers of its answers,
//! without I/O: `http::Request<Vec<u8>>` out, `http::Response<Vec<u8>>` in.

use serde::Deserialize;
use serde_json::Value;

use super::url::{check_base_url, check_endpoint_url};
use super::{Error, Registered, RevealedSecret, SecretKey, Subscription, SubscriptionId};
use crate::mode::Mode;

/// Yoco's API base, used unless another is configured.
pub const DEFAULT_API_BASE: &str = "https://payments.yoco.com/api";

/// The most webhooks Yoco allows on one account.
pub const MAX_WEBHOOKS: usize = 5;

/// How much of Yoco's message an error quotes.
const EXCERPT_CHARS: usize = 120;

#[derive(Deserialize)]
struct RegisterAnswer {
    #[serde(flatten)]
    webhook: Subscription,
    secret: RevealedSecret,
}

#[derive(Deserialize)]
struct ListAnswer {
    subscriptions: Vec<Subscription>,
}

/// What [`plan_ensure`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnsurePlan<'a> {
    /// A webhook with that URL and mode is registered already: use it (its
    /// secret cannot be shown again).
    AlreadyRegistered(&'a Subscription),
    /// None has the URL in that mode, and there is room: register it.
    Register,
}

/// Decides how to make sure `url` is registered in `mode` (the mode of the
/// API key that will register it: [`SecretKey::mode`]), given the account's
/// webhooks: reuse one with the same URL and mode rather than register a
/// second (which would double every delivery), and refuse a sixth.
///
/// A webhook of the other mode is never reused: a live key's `ensure`
/// that found the test registration of the same URL would leave live
/// events unsent, and its secret is the test one. One with the URL whose
/// mode the list does not say is not guessed at either.
///
/// # Errors
/// [`Error::UnknownWebhookMode`] if a webhook has the URL, none has it in
/// `mode`, and the list does not say the mode of one of them;
/// [`Error::LimitReached`] if the account already has [`MAX_WEBHOOKS`]
/// webhooks (of either mode) and none has the URL in `mode`.
pub fn plan_ensure<'a>(existing: &'a [Subscription], url: &str, mode: &Mode) -> Result<EnsurePlan<'a>, Error> {
    let same_url = || existing.iter().filter(|webhook| webhook.url == url);
    if let Some(found) = same_url().find(|webhook| webhook.mode.as_ref() == Some(mode)) {
        return Ok(EnsurePlan::AlreadyRegistered(found));
    }
    if let Some(unknown) = same_url().find(|webhook| webhook.mode.is_none()) {
        return Err(Error::UnknownWebhookMode { id: unknown.id.clone() });
    }
    if existing.len() >= MAX_WEBHOOKS {
        return Err(Error::LimitReached {
            status: None,
            message: format!("the account already has {} webhooks", existing.len()),
        });
    }
    Ok(EnsurePlan::Register)
}

/// Builds requests to Yoco's webhook API and reads its answers.
#[derive(Debug, Clone)]
pub struct RegistrationApi {
    key: SecretKey,
    base: String,
}

impl RegistrationApi {
    /// The API at [`DEFAULT_API_BASE`], authenticated with `key`.
    pub fn new(key: SecretKey) -> Self {
        Self {
            key,
            base: DEFAULT_API_BASE.to_owned(),
        }
    }

    /// Uses another base URL (a local imitation of Yoco's API in tests,
    /// say). The secret API key goes to it, so it follows the rule of
    /// [`check_endpoint_url`]: `https://`, or plain `http://` only to a
    /// loopback address.
    ///
    /// # Errors
    /// [`Error::InvalidBaseUrl`] saying what is wrong (never quoting it).
    pub fn with_base_url(mut self, base: &str) -> Result<Self, Error> {
        check_base_url(base)?;
        self.base = base.trim_end_matches('/').to_owned();
        Ok(self)
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The mode of the API key ([`SecretKey::mode`]): the mode of the
    /// webhooks it registers.
    pub fn key_mode(&self) -> Option<Mode> {
        self.key.mode()
    }

    /// `POST /webhooks`: registers `url` under `name`.
    ///
    /// # Errors
    /// [`Error::EmptyName`] or [`Error::InvalidEndpointUrl`] before anything
    /// is sent.
    pub fn register_request(&self, name: &str, url: &str) -> Result<http::Request<Vec<u8>>, Error> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::EmptyName);
        }
        check_endpoint_url(url)?;
        let body = serde_json::json!({ "name": name, "url": url }).to_string().into_bytes();
        self.request(http::Method::POST, "/webhooks", body)
    }

    /// `GET /webhooks`: lists the account's webhooks.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if the key cannot be sent in a header.
    pub fn list_request(&self) -> Result<http::Request<Vec<u8>>, Error> {
        self.request(http::Method::GET, "/webhooks", Vec::new())
    }

    /// `DELETE /webhooks/{id}`.
    ///
    /// # Errors
    /// [`Error::InvalidId`] if `id` is empty, only dots (`.`, `..`) or has
    /// a character other than letters, digits, `_`, `-`, `.` and `~`.
    pub fn delete_request(&self, id: &SubscriptionId) -> Result<http::Request<Vec<u8>>, Error> {
        // Unreserved characters only, and not `.` or `..` (or more dots),
        // which URL normalisation turns into this or the parent path.
        let id_text = id.as_str();
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '~');
        if !id_text.chars().all(plain) || id_text.chars().all(|c| c == '.') {
            return Err(Error::InvalidId);
        }
        self.request(http::Method::DELETE, &format!("/webhooks/{id}"), Vec::new())
    }

    fn request(&self, method: http::Method, path: &str, body: Vec<u8>) -> Result<http::Request<Vec<u8>>, Error> {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(http::header::ACCEPT, "application/json");
        if !body.is_empty() {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
        }
        let mut authorization =
            http::HeaderValue::from_str(&format!("Bearer {}", self.key.expose())).map_err(|_| Error::InvalidKey)?;
        authorization.set_sensitive(true);
        builder
            .header(http::header::AUTHORIZATION, authorization)
            .body(body)
            .map_err(|_| Error::InvalidBaseUrl {
                reason: "does not form a valid request URL",
            })
    }

    /// Reads the answer to [`RegistrationApi::register_request`]. Its body
    /// holds the new webhook's secret, so no error quotes it.
    ///
    /// # Errors
    /// [`Error`] for an error status or an unreadable answer.
    pub fn read_register_response(&self, response: http::Response<Vec<u8>>) -> Result<Registered, Error> {
        let answer: RegisterAnswer = self.read_json(response, Answering::Registration)?;
        Ok(Registered {
            webhook: answer.webhook,
            secret: answer.secret,
        })
    }

    /// Reads the answer to [`RegistrationApi::list_request`].
    ///
    /// # Errors
    /// [`Error`] for an error status or an answer without a `subscriptions`
    /// list.
    pub fn read_list_response(&self, response: http::Response<Vec<u8>>) -> Result<Vec<Subscription>, Error> {
        self.read_json::<ListAnswer>(response, Answering::Other)
            .map(|answer| answer.subscriptions)
    }

    /// Reads the answer to [`RegistrationApi::delete_request`]; any 2xx is
    /// success, whatever its body.
    ///
    /// # Errors
    /// [`Error`] for an error status.
    pub fn read_delete_response(&self, response: http::Response<Vec<u8>>) -> Result<(), Error> {
        self.check_status(&response)
    }

    fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        response: http::Response<Vec<u8>>,
        answering: Answering,
    ) -> Result<T, Error> {
        self.check_status(&response)?;
        // serde's own message is dropped: it may quote a value (the secret,
        // a webhook's URL). Whether the body is JSON at all says what is wrong.
        serde_json::from_slice(response.body()).map_err(|_| Error::InvalidResponse {
            status: response.status().as_u16(),
            problem: match serde_json::from_slice::<serde::de::IgnoredAny>(response.body()) {
                Ok(_) => "the body is JSON, but not of the documented shape",
                Err(_) => "the body is not JSON",
            },
            registration: matches!(answering, Answering::Registration),
        })
    }

    /// Turns an error status into the matching error, with Yoco's message.
    fn check_status(&self, response: &http::Response<Vec<u8>>) -> Result<(), Error> {
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let code = status.as_u16();
        let message = self.message_of(response.body());
        Err(match code {
            401 | 403 => Error::Unauthorized { status: code, message },
            400 | 409 | 422 if mentions_limit(&message) => Error::LimitReached {
                status: Some(code),
                message,
            },
            400 | 422 => Error::Rejected { status: code, message },
            _ => Error::Status { status: code, message },
        })
    }

    /// Yoco's human message: `message`, `description`, `error` or
    /// `errors[0]`, short and redacted; never the body itself.
    fn message_of(&self, body: &[u8]) -> String {
        let found = serde_json::from_slice::<Value>(body).ok().and_then(|json| {
            ["message", "description", "error"]
                .iter()
                .find_map(|key| json.get(key).and_then(text_of))
                .or_else(|| json.get("errors").and_then(|errors| errors.get(0)).and_then(text_of))
        });
        match found {
            Some(message) => self.quote(&message),
            None => format!("no message in the answer ({} bytes, not quoted)", body.len()),
        }
    }

    /// A short, single-line quote of a text, with the API key and any
    /// secret removed first (so that cutting it short cannot show part of
    /// one).
    fn quote(&self, text: &str) -> String {
        let key = self.key.expose();
        let text = if key.is_empty() {
            redact_secrets(text)
        } else {
            redact_secrets(&text.replace(key, "[redacted]"))
        };
        let mut excerpt: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(EXCERPT_CHARS)
            .collect();
        if text.chars().nth(EXCERPT_CHARS).is_some() {
            excerpt.push('…');
        }
        excerpt.trim().to_owned()
    }
}

/// What an answer answers: a registration's holds the new webhook's
/// secret, so an unreadable one may mean a webhook registered with its
/// secret lost.
#[derive(Clone, Copy)]
enum Answering {
    Registration,
    Other,
}

/// What starts a secret: a webhook secret or an API key, in any casing.
const SECRET_PREFIXES: [&str; 3] = ["whsec_", "sk_live_", "sk_test_"];

/// Replaces every secret in `text` (a prefix of [`SECRET_PREFIXES`] and the
/// base64 or JSON-escaped characters after it) with `[redacted]`.
fn redact_secrets(text: &str) -> String {
    let secret_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-' | '\\');
    // ASCII lowercasing keeps every byte offset.
    let lower = text.to_ascii_lowercase();
    let mut redacted = String::with_capacity(text.len());
    let mut at: usize = 0;
    while let Some((start, prefix)) = SECRET_PREFIXES
        .iter()
        .filter_map(|prefix| Some((at.checked_add(lower.get(at..)?.find(prefix)?)?, prefix.len())))
        .min()
    {
        redacted.push_str(text.get(at..start).unwrap_or_default());
        redacted.push_str("[redacted]");
        let after = start.saturating_add(prefix);
        let rest = text.get(after..).unwrap_or_default();
        at = after.saturating_add(rest.find(|c| !secret_char(c)).unwrap_or(rest.len()));
    }
    redacted.push_str(text.get(at..).unwrap_or_default());
    redacted
}

/// A message from a JSON value: a string, or the `message` of an object.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Object(object) => object.get("message").and_then(text_of),
        _ => None,
    }
}

fn mentions_limit(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["limit", "maximum", "too many"]
        .iter()
        .any(|word| message.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk_test_960bfde0VBrLlpK098e4ffeb53e1";

    fn api() -> RegistrationApi {
        RegistrationApi::new(SecretKey::new(KEY))
    }

    fn answer(status: u16, body: &str) -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn builds_the_three_requests() {
        let register = api()
            .register_request(" shop ", "https://shop.example.com/hook")
            .unwrap();
        assert_eq!(register.method(), http::Method::POST);
        assert_eq!(register.uri(), "https://payments.yoco.com/api/webhooks");
        assert_eq!(register.headers()["authorization"], format!("Bearer {KEY}").as_str());
        assert!(register.headers()["authorization"].is_sensitive());
        assert_eq!(register.headers()["content-type"], "application/json");
        let body: Value = serde_json::from_slice(register.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"name": "shop", "url": "https://shop.example.com/hook"})
        );

        let list = api()
            .with_base_url("http://127.0.0.1:9/api/")
            .unwrap()
            .list_request()
            .unwrap();
        assert_eq!(
            (list.method(), list.uri().to_string()),
            (&http::Method::GET, "http://127.0.0.1:9/api/webhooks".into())
        );
        let delete = api().delete_request(&SubscriptionId::new("sub_1")).unwrap();
        assert_eq!(delete.uri(), "https://payments.yoco.com/api/webhooks/sub_1");
        assert_eq!(
            api().delete_request(&SubscriptionId::new("../x")).unwrap_err(),
            Error::InvalidId
        );
        assert_eq!(
            api().delete_request(&SubscriptionId::new("")).unwrap_err(),
            Error::InvalidId
        );
    }

    #[test]
    fn refuses_bad_input_before_sending() {
        assert_eq!(
            api().register_request("  ", "https://x.example/").unwrap_err(),
            Error::EmptyName
        );
        assert!(matches!(
            api().register_request("shop", "http://x.example/"),
            Err(Error::InvalidEndpointUrl { .. })
        ));
        assert!(api().with_base_url("payments.yoco.com").is_err());
        let api = RegistrationApi::new(SecretKey::new("sk_test_\n1"));
        assert_eq!(api.list_request().unwrap_err(), Error::InvalidKey);
    }

    #[test]
    fn the_api_base_follows_the_endpoint_rule() {
        for ok in [
            "https://payments.yoco.com/api",
            "HTTPS://payments.yoco.com/api",
            "http://127.0.0.1:9/api",
            "Http://localhost:8080/api",
            "http://[::1]:9/api/",
        ] {
            let api = api().with_base_url(ok).unwrap();
            let request = api.list_request().unwrap();
            assert!(request.uri().to_string().ends_with("/api/webhooks"), "{ok}");
        }
        for bad in [
            "http://payments.yoco.com/api",
            "HTTP://payments.yoco.com/api",
            "Http://10.0.0.1/api",
            "http://localhost.example.com/api",
            "ftp://payments.yoco.com/api",
            "payments.yoco.com",
            "",
        ] {
            let err = api().with_base_url(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidBaseUrl { .. }), "{bad}: {err:?}");
            assert!(bad.is_empty() || !err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn delete_takes_only_a_plain_path_segment() {
        for id in ["sub_1", "wh_AbC-9.x~y", "a.b", ".x"] {
            let request = api().delete_request(&SubscriptionId::new(id)).unwrap();
            assert_eq!(request.uri().path(), format!("/api/webhooks/{id}"));
        }
        for id in [
            ".", "..", "...", "", "/", "a/b", "../x", "%2e%2e", "%2E%2E", "?", "a?b", "#", "a#b", " ", "a b", "\t",
            "sub_1\n", "é",
        ] {
            assert_eq!(
                api().delete_request(&SubscriptionId::new(id)).unwrap_err(),
                Error::InvalidId,
                "{id:?}"
            );
        }
    }

    #[test]
    fn reads_answers_leniently() {
        let registered = api()
            .read_register_response(answer(
                200,
                r#"{"id":"sub_1","name":"n","url":"https://x/","mode":"live","secret":"whsec_dGVzdA==","extra":1}"#,
            ))
            .unwrap();
        assert_eq!(registered.webhook.mode, Some(Mode::Live));
        assert_eq!(registered.secret.expose(), "whsec_dGVzdA==");
        assert!(registered.secret.to_webhook_secret().is_ok());
        assert_eq!(format!("{registered:?}").matches("dGVzdA").count(), 0);

        let listed = api()
            .read_list_response(answer(200, r#"{"subscriptions":[{"id":"sub_1","name":"a","url":"https://a/","mode":"test","new":true},{"id":"sub_2","url":"https://b/"}]}"#))
            .unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].mode, None);
        let err = api()
            .read_list_response(answer(200, r#"{"message":"nope"}"#))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidResponse { status: 200, .. }), "{err:?}");
        assert_eq!(api().read_delete_response(answer(204, "")), Ok(()));
    }

    #[test]
    fn error_answers_carry_status_and_message_but_never_the_key() {
        let cases = [
            (403, r#"{"message":"Invalid key"}"#, "Invalid key"),
            (400, r#"{"description":"url is invalid"}"#, "url is invalid"),
            (400, r#"{"errors":[{"message":"name required"}]}"#, "name required"),
            (400, r#"{"errors":["bad url"]}"#, "bad url"),
            (
                500,
                "<html><body>oops</body></html>",
                "no message in the answer (30 bytes, not quoted)",
            ),
            (
                403,
                &format!(r#"{{"error":"key {KEY} revoked"}}"#),
                "key [redacted] revoked",
            ),
        ];
        for (status, body, message) in cases {
            let err = api().read_delete_response(answer(status, body)).unwrap_err();
            assert!(err.to_string().contains(message), "{err}");
            assert!(!format!("{err} {err:?}").contains(KEY), "{err:?}");
        }
        assert!(matches!(
            api().read_delete_response(answer(401, "")),
            Err(Error::Unauthorized { status: 401, .. })
        ));
        assert!(matches!(
            api().read_delete_response(answer(422, r#"{"message":"x"}"#)),
            Err(Error::Rejected { .. })
        ));
        assert!(matches!(
            api().read_delete_response(answer(400, r#"{"message":"Webhook limit reached"}"#)),
            Err(Error::LimitReached { status: Some(400), .. })
        ));
        let long = "x".repeat(1000);
        let err = api().read_list_response(answer(502, &long)).unwrap_err().to_string();
        assert!(err.len() < 300, "{err}");
    }

    #[test]
    fn no_error_quotes_an_answers_body() {
        // A list of webhooks holds their URLs, which may hold a password.
        let url = "https://shop:hunter22@example.com/hooks?token=t0k3n";
        let bodies = [
            (200, format!(r#"{{"subscriptions":[{{"id":"sub_1","url":"{url}"}}]"#)),
            (200, format!(r#"{{"subscriptions":[{{"id":7,"url":"{url}"}}]}}"#)),
            (200, format!(r#"{{"subscriptions":"{url}"}}"#)),
            (502, format!("<html>{url}</html>")),
            (404, format!(r#"{{"unexpected":"{url}"}}"#)),
        ];
        for (status, body) in &bodies {
            let err = api().read_list_response(answer(*status, body)).unwrap_err();
            let shown = format!("{err} {err:?}");
            for piece in ["hunter22", "t0k3n", "sub_1", "example.com"] {
                assert!(!shown.contains(piece), "{piece} quoted: {shown}");
            }
        }
        assert_eq!(
            api().read_list_response(answer(200, "{")).unwrap_err(),
            Error::InvalidResponse {
                status: 200,
                problem: "the body is not JSON",
                registration: false
            }
        );
        let err = api()
            .read_list_response(answer(200, r#"{"subscriptions":"x"}"#))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unexpected answer from Yoco (HTTP 200): the body is JSON, but not of the documented shape"
        );
    }

    /// Fails if any six characters in a row of the secret's payload show.
    fn assert_shows_no_secret(err: &Error, payload: &str) {
        let shown = format!("{err} {err:?}").to_lowercase();
        let chars: Vec<char> = payload.to_lowercase().chars().collect();
        for window in chars.windows(6) {
            let piece: String = window.iter().collect();
            assert!(!shown.contains(&piece), "{piece} shows in {shown}");
        }
    }

    #[test]
    fn no_error_quotes_a_webhook_secret_or_a_register_answer() {
        let payload = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let secret = format!("whsec_{payload}");
        let escaped = secret.replace('Q', "\\u0051"); // JSON may escape any character
        let register_answers = [
            (201, format!(r#"{{"id":5,"secret":"{secret}"}}"#)),
            (201, format!(r#"{{"id":"sub_1","url":"https://x/","secret":"{secret}""#)),
            (200, format!("<html>{secret}</html>")),
            (500, format!("<html>{secret}</html>")),
            (502, format!(r#"{{"id":"sub_1","secret":"{secret}"}}"#)),
        ];
        for (status, body) in &register_answers {
            let err = api().read_register_response(answer(*status, body)).unwrap_err();
            assert_shows_no_secret(&err, payload);
            assert!(
                !err.to_string().contains("sub_1"),
                "a register answer was quoted: {err}"
            );
        }
        let unreadable = api().read_register_response(answer(201, "{")).unwrap_err();
        assert!(
            unreadable.to_string().contains("delete it and register again"),
            "{unreadable}"
        );
        let other_answers = [
            (
                200,
                format!(r#"{{"subscriptions":[{{"id":"sub_1","secret":"{secret}"}}"#),
            ),
            (200, format!("{}{secret}", "x".repeat(110))), // cut in the middle by the excerpt
            (404, format!(r#"{{"message":"no webhook with secret {secret}"}}"#)),
            (403, format!(r#"{{"errors":["{}"]}}"#, secret.to_uppercase())),
            (502, format!(r#"<p>{}</p>"#, secret.replace('/', "\\/"))),
            (400, format!(r#"{{"error":"{escaped}"}}"#)),
            (500, escaped.clone()),
        ];
        for (status, body) in &other_answers {
            let err = api().read_list_response(answer(*status, body)).unwrap_err();
            assert_shows_no_secret(&err, payload);
            if *status >= 400 {
                let err = api().read_delete_response(answer(*status, body)).unwrap_err();
                assert_shows_no_secret(&err, payload);
            }
        }
    }

    #[test]
    fn redacts_each_secret_and_keeps_the_rest() {
        assert_eq!(
            redact_secrets("é key SK_TEST_ab12, secret whsec_a+b/c= and whsec_x\\/y\\u0051z. ok"),
            "é key [redacted], secret [redacted] and [redacted]. ok"
        );
        assert_eq!(redact_secrets("whsec"), "whsec");
        assert_eq!(redact_secrets("whsec_"), "[redacted]");
    }

    fn hook(n: usize, url: &str, mode: Option<Mode>) -> Subscription {
        Subscription {
            id: SubscriptionId::new(format!("sub_{n}")),
            name: format!("n{n}"),
            url: url.to_owned(),
            mode,
        }
    }

    #[test]
    fn ensure_reuses_an_existing_url_and_refuses_a_sixth() {
        let five: Vec<Subscription> = (0..5)
            .map(|n| hook(n, &format!("https://shop.example.com/{n}"), Some(Mode::Test)))
            .collect();
        assert_eq!(
            plan_ensure(&five, "https://shop.example.com/3", &Mode::Test),
            Ok(EnsurePlan::AlreadyRegistered(&five[3]))
        );
        assert!(matches!(
            plan_ensure(&five, "https://shop.example.com/new", &Mode::Test),
            Err(Error::LimitReached { status: None, .. })
        ));
        assert_eq!(
            plan_ensure(&five[..4], "https://shop.example.com/new", &Mode::Test),
            Ok(EnsurePlan::Register)
        );
    }

    #[test]
    fn ensure_reuses_only_a_webhook_of_the_keys_mode() {
        const URL: &str = "https://shop.example.com/hook";
        let test_only = [hook(1, URL, Some(Mode::Test))];
        assert_eq!(plan_ensure(&test_only, URL, &Mode::Live), Ok(EnsurePlan::Register));
        assert_eq!(
            plan_ensure(&test_only, URL, &Mode::Test),
            Ok(EnsurePlan::AlreadyRegistered(&test_only[0]))
        );
        // Both modes registered, in either order: each key finds its own.
        let both = [hook(1, URL, Some(Mode::Test)), hook(2, URL, Some(Mode::Live))];
        for existing in [both.clone(), [both[1].clone(), both[0].clone()]] {
            for mode in [Mode::Live, Mode::Test] {
                let Ok(EnsurePlan::AlreadyRegistered(found)) = plan_ensure(&existing, URL, &mode) else {
                    panic!("{mode}: not reused");
                };
                assert_eq!(found.mode.as_ref(), Some(&mode));
            }
        }
        // The other mode's webhook of the URL counts toward the limit.
        let full: Vec<Subscription> = (0..4)
            .map(|n| hook(n, &format!("https://shop.example.com/{n}"), Some(Mode::Live)))
            .chain([hook(9, URL, Some(Mode::Test))])
            .collect();
        assert!(matches!(
            plan_ensure(&full, URL, &Mode::Live),
            Err(Error::LimitReached { .. })
        ));
        // A webhook of the URL whose mode the list does not say is not guessed at.
        let unknown = [hook(1, URL, None), hook(2, "https://other.example/", Some(Mode::Live))];
        let err = plan_ensure(&unknown, URL, &Mode::Live).unwrap_err();
        assert_eq!(
            err,
            Error::UnknownWebhookMode {
                id: SubscriptionId::new("sub_1")
            }
        );
        assert!(err.to_string().contains("sub_1"), "{err}");
        let with_live = [hook(1, URL, None), hook(2, URL, Some(Mode::Live))];
        assert_eq!(
            plan_ensure(&with_live, URL, &Mode::Live),
            Ok(EnsurePlan::AlreadyRegistered(&with_live[1]))
        );
        assert_eq!(
            plan_ensure(&unknown, "https://new.example/", &Mode::Live),
            Ok(EnsurePlan::Register)
        );
    }

    #[test]
    fn the_api_knows_its_keys_mode() {
        assert_eq!(api().key_mode(), Some(Mode::Test));
        let live = RegistrationApi::new(SecretKey::new("sk_live_960bfde0VBrLlpK098e4ffeb53e1"));
        assert_eq!(live.key_mode(), Some(Mode::Live));
        assert_eq!(RegistrationApi::new(SecretKey::new("key")).key_mode(), None);
    }

    #[test]
    fn the_api_never_prints_its_key() {
        assert!(!format!("{:?}", api()).contains(KEY));
    }
}
