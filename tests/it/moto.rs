//! moto's server (PyPI `moto[server]`), the standard emulator of AWS's APIs,
//! on a loopback port: DynamoDB and SQS on one endpoint, for the
//! `dynamodb` and `sqs` tests. `scripts/test` installs it under
//! `target/tools/moto` when it is missing.
//!
//! An emulator answers the APIs as AWS documents them, conditional writes
//! included; it cannot show AWS's throughput, its latency or its
//! consistency under partitions, and these tests do not claim them. moto
//! evaluates a condition and writes without a lock, so the server runs
//! through `moto_server.py`, which answers DynamoDB's requests one at a
//! time: the atomic conditional write DynamoDB documents.
//!
//! One server serves the whole run ([`Moto::shared`]): each test names its
//! own tables and queues ([`Moto::unique`]), so tests never share state.
//! A test that needs a server of its own starts one ([`Moto::start`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::servers::{Ready, Server, ServerSpec, Shared, http_answers};

/// Where `scripts/test` installs moto's server.
const MOTO_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/tools/moto/bin");

/// moto's server with DynamoDB's conditional writes made atomic.
const LAUNCHER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/moto_server.py");

/// What to install when the server cannot start.
const INSTALL: &str = "install moto's server with `scripts/test` (a virtualenv under target/tools/moto) \
                       or `pip install 'moto[server]'`";

/// moto's server, stopped when dropped.
pub(crate) struct Moto {
    server: Server,
}

static SHARED: Shared<Moto> = Shared::new();

impl Moto {
    /// A server of the test's own.
    pub(crate) fn start() -> Self {
        let spec = ServerSpec::new(
            // The virtualenv's Python, which has moto.
            "python3",
            INSTALL,
            |port| {
                vec![
                    LAUNCHER.into(),
                    "-H".into(),
                    "127.0.0.1".into(),
                    "-p".into(),
                    port.to_string(),
                ]
            },
            // Its dashboard's API answers once the server serves.
            Ready::Answers(Box::new(|address| {
                http_answers(address, "/moto-api/data.json", Some(200))
            })),
        )
        .in_dir(MOTO_DIR);
        Self {
            server: Server::start(spec),
        }
    }

    /// The server every test of the run shares.
    pub(crate) fn shared() -> &'static Self {
        SHARED.get(Self::start)
    }

    /// `http://127.0.0.1:port`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.address())
    }

    pub(crate) fn address(&self) -> SocketAddr {
        self.server.address()
    }

    /// The AWS SDK's configuration for this server: its endpoint, a region,
    /// and test credentials (moto checks none).
    pub(crate) async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new("eu-west-1"))
            .test_credentials()
            .load()
            .await
    }

    /// A name no other test of the run uses: `{prefix}-{pid}-{n}`.
    pub(crate) fn unique(prefix: &str) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        format!(
            "{prefix}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
    }
}

#[cfg(all(feature = "dynamodb", feature = "sqs"))]
#[tokio::test]
async fn moto_serves_dynamodb_and_sqs_on_one_port() {
    let moto = Moto::shared();
    let config = moto.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let tables = dynamodb.list_tables().send().await.unwrap();
    assert!(tables.table_names.is_some(), "{tables:?}");
    let sqs = aws_sdk_sqs::Client::new(&config);
    let name = Moto::unique("probe");
    let created = sqs.create_queue().queue_name(&name).send().await.unwrap();
    assert!(created.queue_url().unwrap().ends_with(&name), "{created:?}");
}
