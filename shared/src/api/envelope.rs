//! The response envelope `{code, msg, data, timestamp}` and the one place where
//! errors become responses.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::clock::rfc3339;
use crate::codes::{BusinessError, Code, Lang, Text};

/// Every JSON response body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T: Serialize> {
    /// 0 on success, a business code otherwise.
    pub code: u32,
    /// `success` or the error message.
    pub msg: String,
    /// The payload (`null` on errors and for endpoints without a body).
    pub data: Option<T>,
    /// Server time, RFC 3339 in Asia/Shanghai.
    pub timestamp: String,
}

/// The `data` of a success that carries none (`null`); for the document only, the
/// handlers answer `Data(())`.
#[derive(Serialize)]
pub struct Nothing;

impl PartialSchema for Nothing {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Null).into()
    }
}

impl ToSchema for Nothing {}

/// A successful response carrying `data`.
pub struct Data<T: Serialize>(pub T);

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        let body = Envelope {
            code: Code::SUCCESS.0,
            msg: "success".into(),
            data: Some(self.0),
            timestamp: rfc3339(chrono::Utc::now().timestamp()),
        };
        (StatusCode::OK, Json(body)).into_response()
    }
}

/// A request accepted for later processing (202), carrying what will do it (a
/// bulk task), in the same envelope as a success.
pub struct Accepted<T: Serialize>(pub T);

impl<T: Serialize> IntoResponse for Accepted<T> {
    fn into_response(self) -> Response {
        let mut res = Data(self.0).into_response();
        *res.status_mut() = StatusCode::ACCEPTED;
        res
    }
}

/// An error response: a business code and a message safe to show the client, in
/// both languages (the request's language picks one when the response is written).
#[derive(Debug)]
pub struct ApiError {
    /// Business code; decides the HTTP status.
    pub code: Code,
    /// Client-facing message.
    pub text: Text,
}

impl ApiError {
    /// An error with the code's own message.
    pub fn new(code: Code) -> Self {
        Self {
            code,
            text: code.into(),
        }
    }

    /// An error with a specific message.
    pub fn with_text(code: Code, text: Text) -> Self {
        Self { code, text }
    }

    /// `1001`: the request is malformed; `zh`/`en` say how.
    pub fn invalid(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self::with_text(Code::INVALID_PARAM, Text::new(zh, en))
    }

    /// `1002`/404 for a path no route serves.
    pub fn no_route() -> Self {
        Self::with_text(Code::NOT_FOUND, Text::new("路由不存在", "no such route"))
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<Data<T>, ApiError>;

impl<E: BusinessError> From<E> for ApiError {
    fn from(e: E) -> Self {
        let code = e.code();
        if !e.shows_message() {
            // Internals go to the log with their cause chain, never to the client.
            tracing::error!(code = code.0, error = ?e, "request failed");
            ApiError::new(code)
        } else {
            ApiError::with_text(code, e.text())
        }
    }
}

tokio::task_local! {
    /// The language of the request being handled.
    static LANG: Lang;
}

/// Runs `f` (a request's handling) answering messages in `lang`.
pub async fn in_language<F: std::future::Future>(lang: Lang, f: F) -> F::Output {
    LANG.scope(lang, f).await
}

/// The language of the current request (Chinese outside one).
fn current_lang() -> Lang {
    LANG.try_with(|l| *l).unwrap_or_default()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.http_status();
        let body: Envelope<()> = Envelope {
            code: self.code.0,
            msg: self.text.get(current_lang()).to_string(),
            data: None,
            timestamp: rfc3339(chrono::Utc::now().timestamp()),
        };
        let mut res = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        }
        res
    }
}
