//! JSON `tracing` logs. Every request runs inside a span carrying its request id.

use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber once per process (`RUST_LOG`, default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .try_init();
}
