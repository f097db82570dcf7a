//! The carrier gateway client (carrier-gateway.md §2–§4): `{"params": ...}` wrapped,
//! encrypted once per logical request, signed with a fresh 10-digit timestamp per
//! attempt; only network errors and timeouts are retried (at most `max_retries`,
//! waiting 100 ms then 200 ms, capped at 300 ms: [`backoff`]).

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::crypto::GatewayCrypto;
use crate::clock::Clock;
use crate::codes::BusinessError;
use crate::codes::Code;

/// Wait before retry number `retry` (1-based): 100 ms, 200 ms, then 300 ms.
pub fn backoff(retry: u32) -> Duration {
    let shift = retry.saturating_sub(1).min(8);
    Duration::from_millis((100u64 << shift).min(300))
}

/// Longest one logical call can take: every attempt times out and every back-off is
/// waited (`attempts × attempt_timeout + Σ backoff`).
pub fn worst_case(attempt_timeout: Duration, max_retries: u32) -> Duration {
    let waits: Duration = (1..=max_retries).map(backoff).sum();
    attempt_timeout * (max_retries + 1) + waits
}

/// Where and how to reach the gateway.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Base URL; request URL = base + path.
    pub base_url: String,
    /// App id sent in every envelope.
    pub app_id: String,
    /// Timeout of one attempt (short on synchronous API routes: API Gateway answers
    /// within 29 s, so 3 attempts must fit).
    pub attempt_timeout: Duration,
    /// Retries after the first attempt (network errors and timeouts only).
    pub max_retries: u32,
}

/// Why a gateway call failed.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum GatewayError {
    /// Connection refused/reset, DNS failure...: retried.
    #[error("gateway request failed: {0}")]
    Network(String),
    /// The attempt exceeded its timeout: retried.
    #[error("gateway request timed out")]
    Timeout,
    /// HTTP status other than 200: not retried.
    #[error("gateway HTTP status {0}")]
    Status(u16),
    /// Unreadable body or envelope/data that does not parse: not retried.
    #[error("invalid gateway response: {0}")]
    InvalidResponse(String),
    /// Envelope `code != 200`: not retried; the upstream message is shown to admins.
    #[error("gateway business error: code={code}, msg={msg}")]
    Business { code: i64, msg: String },
}

impl GatewayError {
    /// Whether another attempt may succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, GatewayError::Network(_) | GatewayError::Timeout)
    }
}

impl BusinessError for GatewayError {
    fn code(&self) -> Code {
        match self {
            GatewayError::Timeout => Code::GATEWAY_TIMEOUT,
            GatewayError::InvalidResponse(_) => Code::GATEWAY_INVALID_RESPONSE,
            _ => Code::GATEWAY_ERROR,
        }
    }

    /// Gateway failures carry the upstream reason, which admins need to see.
    fn shows_message(&self) -> bool {
        true
    }

    /// The source's own wording of each failure (domain.md §8) with its detail.
    fn detail(&self) -> Option<crate::codes::Text> {
        let zh = match self {
            GatewayError::Network(e) => format!("发送 HTTP 请求失败: {e}"),
            GatewayError::Timeout => "Gateway 请求超时".to_string(),
            GatewayError::Status(s) => format!("HTTP 状态码异常: {s}"),
            GatewayError::InvalidResponse(e) => format!("解析 Gateway 响应失败: {e}"),
            GatewayError::Business { code, msg } => {
                format!("Gateway 业务错误: code={code}, msg={msg}")
            }
        };
        Some(crate::codes::Text::new(zh, self.to_string()))
    }
}

/// The request envelope.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub app_id: String,
    pub data: String,
    pub sign: String,
    pub timestamp: i64,
}

/// The response envelope.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub code: i64,
    #[serde(default)]
    pub msg: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// A gateway client; cheap to clone.
#[derive(Clone, Debug)]
pub struct GatewayClient {
    http: reqwest::Client,
    cfg: Arc<GatewayConfig>,
    crypto: Arc<dyn GatewayCrypto>,
    clock: Clock,
}

impl GatewayClient {
    /// A client with rustls (aws-lc) and the system's root certificates; fails only
    /// when the TLS backend cannot start.
    pub fn new(
        cfg: GatewayConfig,
        crypto: Arc<dyn GatewayCrypto>,
        clock: Clock,
    ) -> Result<Self, reqwest::Error> {
        crate::integrations::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(cfg.attempt_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()?;
        Ok(Self {
            http,
            cfg: Arc::new(cfg),
            crypto,
            clock,
        })
    }

    /// Longest one [`GatewayClient::call`] can take (see [`worst_case`]).
    pub fn worst_case(&self) -> Duration {
        worst_case(self.cfg.attempt_timeout, self.cfg.max_retries)
    }

    /// Calls `path` with `params`; decodes `data` into `R` (use `serde_json::Value`
    /// or `()`-like types for commands whose data is ignored).
    pub async fn call<P: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        params: &P,
    ) -> Result<R, GatewayError> {
        let wrapped = serde_json::to_vec(&serde_json::json!({ "params": params }))
            .map_err(|e| GatewayError::InvalidResponse(format!("cannot serialise params: {e}")))?;
        // Encrypted once; every attempt re-signs with a fresh timestamp.
        let data = self.crypto.encrypt(&wrapped);
        let url = format!("{}{path}", self.cfg.base_url.trim_end_matches('/'));
        let started = std::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            let timestamp = self.clock.now();
            let envelope = Envelope {
                app_id: self.cfg.app_id.clone(),
                sign: self.crypto.sign(&self.cfg.app_id, &data, timestamp),
                data: data.clone(),
                timestamp,
            };
            match self.attempt(&url, &envelope).await {
                Ok(reply) if reply.code == 200 => {
                    tracing::debug!(
                        path,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "gateway call done"
                    );
                    return serde_json::from_value(reply.data).map_err(|e| {
                        GatewayError::InvalidResponse(format!("cannot decode data: {e}"))
                    });
                }
                Ok(reply) => {
                    tracing::warn!(path, gateway_code = reply.code, gateway_msg = %reply.msg, "gateway business error");
                    return Err(GatewayError::Business {
                        code: reply.code,
                        msg: reply.msg,
                    });
                }
                Err(e) if e.retryable() && attempt < self.cfg.max_retries => {
                    attempt += 1;
                    let delay = backoff(attempt);
                    tracing::warn!(path, attempt, delay_ms = delay.as_millis() as u64, error = %e, "gateway call retried");
                    tokio::time::sleep(delay).await;
                }
                Err(e) => {
                    tracing::error!(path, elapsed_ms = started.elapsed().as_millis() as u64, error = %e, "gateway call failed");
                    return Err(e);
                }
            }
        }
    }

    async fn attempt(&self, url: &str, envelope: &Envelope) -> Result<Reply, GatewayError> {
        let res = self
            .http
            .post(url)
            .header("content-type", "application/json;charset=utf-8")
            .json(envelope)
            .send()
            .await
            .map_err(classify)?;
        if res.status().as_u16() != 200 {
            return Err(GatewayError::Status(res.status().as_u16()));
        }
        let bytes = res.bytes().await.map_err(|e| match classify(e) {
            GatewayError::Timeout => GatewayError::Timeout,
            other => GatewayError::InvalidResponse(other.to_string()),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| GatewayError::InvalidResponse(e.to_string()))
    }
}

fn classify(e: reqwest::Error) -> GatewayError {
    if e.is_timeout() {
        GatewayError::Timeout
    } else {
        GatewayError::Network(e.to_string())
    }
}
