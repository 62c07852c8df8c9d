//! The guide: running a receiver in production, one page per topic.
//!
//! The README is the front door (what the crate is, the quick start, one
//! server example); each integration's and each store's module says how it
//! works; these pages say how to put them together. They are the Markdown
//! files under `docs/guide/` in the repository, and their examples compile
//! as doc tests.
//!
//! - [`stores`]: processing each delivery once: in memory, on Redis or
//!   Valkey, on PostgreSQL, on DynamoDB; which store; completing inside
//!   your own transaction.
//! - [`inbox`]: answer now, process later: the PostgreSQL inbox, its
//!   workers and its command line.
//! - [`queues`]: answer now, process later on AWS: SQS, its worker as a
//!   process or in Lambda, the queue's settings and permissions.
//! - [`observability`]: the span, the metrics and the alerts of each
//!   delivery, and logging your handler's errors.
//! - [`registration`]: registering your endpoint with Yoco, from code or
//!   the command line.
//! - [`testing`]: signing events for your tests, sending them to your
//!   endpoint, Yoco's own test events on your machine (`listen`), signing
//!   by hand, and checking a store of your own.
//! - [`secrets`]: rotating secrets, the tolerance, live and test on one
//!   endpoint, and other senders.
//! - [`troubleshooting`]: why a request was refused with 401, named as a
//!   cause, from your handler or `yoco-webhooks doctor`.
//!
//! A page whose examples need features shows them when those features are
//! on, as on docs.rs, which builds with all of them.

/// One page: its Markdown file when the features its examples need are on,
/// else one line that names them.
macro_rules! page {
    ($name:ident, $features:meta, $summary:literal, $needs:literal) => {
        pub mod $name {
            #![cfg_attr($features, doc = include_str!(concat!("../docs/guide/", stringify!($name), ".md")))]
            #![cfg_attr(not($features), doc = concat!($summary, " Shown with ", $needs, " on, as on docs.rs."))]
        }
    };
}

page!(
    stores,
    all(
        feature = "axum",
        feature = "redis",
        feature = "postgres",
        feature = "dynamodb"
    ),
    "Processing each delivery once: in memory, on Redis or Valkey, on PostgreSQL, on DynamoDB.",
    "the features `axum`, `redis`, `postgres` and `dynamodb`"
);
page!(
    inbox,
    all(feature = "axum", feature = "postgres"),
    "Answer now, process later: the PostgreSQL inbox.",
    "the features `axum` and `postgres`"
);
page!(
    queues,
    all(feature = "axum", feature = "sqs", feature = "redis"),
    "Answer now, process later on AWS: SQS.",
    "the features `axum`, `sqs` and `redis`"
);
page!(
    observability,
    all(feature = "http"),
    "Watching it in production: the span, the metrics, the alerts.",
    "the feature `http`"
);
page!(
    registration,
    all(feature = "client"),
    "Registering your endpoint with Yoco.",
    "the feature `client`"
);
page!(
    testing,
    all(feature = "testing", feature = "axum"),
    "Testing your receiver.",
    "the features `testing` and `axum`"
);
page!(
    secrets,
    all(),
    "Secrets, tolerance, modes and other senders.",
    "no feature"
);
page!(
    troubleshooting,
    all(feature = "http", feature = "testing"),
    "Why a request was refused with 401: the diagnosis and `yoco-webhooks doctor`.",
    "the features `http` and `testing`"
);
