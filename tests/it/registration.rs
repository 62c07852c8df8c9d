//! The registration client and command line against a local imitation of
//! Yoco's webhook API on 127.0.0.1 (`fake_yoco`), which serves the answers
//! recorded in `tests/data/api/`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use yoco_webhooks::Mode;
use yoco_webhooks::registration::{Client, ClientError, Ensured, Error, RegistrationApi, SecretKey, SubscriptionId};

use crate::fake_yoco::{BAD_KEY, ERROR_500, FakeYoco, GOOD_KEY, LIVE_KEY, SECRET, serve};

/// The API's error inside a client's; a transport error fails the test.
trait IntoApi {
    fn into_api(self) -> Error;
}

impl IntoApi for ClientError {
    fn into_api(self) -> Error {
        match self {
            ClientError::Api(err) => err,
            other => panic!("not an API error: {other:?}"),
        }
    }
}

fn client(address: SocketAddr, key: &str) -> Client {
    let api = RegistrationApi::new(SecretKey::new(key))
        .with_base_url(&format!("http://{address}/api"))
        .unwrap();
    Client::with_api(api, Duration::from_secs(5)).unwrap()
}

#[tokio::test]
async fn register_list_ensure_and_delete_against_the_imitation() {
    let fake = FakeYoco::default();
    let address = serve(fake.router()).await;
    let yoco = client(address, GOOD_KEY);

    let registered = yoco
        .register("shop", "https://shop.example.com/webhooks/yoco")
        .await
        .unwrap();
    assert_eq!(registered.webhook.id.as_str(), "sub_1");
    assert_eq!(registered.webhook.mode, Some(Mode::Test));
    assert_eq!(registered.secret.expose(), SECRET);
    assert!(registered.secret.to_webhook_secret().is_ok());
    assert!(!format!("{registered:?}").contains(SECRET));

    let listed = yoco.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].url, "https://shop.example.com/webhooks/yoco");

    match yoco
        .ensure("shop", "https://shop.example.com/webhooks/yoco")
        .await
        .unwrap()
    {
        Ensured::Existing(webhook) => assert_eq!(webhook.id.as_str(), "sub_1"),
        Ensured::Registered(_) => panic!("registered a second webhook for the same URL"),
    }
    assert_eq!(*fake.registrations.lock().unwrap(), 1);

    for n in 2..=5 {
        let ensured = yoco
            .ensure("shop", &format!("https://shop.example.com/{n}"))
            .await
            .unwrap();
        assert!(matches!(ensured, Ensured::Registered(_)), "{ensured:?}");
    }
    let sixth = yoco
        .ensure("shop", "https://shop.example.com/6")
        .await
        .unwrap_err()
        .into_api();
    assert!(matches!(sixth, Error::LimitReached { status: None, .. }), "{sixth:?}");
    assert_eq!(
        *fake.registrations.lock().unwrap(),
        5,
        "ensure must not try a sixth registration"
    );

    // Registering directly past the limit gets Yoco's own refusal.
    let refused = yoco
        .register("shop", "https://shop.example.com/6")
        .await
        .unwrap_err()
        .into_api();
    assert!(
        matches!(refused, Error::LimitReached { status: Some(400), .. }),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("at most 5 webhooks"), "{refused}");

    // Ids that URL normalisation would turn into the collection are refused.
    for id in [".", "..", "%2e%2e"] {
        let err = yoco.delete(&SubscriptionId::new(id)).await.unwrap_err().into_api();
        assert_eq!(err, Error::InvalidId, "{id}");
    }
    assert_eq!(yoco.list().await.unwrap().len(), 5);

    yoco.delete(&SubscriptionId::new("sub_2")).await.unwrap();
    assert_eq!(yoco.list().await.unwrap().len(), 4);
    let missing = yoco.delete(&SubscriptionId::new("sub_2")).await.unwrap_err().into_api();
    assert_eq!(
        missing,
        Error::Status {
            status: 404,
            message: "Webhook not found".into()
        }
    );
}

#[tokio::test]
async fn ensure_reuses_only_a_webhook_of_the_keys_mode() {
    const URL: &str = "https://shop.example.com/webhooks/yoco";
    let fake = FakeYoco::default();
    let address = serve(fake.router()).await;
    let (test, live) = (client(address, GOOD_KEY), client(address, LIVE_KEY));
    assert_eq!(test.api().key_mode(), Some(Mode::Test));
    assert_eq!(live.api().key_mode(), Some(Mode::Live));

    let Ensured::Registered(test_hook) = test.ensure("shop", URL).await.unwrap() else {
        panic!("nothing was registered yet")
    };
    assert_eq!(test_hook.webhook.mode, Some(Mode::Test));

    // The live key finds the test webhook of its URL and registers its own.
    let ensured = live.ensure("shop", URL).await.unwrap();
    let Ensured::Registered(live_hook) = ensured else {
        panic!("a live ensure reused a test registration: {ensured:?}")
    };
    assert_eq!(live_hook.webhook.mode, Some(Mode::Live));
    assert_ne!(live_hook.webhook.id, test_hook.webhook.id);
    assert_eq!(*fake.registrations.lock().unwrap(), 2);

    // Each key now finds its own, and registers nothing more.
    for (client, expected) in [(&test, &test_hook.webhook), (&live, &live_hook.webhook)] {
        match client.ensure("shop", URL).await.unwrap() {
            Ensured::Existing(webhook) => assert_eq!(&webhook, expected),
            Ensured::Registered(again) => panic!("registered again: {again:?}"),
        }
    }
    assert_eq!(*fake.registrations.lock().unwrap(), 2);
    assert_eq!(live.list().await.unwrap().len(), 2, "the list shows both modes");
}

#[tokio::test]
async fn ensure_with_a_key_of_unknown_mode_is_refused_before_sending() {
    let fake = FakeYoco::default();
    let address = serve(fake.router()).await;
    // The imitation would answer 403 to this key: the refusal is ours.
    let err = client(address, "yoco_key_without_mode")
        .ensure("shop", "https://shop.example.com/webhooks/yoco")
        .await
        .unwrap_err()
        .into_api();
    assert_eq!(err, Error::UnknownKeyMode);
    assert!(!err.to_string().contains("yoco_key_without_mode"), "{err}");
    assert_eq!(*fake.registrations.lock().unwrap(), 0);
}

#[tokio::test]
async fn refusals_carry_yocos_message_and_never_the_key() {
    let address = serve(FakeYoco::default().router()).await;

    let err = client(address, BAD_KEY).list().await.unwrap_err().into_api();
    assert_eq!(
        err,
        Error::Unauthorized {
            status: 403,
            message: "Invalid or revoked secret key".into()
        }
    );
    assert!(!format!("{err} {err:?}").contains(BAD_KEY));

    let err = client(address, GOOD_KEY)
        .register("shop", "https://unreachable.example/")
        .await
        .unwrap_err()
        .into_api();
    assert_eq!(
        err,
        Error::Rejected {
            status: 400,
            message: "url: must be a valid, publicly reachable URL".into()
        }
    );

    // Checks before sending: nothing reaches the server.
    let err = client(address, GOOD_KEY)
        .register("shop", "http://shop.example.com/")
        .await
        .unwrap_err()
        .into_api();
    assert!(matches!(err, Error::InvalidEndpointUrl { .. }), "{err:?}");
    let err = client(address, GOOD_KEY)
        .ensure("", "https://shop.example.com/")
        .await
        .unwrap_err()
        .into_api();
    assert_eq!(err, Error::EmptyName);
}

#[tokio::test]
async fn errors_never_show_a_user_or_password_of_the_api_base() {
    let closed = closed_port();
    let base = format!("http://user:hunter2@{closed}/api");
    // Refused at once: it would send the credentials, and the key.
    let refused = RegistrationApi::new(SecretKey::new(GOOD_KEY)).with_base_url(&base);
    let err = refused.map(|api| Client::with_api(api, Duration::from_secs(5)).unwrap());
    let shown = match err {
        Ok(client) => {
            let err = client.list().await.unwrap_err();
            format!("{} {err:?}", error_chain(&err))
        }
        Err(err) => {
            assert!(matches!(err, Error::InvalidBaseUrl { .. }), "{err:?}");
            format!("{err} {err:?}")
        }
    };
    assert!(!shown.contains("hunter2") && !shown.contains("user:"), "{shown}");
}

/// A loopback address where nothing listens: a port that was just freed.
fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// An error and its sources, as a log line would show them.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut shown = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        shown.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    shown
}

#[tokio::test]
async fn broken_slow_and_absent_servers_are_errors() {
    let router = Router::new()
        .route(
            "/html/api/webhooks",
            get(|| async { (StatusCode::BAD_GATEWAY, [("content-type", "text/html")], ERROR_500) }),
        )
        .route(
            "/junk/api/webhooks",
            get(|| async { (StatusCode::OK, "{\"subscriptions\": [1, 2") }),
        )
        .route(
            "/nolist/api/webhooks",
            get(|| async { (StatusCode::OK, r#"{"message":"moved"}"#) }),
        )
        .route(
            "/slow/api/webhooks",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                (StatusCode::OK, r#"{"subscriptions":[]}"#)
            }),
        );
    let address = serve(router).await;
    let at = |path: &str, timeout: Duration| {
        let api = RegistrationApi::new(SecretKey::new(GOOD_KEY))
            .with_base_url(&format!("http://{address}/{path}/api"))
            .unwrap();
        Client::with_api(api, timeout).unwrap()
    };

    let err = at("html", Duration::from_secs(5)).list().await.unwrap_err().into_api();
    let Error::Status { status: 502, message } = &err else {
        panic!("{err:?}")
    };
    // A page, not Yoco's message: not quoted.
    assert!(
        message.starts_with("no message in the answer (") && message.ends_with(" bytes, not quoted)"),
        "{message}"
    );

    let err = at("junk", Duration::from_secs(5)).list().await.unwrap_err().into_api();
    assert_eq!(
        err,
        Error::InvalidResponse {
            status: 200,
            problem: "the body is not JSON",
            registration: false
        }
    );
    let err = at("nolist", Duration::from_secs(5))
        .list()
        .await
        .unwrap_err()
        .into_api();
    assert!(matches!(err, Error::InvalidResponse { status: 200, .. }), "{err:?}");

    let err = at("slow", Duration::from_millis(300)).list().await.unwrap_err();
    assert!(
        matches!(err, ClientError::Timeout { after } if after == Duration::from_millis(300)),
        "{err:?}"
    );

    let err = client(closed_port(), GOOD_KEY).list().await.unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)), "{err:?}");
    let shown = error_chain(&err);
    assert!(shown.starts_with("could not reach Yoco's API: "), "{shown}");
}

/// The `yoco-webhooks` command line, built by cargo for these tests.
#[cfg(feature = "cli")]
fn command_line() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_yoco-webhooks"));
    command.env_remove("YOCO_SECRET_KEY").env_remove("YOCO_API_BASE");
    command
}

#[cfg(feature = "cli")]
async fn run(command: &mut tokio::process::Command) -> (i32, String, String) {
    let output = command.output().await.unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (output.status.code().unwrap(), text(output.stdout), text(output.stderr))
}

#[cfg(feature = "cli")]
#[tokio::test]
async fn the_command_line_registers_lists_ensures_and_deletes() {
    let address = serve(FakeYoco::default().router()).await;
    let base = format!("http://{address}/api");
    let cli = |args: &[&str], key: &str| {
        let mut command = command_line();
        command
            .args(args)
            .env("YOCO_SECRET_KEY", key)
            .env("YOCO_API_BASE", &base);
        command
    };
    let url = "https://shop.example.com/webhooks/yoco";

    let (code, out, err) = run(&mut cli(&["register", "--name", "shop", "--url", url], GOOD_KEY)).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("sub_1") && out.contains("test") && out.contains(url),
        "{out}"
    );
    assert!(out.contains(&format!("secret: {SECRET}")), "{out}");
    assert!(err.contains("store this secret now"), "{err}");

    let (code, out, _) = run(&mut cli(&["ensure", "--url", url, "--name", "shop"], GOOD_KEY)).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("already registered: sub_1") && !out.contains("whsec_"),
        "{out}"
    );

    let (code, out, _) = run(&mut cli(&["list"], GOOD_KEY)).await;
    assert_eq!((code, out.lines().count()), (0, 1), "{out}");

    let (code, out, _) = run(&mut cli(&["delete", "sub_1"], GOOD_KEY)).await;
    assert_eq!((code, out.trim()), (0, "deleted sub_1"));
    let (_, out, _) = run(&mut cli(&["list"], GOOD_KEY)).await;
    assert_eq!(out.trim(), "no webhooks registered");

    // Failures: one line, non-zero, never the key.
    let (code, out, err) = run(&mut cli(&["list"], BAD_KEY)).await;
    assert_eq!(code, 1);
    assert_eq!((out.as_str(), err.lines().count()), ("", 1), "{err}");
    assert!(
        err.starts_with("error: Yoco refused the secret API key (HTTP 403)") && !err.contains(BAD_KEY),
        "{err}"
    );
    let (code, _, err) = run(&mut cli(
        &["register", "--name", "shop", "--url", "http://shop.example.com/"],
        GOOD_KEY,
    ))
    .await;
    assert_eq!(code, 2, "refused before sending: {err}");
    assert!(err.contains("https://"), "{err}");
    let (code, _, err) = run(command_line().arg("list")).await;
    assert_eq!(code, 2);
    assert!(err.contains("YOCO_SECRET_KEY"), "{err}");
    let (code, _, err) = run(&mut cli(&["frobnicate"], GOOD_KEY)).await;
    assert_eq!(code, 2);
    assert!(err.contains("frobnicate"), "{err}");
}

#[cfg(feature = "cli")]
#[tokio::test]
async fn the_command_line_lists_as_json_for_scripts() {
    let address = serve(FakeYoco::default().router()).await;
    let cli = |args: &[&str]| {
        let mut command = command_line();
        command
            .args(args)
            .env("YOCO_SECRET_KEY", GOOD_KEY)
            .env("YOCO_API_BASE", format!("http://{address}/api"));
        command
    };
    let (code, out, err) = run(&mut cli(&["list", "--json"])).await;
    assert_eq!((code, out.trim()), (0, r#"{"webhooks":[]}"#), "{err}");
    for n in 1..=2 {
        let url = format!("https://shop.example.com/{n}");
        let (code, _, err) = run(&mut cli(&["register", "--name", "shop", "--url", &url])).await;
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, _) = run(&mut cli(&["list", "--json"])).await;
    assert_eq!(code, 0);
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        listed,
        serde_json::json!({"webhooks": [
            {"id": "sub_1", "name": "shop", "url": "https://shop.example.com/1", "mode": "test"},
            {"id": "sub_2", "name": "shop", "url": "https://shop.example.com/2", "mode": "test"},
        ]})
    );
    assert!(!out.contains("whsec_") && !out.contains(GOOD_KEY), "{out}");
}

#[cfg(feature = "cli")]
#[tokio::test]
async fn the_command_line_explains_itself() {
    let (code, out, _) = run(command_line().arg("--help")).await;
    assert_eq!(code, 0, "{out}");
    for needle in [
        "register",
        "ensure",
        "list",
        "delete",
        "YOCO_SECRET_KEY",
        "YOCO_API_BASE",
        "Exit status",
        "0  success",
        "1  an error from Yoco's API",
        "2  a usage or configuration error",
    ] {
        assert!(out.contains(needle), "--help lacks {needle}: {out}");
    }
    let (code, out, _) = run(command_line().args(["list", "--help"])).await;
    assert_eq!(code, 0);
    assert!(out.contains("--json") && out.contains("Exit status"), "{out}");
    let (code, out, _) = run(command_line().args(["help", "register"])).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("--name") && out.contains("--url") && out.contains("only this once"),
        "{out}"
    );
    let (code, out, _) = run(command_line().arg("--version")).await;
    assert_eq!(
        (code, out.trim()),
        (0, concat!("yoco-webhooks ", env!("CARGO_PKG_VERSION")))
    );
    // A usage error is clap's, exit 2, with the usage line.
    let (code, out, err) = run(command_line().args(["register", "--name", "shop"])).await;
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("--url") && err.contains("Usage:"), "{err}");
}

/// An answer to a registration holds the new secret: however broken, the
/// command line never shows it in an error.
#[cfg(feature = "cli")]
#[tokio::test]
async fn the_command_line_never_quotes_a_broken_register_answer() {
    let broken = format!(r#"{{"id":5,"name":"shop","secret":"{SECRET}"}}"#);
    let truncated = format!(r#"{{"id":"sub_1","secret":"{SECRET}""#);
    let router = Router::new()
        .route(
            "/typed/api/webhooks",
            axum::routing::post(move || async move { (StatusCode::CREATED, broken) }),
        )
        .route(
            "/cut/api/webhooks",
            axum::routing::post(move || async move { (StatusCode::CREATED, truncated) }),
        )
        .route(
            "/failed/api/webhooks",
            axum::routing::post(|| async { (StatusCode::BAD_GATEWAY, format!("<pre>{SECRET}</pre>")) }),
        );
    let address = serve(router).await;
    let payload = SECRET.trim_start_matches("whsec_");
    for path in ["typed", "cut", "failed"] {
        let (code, out, err) = run(command_line()
            .args([
                "register",
                "--name",
                "shop",
                "--url",
                "https://shop.example.com/webhooks/yoco",
            ])
            .env("YOCO_SECRET_KEY", GOOD_KEY)
            .env("YOCO_API_BASE", format!("http://{address}/{path}/api")))
        .await;
        assert_eq!((code, out.as_str()), (1, ""), "{path}: {err}");
        assert!(err.starts_with("error: "), "{path}: {err}");
        assert!(!err.contains(&payload[..8]) && !err.contains("sub_1"), "{path}: {err}");
    }
}

/// A typo in `YOCO_API_BASE` must not send the key in clear: plain http
/// only to loopback, and the value is never printed.
#[cfg(feature = "cli")]
#[tokio::test]
async fn the_command_line_refuses_a_plain_http_api_base() {
    for base in [
        "http://payments.yoco.example/api",
        "HTTP://10.1.2.3/api",
        "ftp://payments.yoco.example/api",
    ] {
        let (code, out, err) = run(command_line()
            .arg("list")
            .env("YOCO_SECRET_KEY", GOOD_KEY)
            .env("YOCO_API_BASE", base))
        .await;
        assert_eq!((code, out.as_str()), (2, ""), "{base}: {err}");
        assert!(
            err.contains("YOCO_API_BASE") && err.contains("https://"),
            "{base}: {err}"
        );
        assert!(
            !err.contains("yoco.example") && !err.contains("10.1.2.3"),
            "{base}: {err}"
        );
    }
}

#[cfg(feature = "cli")]
#[tokio::test]
async fn the_command_line_refuses_an_api_base_with_a_password() {
    let base = format!("http://user:hunter2@{}/api", closed_port());
    let (code, _, err) = run(command_line()
        .arg("list")
        .env("YOCO_SECRET_KEY", GOOD_KEY)
        .env("YOCO_API_BASE", base))
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("YOCO_API_BASE") && !err.contains("hunter2"), "{err}");
}
