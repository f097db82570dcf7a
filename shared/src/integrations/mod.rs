//! Clients of external services, each speaking the real wire protocol.

pub mod aws_tls;
pub mod bulk_queue;
pub mod fifo;
pub mod fuiou;
pub mod gateway;
pub mod import_queue;
pub mod kms;
pub mod pay_keys;
pub mod s3_events;
pub mod secrets;
pub mod webhooks;
pub mod wechat_pay;

/// Installs the rustls crypto provider (aws-lc, the one the AWS SDK already uses)
/// for every HTTP client of the process; call before building one. Idempotent.
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// Serves `app` on 127.0.0.1:`port` (0: any free port) in the background and
/// answers its base URL (the fake providers, tests).
pub async fn serve_local(app: axum::Router, port: u16) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

/// A plain HTTP client with the process's TLS provider installed.
pub fn http_client() -> reqwest::Client {
    install_tls_provider();
    reqwest::Client::new()
}
