//! The testing guide's shell recipe for signing a request by hand (openssl, curl),
//! run as written against a verifying receiver: it must be processed, and
//! the same recipe with another secret must be refused.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::post;
use yoco_webhooks::Processed;
use yoco_webhooks::testing::TEST_SECRET;
use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret};
use yoco_webhooks::{YocoWebhook, YocoWebhookConfig};

/// The body of the ```sh block under `heading` in the testing guide (docs/guide/testing.md).
fn readme_shell_block(heading: &str) -> String {
    let readme = include_str!("../../docs/guide/testing.md");
    let section = readme.split_once(heading).expect("the guide's section").1;
    let block = section.split_once("```sh\n").expect("a sh block in the section").1;
    block.split_once("\n```").expect("the block's end").0.to_owned()
}

async fn serve() -> SocketAddr {
    async fn handler(webhook: YocoWebhook) -> Processed<(), std::convert::Infallible> {
        webhook.process(|_delivery| async { Ok(()) }).await
    }
    let receiver = Receiver::new(
        Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
        CheckoutFilter::any(),
    );
    let router = Router::new()
        .route("/webhooks/yoco", post(handler))
        .with_state(YocoWebhookConfig::new(receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address
}

async fn run_recipe(recipe: &str, secret: &str, address: SocketAddr) -> String {
    for tool in ["bash", "openssl", "curl", "base64", "od"] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap()
            .status
            .success();
        assert!(
            found,
            "{tool} is missing: apt-get install -y bash openssl curl coreutils"
        );
    }
    let output = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", recipe])
        .env("YOCO_WEBHOOK_SECRET", secret)
        .env("URL", format!("http://{address}/webhooks/yoco"))
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "the recipe failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn the_hand_signing_recipe_is_verified() {
    let recipe = readme_shell_block("### Signing a request by hand");
    let address = serve().await;
    assert_eq!(run_recipe(&recipe, TEST_SECRET, address).await, "processed");
    let other = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert_eq!(run_recipe(&recipe, other, address).await, "webhook not authentic");
}
