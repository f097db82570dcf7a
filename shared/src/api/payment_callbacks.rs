//! `payment-callbacks`: the payment providers' notifications (api.md §24), public.
//! Answers are the providers' own formats, not the envelope: WeChat Pay v3 (200 with
//! an empty body, or 4xx/5xx with `{"code":"FAIL","message":…}`) and Fuiou (GBK XML
//! with `result_code`). Bodies are limited to 16 KiB and each client IP to
//! [`PER_IP_PER_MINUTE`] notifications a minute.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use super::extract::ClientIp;
use crate::app::AppState;
use crate::services::callbacks::{self, Answer};

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "payment-callbacks";

/// Largest notification accepted (real ones are a few hundred bytes).
pub const MAX_NOTIFICATION_BYTES: usize = 16 * 1024;

/// Notifications accepted per client IP and minute.
pub const PER_IP_PER_MINUTE: i64 = 600;

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(wechat_pay, fuiou_pay))]
pub struct Doc;

/// Routes of the `payment-callbacks` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/callback/wechat-pay", post(wechat_pay))
        .route("/api/callback/fuiou-pay", post(fuiou_pay))
        .layer(DefaultBodyLimit::max(MAX_NOTIFICATION_BYTES))
}

fn respond(a: Answer) -> Response {
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if a.body.is_empty() {
        return status.into_response();
    }
    (status, [(header::CONTENT_TYPE, a.content_type)], a.body).into_response()
}

/// Whether `ip` may send another notification this minute.
async fn admitted(st: &AppState, ip: &str) -> bool {
    let scope = crate::store::keys::callback_ip_scope(ip);
    match st
        .store
        .hit_rate_limit(&scope, PER_IP_PER_MINUTE, 60, st.clock.now())
        .await
    {
        Ok(ok) => ok,
        // The limiter's own failure never drops a payment.
        Err(e) => {
            tracing::warn!(error = %e, "callback rate limit unavailable");
            true
        }
    }
}

/// A WeChat Pay notification (signed, resource AES-256-GCM encrypted).
#[utoipa::path(post, path = "/api/callback/wechat-pay", operation_id = "wechat_pay_callback", tag = TAG,
    request_body(content = String, content_type = "application/json", description = "WeChat Pay v3 notification"),
    responses(
        (status = 200, description = "Accepted (empty body)"),
        (status = 400, description = "Refused: does not verify or match", content_type = "application/json"),
        (status = 429, description = "Too many notifications from this address"),
        (status = 500, description = "Not applied now; WeChat Pay redelivers", content_type = "application/json")),
    extensions(("x-codes" = json!([])), ("x-provider-format" = json!(true))))]
async fn wechat_pay(
    State(st): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !admitted(&st, &ip.0).await {
        let (status, text) =
            crate::integrations::wechat_pay::answer_failure_with(429, "too many notifications");
        return respond(Answer {
            status,
            content_type: "application/json",
            body: text.into_bytes(),
        });
    }
    let lookup = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    respond(callbacks::wechat(&st, lookup, &body).await)
}

/// A Fuiou notification (form field `req`: GBK XML, MD5withRSA signed).
#[utoipa::path(post, path = "/api/callback/fuiou-pay", operation_id = "fuiou_pay_callback", tag = TAG,
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Fuiou notification"),
    responses(
        (status = 200, description = "Accepted: GBK XML acknowledgement with result_code 000000", content_type = "text/xml"),
        (status = 400, description = "Refused (does not parse, verify or match): GBK XML with a failing result_code", content_type = "text/xml"),
        (status = 429, description = "Too many notifications from this address"),
        (status = 500, description = "Not applied now; Fuiou notifies again", content_type = "text/xml")),
    extensions(("x-codes" = json!([])), ("x-provider-format" = json!(true))))]
async fn fuiou_pay(State(st): State<AppState>, ip: ClientIp, body: Bytes) -> Response {
    if !admitted(&st, &ip.0).await {
        let (_, bytes) = crate::integrations::fuiou::answer_failure("too many notifications");
        return respond(Answer {
            status: 429,
            content_type: "text/xml; charset=GBK",
            body: bytes,
        });
    }
    respond(callbacks::fuiou(&st, &body).await)
}
