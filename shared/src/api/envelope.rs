//! The response envelope `{code, msg, data, timestamp}` and the one place where
//! errors become responses.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::clock::rfc3339;
use crate::codes::BusinessError;
use crate::codes::Code;

/// Every JSON response body.
#[derive(Debug, Serialize)]
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

/// An error response: a business code and a message safe to show the client.
#[derive(Debug)]
pub struct ApiError {
    /// Business code; decides the HTTP status.
    pub code: Code,
    /// Client-facing message.
    pub msg: String,
}

impl ApiError {
    /// An error with the code's default message.
    pub fn new(code: Code) -> Self {
        Self {
            code,
            msg: code.default_message().into(),
        }
    }

    /// An error with a specific message.
    pub fn with_msg(code: Code, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
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
            ApiError::with_msg(code, e.to_string())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.http_status();
        let body: Envelope<()> = Envelope {
            code: self.code.0,
            msg: self.msg,
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
