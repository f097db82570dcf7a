//! A fake webhook receiver on 127.0.0.1 (tests, the local stack): it verifies each
//! POST's `X-CMP-Signature` against its secret, records what it received, and can be
//! told to fail the next deliveries.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

use crate::integrations::webhooks::{verify, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// One POST received.
#[derive(Clone, Debug)]
pub struct Received {
    /// `X-CMP-Event`.
    pub event: String,
    /// The body, parsed.
    pub body: serde_json::Value,
    /// Whether the signature verified.
    pub signature_ok: bool,
    /// Whether it was answered 2xx.
    pub accepted: bool,
}

#[derive(Default)]
struct Inner {
    secret: String,
    fail_next: u32,
    received: Vec<Received>,
}

/// A running receiver.
#[derive(Clone)]
pub struct FakeReceiver {
    /// Its webhook URL.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeReceiver {
    /// Starts a receiver on any free port, verifying with `secret` (set it later with
    /// [`FakeReceiver::set_secret`] when the secret is generated).
    pub async fn start(secret: &str) -> std::io::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner {
            secret: secret.into(),
            ..Default::default()
        }));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let base = crate::integrations::serve_local(app, 0).await?;
        Ok(Self {
            url: format!("{base}/hook"),
            inner,
        })
    }

    /// Verifies with `secret` from now on.
    pub fn set_secret(&self, secret: &str) {
        if let Ok(mut i) = self.inner.lock() {
            i.secret = secret.into();
        }
    }

    /// Answers the next `n` POSTs with HTTP 500.
    pub fn fail_next(&self, n: u32) {
        if let Ok(mut i) = self.inner.lock() {
            i.fail_next = n;
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner
            .lock()
            .map(|i| i.received.clone())
            .unwrap_or_default()
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let Ok(mut i) = inner.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    let timestamp = header(TIMESTAMP_HEADER).parse::<i64>().unwrap_or(-1);
    let signature_ok = verify(&i.secret, timestamp, &body, &header(SIGNATURE_HEADER));
    let failing = i.fail_next > 0;
    if failing {
        i.fail_next -= 1;
    }
    let accepted = signature_ok && !failing;
    i.received.push(Received {
        event: header(EVENT_HEADER),
        body: serde_json::from_slice(&body).unwrap_or_default(),
        signature_ok,
        accepted,
    });
    match (signature_ok, failing) {
        (false, _) => StatusCode::UNAUTHORIZED,
        (true, true) => StatusCode::INTERNAL_SERVER_ERROR,
        (true, false) => StatusCode::OK,
    }
}
