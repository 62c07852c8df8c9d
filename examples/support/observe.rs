//! What the example receivers report: logs on stderr through
//! `tracing-subscriber` (`RUST_LOG`, by default `info`), and the crate's
//! metrics for Prometheus on `GET /metrics`.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Logs to stderr, as `RUST_LOG` says (`info` when unset): stdout is kept for
/// the one JSON line per processed event.
pub(crate) fn log_to_stderr() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

/// Records the crate's metrics for `GET /metrics`, in Prometheus' text format.
pub(crate) fn record_metrics() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
        .install_recorder()
        .map_err(|err| format!("cannot record metrics: {err}"))
}
