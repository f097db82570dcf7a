//! `Idempotency-Key` on admin writes, on the store's Powertools-style records
//! (`store::idempotency`).
//!
//! A `POST`, `PUT`, `PATCH` or `DELETE` carrying `Idempotency-Key` runs once per
//! (account, key) for 24 hours. The first request claims the key, runs, and stores its
//! status, content type and body; a repeat of the same request (method, path, query
//! and body bytes) answers the stored response with `Idempotent-Replayed: true`, the
//! same key on a different request answers `1008`/422, and a repeat while the first
//! is still running answers `1009`/409.
//!
//! Successes and client errors are stored (they would answer the same again), except
//! the transient ones: `429` and `1056` ("retry shortly"). Server errors release the
//! key, so a retry with it runs again. A response too large to keep
//! ([`MAX_STORED_BYTES`]) is recorded as executed without its body: a replay answers
//! `1061`/409. A process that dies mid-request (Lambda timeout, panic) leaves the
//! claim, which a repeat may take over once [`TTL`]'s in-progress time has passed.
//!
//! The layer runs inside the access check (`access::authorize`): it sees the
//! authenticated caller, so a replay needs the same live session and permission as
//! the first request, and public routes (login, token refresh) have no caller and
//! ignore the header. A request without the header passes through untouched, with
//! no table call.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::envelope::ApiError;
use crate::app::AppState;
use crate::codes::{Code, Text};
use crate::domain::caller::Caller;
use crate::store::idempotency::{account_key, Claim, ClaimToken, IdempotencyError, IdempotencyTtl};

/// The request header carrying the key (`Idempotency-Key`).
pub const KEY_HEADER: &str = "idempotency-key";
/// The response header marking a replayed response (`Idempotent-Replayed: true`).
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Longest accepted key, in characters (visible ASCII, `!` to `~`).
pub const MAX_KEY_LEN: usize = 255;
/// How long a key answers replays (24 h), and how long a claim blocks repeats before
/// it counts as crashed: 60 s, over twice the 29 s an API function may run
/// (`config::API_LAMBDA_TIMEOUT_SECS`), so a live first attempt is never taken over
/// and a dead one blocks its retries for a minute at most.
pub const TTL: IdempotencyTtl = IdempotencyTtl {
    completed: 24 * 60 * 60,
    in_progress: 60,
};
/// Largest stored response (its serialised record), well below DynamoDB's 400 KB
/// item limit; write responses are far smaller (request bodies stop at 64 KiB).
pub const MAX_STORED_BYTES: usize = 300 * 1024;
/// The codes the layer itself answers (besides the store's `1058`/`2002`).
pub const CODES: [Code; 4] = [
    Code::INVALID_PARAM,
    Code::IDEMPOTENCY_MISMATCH,
    Code::IDEMPOTENCY_IN_PROGRESS,
    Code::IDEMPOTENT_RESPONSE_NOT_KEPT,
];

/// A stored response.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    /// The body; `None` when it was too large to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
}

/// Whether requests of `method` take an `Idempotency-Key`.
pub fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// The fingerprint a repeat must match: method, path, query and body bytes.
pub fn request_hash(method: &Method, uri: &Uri, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    for part in [
        method.as_str().as_bytes(),
        uri.path().as_bytes(),
        uri.query().unwrap_or_default().as_bytes(),
    ] {
        hash.update(part);
        hash.update(b"\n");
    }
    hash.update(body);
    hex::encode(hash.finalize())
}

/// The route layer: runs a keyed write once and replays its response.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !is_write(req.method()) || !req.headers().contains_key(KEY_HEADER) {
        return next.run(req).await;
    }
    let Some(account) = req.extensions().get::<Caller>().map(|c| c.account_id) else {
        return next.run(req).await;
    };
    let key = match key_of(req.headers()) {
        Ok(key) => key,
        Err(e) => return e.into_response(),
    };
    let (parts, body) = req.into_parts();
    let bytes = match read_body(body, state.cfg.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(e) => return e.into_response(),
    };
    let hash = request_hash(&parts.method, &parts.uri, &bytes);
    let record = account_key(account, &key);
    let claimed = state
        .store
        .idempotency_claim(&record, &hash, state.clock.now(), TTL)
        .await;
    let token = match claimed {
        Ok(Claim::Proceed(token)) => token,
        Ok(Claim::Replay(stored)) => return replay(stored),
        Err(e) => return refused(e).into_response(),
    };
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let done = Done {
        state: &state,
        record: &record,
        hash: &hash,
        token: &token,
    };
    done.finish(res).await
}

/// The one valid `Idempotency-Key` of a request, or `1001`.
fn key_of(headers: &HeaderMap) -> Result<String, ApiError> {
    let mut values = headers.get_all(KEY_HEADER).iter();
    let key = match (values.next(), values.next()) {
        (Some(v), None) => v.as_bytes(),
        _ => {
            return Err(ApiError::invalid(
                "只能提供一个 Idempotency-Key 请求头",
                "send one Idempotency-Key header",
            ))
        }
    };
    let visible = key.iter().all(|b| (0x21..=0x7e).contains(b));
    if key.is_empty() || key.len() > MAX_KEY_LEN || !visible {
        return Err(ApiError::invalid(
            format!("Idempotency-Key 须为 1 至 {MAX_KEY_LEN} 个可见 ASCII 字符"),
            format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    Ok(String::from_utf8_lossy(key).into_owned())
}

/// The request body, up to `limit` bytes (`1003` above, as the body extractor).
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::new(Code::PAYLOAD_TOO_LARGE)
        } else {
            ApiError::invalid("请求体读取失败", "the request body could not be read")
        }
    })
}

/// The stored response, flagged as a replay.
fn replay(stored: serde_json::Value) -> Response {
    let stored: Stored = match serde_json::from_value(stored) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "unreadable idempotency record");
            return ApiError::new(Code::INTERNAL).into_response();
        }
    };
    let mut res = match stored.body {
        Some(body) => {
            let mut res = Body::from(body).into_response();
            *res.status_mut() =
                StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if let Some(v) = stored
                .content_type
                .and_then(|c| HeaderValue::from_str(&c).ok())
            {
                res.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            res
        }
        None => ApiError::new(Code::IDEMPOTENT_RESPONSE_NOT_KEPT).into_response(),
    };
    res.headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    res
}

/// The answer to a claim that failed.
fn refused(e: IdempotencyError) -> ApiError {
    match e {
        IdempotencyError::PayloadMismatch => ApiError::with_text(
            Code::IDEMPOTENCY_MISMATCH,
            Text::new(
                "该 Idempotency-Key 已用于另一个请求(方法、路径、查询参数或请求体不同)",
                "this Idempotency-Key was used for a different request \
                 (method, path, query or body differ)",
            ),
        ),
        IdempotencyError::InProgress => ApiError::with_text(
            Code::IDEMPOTENCY_IN_PROGRESS,
            Text::new(
                "使用该 Idempotency-Key 的请求仍在处理中,请稍后重试",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            ),
        ),
        IdempotencyError::Store(e) => {
            tracing::error!(error = ?e, "idempotency claim failed");
            ApiError::new(e.code())
        }
    }
}

/// A claimed key whose request has run.
struct Done<'a> {
    state: &'a AppState,
    record: &'a str,
    hash: &'a str,
    token: &'a ClaimToken,
}

impl Done<'_> {
    /// Stores `res` (or releases the key when it is not kept) and answers it.
    async fn finish(self, res: Response) -> Response {
        let (parts, body) = res.into_parts();
        let bytes = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::error!(error = %e, "response body unreadable");
                self.release().await;
                return ApiError::new(Code::INTERNAL).into_response();
            }
        };
        if kept(parts.status, &bytes) {
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            self.complete(stored(parts.status, content_type, &bytes))
                .await;
        } else {
            self.release().await;
        }
        Response::from_parts(parts, Body::from(bytes))
    }

    async fn complete(&self, stored: serde_json::Value) {
        let store = &self.state.store;
        let now = self.state.clock.now();
        let done = store
            .idempotency_complete(self.record, self.hash, self.token, &stored, now, TTL)
            .await;
        if let Err(e) = done {
            // The work is done; its answer still goes out. A claim taken over stored
            // nothing; otherwise the claim lapses after its in-progress time.
            tracing::error!(error = ?e, "idempotency record not completed");
        }
    }

    async fn release(&self) {
        let store = &self.state.store;
        if let Err(e) = store.idempotency_release(self.record, self.token).await {
            tracing::error!(error = ?e, "idempotency claim not released");
        }
    }
}

/// Whether a response is stored for replays: successes and client errors, except
/// those that say "retry later" (`429`, `1056`).
fn kept(status: StatusCode, body: &[u8]) -> bool {
    if status.is_success() {
        return true;
    }
    if !status.is_client_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return false;
    }
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_u64()));
    code != Some(u64::from(Code::GRANT_IN_PROGRESS.0))
}

/// The record of a response: its body when it fits in [`MAX_STORED_BYTES`].
fn stored(status: StatusCode, content_type: Option<&str>, body: &[u8]) -> serde_json::Value {
    let mut record = Stored {
        status: status.as_u16(),
        content_type: content_type.map(str::to_string),
        body: std::str::from_utf8(body).ok().map(str::to_string),
    };
    let fits = serde_json::to_string(&record).is_ok_and(|s| s.len() <= MAX_STORED_BYTES);
    if !fits {
        tracing::warn!(
            status = record.status,
            bytes = body.len(),
            "response too large to keep for replays"
        );
        record.body = None;
    }
    serde_json::to_value(&record).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(KEY_HEADER, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert_eq!(key_of(&headers(&[b"a-1_~!"])).unwrap(), "a-1_~!");
        let longest = "k".repeat(MAX_KEY_LEN);
        assert_eq!(key_of(&headers(&[longest.as_bytes()])).unwrap(), longest);
        let too_long = "k".repeat(MAX_KEY_LEN + 1);
        for bad in [
            &[b"" as &[u8]][..],
            &[too_long.as_bytes()],
            &[b"a b"],
            &[b"a\tb"],
            &[b"caf\xc3\xa9"],
            &[b"a", b"b"],
        ] {
            let e = key_of(&headers(bad)).unwrap_err();
            assert_eq!(e.code, Code::INVALID_PARAM, "{bad:?}");
        }
    }

    #[test]
    fn the_hash_covers_method_path_query_and_body() {
        let uri: Uri = "/things?x=1".parse().unwrap();
        let base = request_hash(&Method::POST, &uri, b"{}");
        assert_eq!(base, request_hash(&Method::POST, &uri, b"{}"));
        let other: Uri = "/things?x=2".parse().unwrap();
        let path: Uri = "/others?x=1".parse().unwrap();
        for different in [
            request_hash(&Method::PUT, &uri, b"{}"),
            request_hash(&Method::POST, &other, b"{}"),
            request_hash(&Method::POST, &path, b"{}"),
            request_hash(&Method::POST, &uri, b"{ }"),
        ] {
            assert_ne!(base, different);
        }
    }

    #[test]
    fn successes_and_lasting_client_errors_are_kept() {
        let body = |code: Code| format!(r#"{{"code":{},"data":null}}"#, code.0);
        assert!(kept(StatusCode::OK, b"{}"));
        assert!(kept(StatusCode::ACCEPTED, b"{}"));
        let conflict = body(Code::VERSION_CONFLICT);
        assert!(kept(StatusCode::CONFLICT, conflict.as_bytes()));
        assert!(kept(StatusCode::BAD_REQUEST, b"not json"));
        let grant = body(Code::GRANT_IN_PROGRESS);
        assert!(!kept(StatusCode::CONFLICT, grant.as_bytes()));
        assert!(!kept(StatusCode::TOO_MANY_REQUESTS, b"{}"));
        assert!(!kept(StatusCode::INTERNAL_SERVER_ERROR, b"{}"));
        assert!(!kept(StatusCode::SERVICE_UNAVAILABLE, b"{}"));
    }

    #[test]
    fn large_responses_are_recorded_without_their_body() {
        let small = stored(StatusCode::OK, Some("application/json"), b"{\"a\":1}");
        assert_eq!(small["body"], "{\"a\":1}");
        assert_eq!(small["content_type"], "application/json");
        let large = vec![b'x'; MAX_STORED_BYTES];
        let large = stored(StatusCode::OK, None, &large);
        assert_eq!(large, serde_json::json!({"status": 200}));
        let r = replay(large);
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert_eq!(r.headers()[REPLAYED_HEADER], "true");
    }

    #[test]
    fn a_claim_outlives_the_longest_request() {
        let longest = crate::config::API_LAMBDA_TIMEOUT_SECS as i64;
        assert!(TTL.in_progress > 2 * longest);
        assert_eq!(TTL.completed, 86_400);
    }
}
