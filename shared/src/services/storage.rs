//! Presigned S3 URLs for uploads (imports) and downloads (api.md §10), and the files
//! the system writes itself (bulk task results, under `results/`).
//!
//! Uploads land under `uploads/<purpose>/<account id>/<uuid>/<file name>`, so a
//! caller can only register imports of files it uploaded itself. An import
//! registered before its upload (`services::imports`) is uploaded to
//! `imports/<task id>.csv` instead, whose arrival starts the task. The presigned PUT
//! signs the content type and, when the caller gives the file's `size`, the exact
//! content length (bounded by `max_upload_bytes`). Without a size the length is not
//! signed; the import worker then refuses an object above `max_upload_bytes` before
//! reading it.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::codes::BusinessError;
use crate::codes::Code;
use crate::domain::assets::IMPORT_OBJECT_PREFIX;
use crate::domain::caller::{Caller, NotAllowed, ANY_ADMIN};
use crate::domain::validate::Invalid;
use crate::store::keys;

/// Window of the per-account upload-URL limit (`CMP_UPLOAD_URL_LIMIT` per window).
pub const UPLOAD_URL_WINDOW_SECS: i64 = 60;

/// How long presigned URLs stay valid.
pub const URL_TTL_SECS: u64 = 900;

/// Content types accepted for uploads.
pub const CONTENT_TYPES: &[&str] = &["text/csv", "application/vnd.ms-excel", "text/plain"];

/// Failures of storage use cases.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("insufficient permission")]
    NotAllowed(#[from] NotAllowed),
    #[error("file not found")]
    NotFound,
    #[error("storage error: {0}")]
    S3(String),
    #[error("too many upload URLs, try again later")]
    TooMany,
    #[error(transparent)]
    Unavailable(#[from] crate::app::Unavailable),
}

impl BusinessError for StorageError {
    fn detail(&self) -> Option<crate::codes::Text> {
        match self {
            StorageError::Invalid(i) => Some(i.text().clone()),
            _ => None,
        }
    }

    fn code(&self) -> Code {
        match self {
            StorageError::Invalid(_) => Code::INVALID_PARAM,
            StorageError::NotAllowed(_) => Code::FORBIDDEN,
            StorageError::NotFound => Code::NOT_FOUND,
            StorageError::S3(_) | StorageError::Unavailable(_) => Code::INTERNAL,
            StorageError::TooMany => Code::TOO_MANY_REQUESTS,
        }
    }
}

/// What an upload is for.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    IotCardImport,
    DeviceImport,
    Export,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::IotCardImport => "iot_card_import",
            Purpose::DeviceImport => "device_import",
            Purpose::Export => "export",
        }
    }
}

/// `POST /api/admin/storage/upload-url` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UploadRequest {
    pub file_name: String,
    pub content_type: Option<String>,
    /// Exact size of the file in bytes, signed into the URL when given (not in
    /// api.md §10; optional).
    pub size: Option<i64>,
    pub purpose: Purpose,
    /// With an import purpose: register the import task now, with these settings;
    /// the URL then uploads to `imports/<task id>.csv` and the upload starts the
    /// task (`file_name` is not used). Without it: a plain upload under the caller's
    /// prefix, to be registered with `file_key` afterwards.
    pub import: Option<crate::services::imports::ImportSettings>,
}

/// A presigned upload.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UploadUrl {
    pub upload_url: String,
    /// Always `PUT`.
    pub method: String,
    /// Headers the upload must send as given (they are signed).
    pub headers: BTreeMap<String, String>,
    pub file_key: String,
    pub content_type: String,
    pub expires_in: u64,
    /// The import task registered for the upload (`import` in the request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<u64>,
    /// Its number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_no: Option<String>,
}

/// A presigned PUT of one object: where and how to send the file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PresignedPut {
    /// The URL to send the file to.
    pub url: String,
    /// Always `PUT`.
    pub method: String,
    /// Headers the upload must send as given (they are signed): `content-type`,
    /// `content-length` when the size was given, `if-none-match: *` when the object
    /// may only be created (an import's file).
    pub headers: BTreeMap<String, String>,
    /// Key of the object the upload creates.
    pub file_key: String,
    /// Seconds the URL stays valid.
    pub expires_in: u64,
    /// When it expires (RFC 3339).
    pub expires_at: String,
}

impl PresignedPut {
    /// The answer of `upload-url` for this upload.
    pub fn into_upload_url(self, content_type: String) -> UploadUrl {
        UploadUrl {
            upload_url: self.url,
            method: self.method,
            headers: self.headers,
            file_key: self.file_key,
            content_type,
            expires_in: self.expires_in,
            task_id: None,
            task_no: None,
        }
    }
}

/// What an upload will send, checked: its content type and, when given, its size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadSpec {
    /// A CSV content type ([`CONTENT_TYPES`]).
    pub content_type: String,
    /// Exact size in bytes (1..=`max_upload_bytes`), signed when given.
    pub size: Option<i64>,
}

impl UploadSpec {
    /// Checks the content type (default `text/csv`) and size against `max` bytes.
    pub fn check(
        content_type: Option<String>,
        size: Option<i64>,
        max: i64,
    ) -> Result<Self, Invalid> {
        let content_type = content_type.unwrap_or_else(|| "text/csv".into());
        if !CONTENT_TYPES.contains(&content_type.as_str()) {
            return Err(Invalid::new(
                format!("content_type须为以下之一: {}", CONTENT_TYPES.join(", ")),
                format!("content_type must be one of {}", CONTENT_TYPES.join(", ")),
            ));
        }
        if size.is_some_and(|size| size <= 0 || size > max) {
            return Err(Invalid::new(
                format!("size须为1-{max}字节"),
                format!("size must be 1..={max} bytes"),
            ));
        }
        Ok(Self { content_type, size })
    }
}

/// A presigned download.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DownloadUrl {
    pub download_url: String,
    pub expires_in: u64,
}

/// Key prefix of a caller's uploads for `purpose`.
pub fn caller_prefix(caller: &Caller, purpose: Purpose) -> String {
    format!("uploads/{}/{}/", purpose.as_str(), caller.account_id)
}

/// Counts one upload URL against the caller's per-minute limit (`TooMany` above it).
pub async fn count_upload_url(state: &AppState, caller: &Caller) -> Result<(), StorageError> {
    let allowed = state
        .store
        .hit_rate_limit(
            &keys::upload_scope(caller.account_id),
            state.cfg.upload_url_limit,
            UPLOAD_URL_WINDOW_SECS,
            state.clock.now(),
        )
        .await
        .map_err(|e| StorageError::S3(e.to_string()))?;
    if allowed {
        Ok(())
    } else {
        Err(StorageError::TooMany)
    }
}

/// Presigns a PUT of one file under the caller's prefix (an upload to register
/// with `file_key` afterwards). Requests with `import` are answered by
/// `services::imports::upload_url`.
pub async fn upload_url(
    state: &AppState,
    caller: &Caller,
    req: UploadRequest,
) -> Result<UploadUrl, StorageError> {
    caller.require(ANY_ADMIN)?;
    let name: String = req
        .file_name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.len() > 100 {
        return Err(Invalid::new(
            "file_name须为1-100个字符",
            "file_name must be 1-100 characters",
        )
        .into());
    }
    let spec = UploadSpec::check(req.content_type, req.size, state.cfg.max_upload_bytes)?;
    count_upload_url(state, caller).await?;
    let key = format!(
        "{}{}/{name}",
        caller_prefix(caller, req.purpose),
        uuid::Uuid::new_v4().simple()
    );
    let put = presign_put(state, &key, &spec, false).await?;
    Ok(put.into_upload_url(spec.content_type))
}

/// Presigns a PUT of `key` as `spec` says (content type, and length when known).
/// With `create_only` the PUT also signs `If-None-Match: *`: it can create the
/// object once and never replace it (a second upload to the URL fails with 412).
pub async fn presign_put(
    state: &AppState,
    key: &str,
    spec: &UploadSpec,
    create_only: bool,
) -> Result<PresignedPut, StorageError> {
    let presigned = state
        .s3()?
        .put_object()
        .bucket(&state.cfg.bucket)
        .key(key)
        .content_type(&spec.content_type)
        .set_content_length(spec.size)
        .set_if_none_match(create_only.then(|| "*".to_string()))
        .presigned(presigning()?)
        .await
        .map_err(|e| StorageError::S3(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))?;
    let mut headers = BTreeMap::new();
    headers.insert("content-type".to_string(), spec.content_type.clone());
    if let Some(size) = spec.size {
        headers.insert("content-length".to_string(), size.to_string());
    }
    if create_only {
        headers.insert("if-none-match".to_string(), "*".to_string());
    }
    Ok(PresignedPut {
        url: presigned.uri().to_string(),
        method: "PUT".into(),
        headers,
        file_key: key.to_string(),
        expires_in: URL_TTL_SECS,
        expires_at: crate::clock::rfc3339(state.clock.now() + URL_TTL_SECS as i64),
    })
}

/// Presigns a GET of a file the caller uploaded (platform staff: any upload, and
/// any import's file under `imports/`).
pub async fn download_url(
    state: &AppState,
    caller: &Caller,
    file_key: &str,
) -> Result<DownloadUrl, StorageError> {
    caller.require(ANY_ADMIN)?;
    let own = [
        Purpose::IotCardImport,
        Purpose::DeviceImport,
        Purpose::Export,
    ]
    .iter()
    .any(|p| file_key.starts_with(&caller_prefix(caller, *p)));
    let platform_file = ["uploads/", IMPORT_OBJECT_PREFIX]
        .iter()
        .any(|p| file_key.starts_with(p));
    if !(own || caller.is_platform() && platform_file) || file_key.contains("..") {
        return Err(StorageError::NotFound);
    }
    presigned_download(state, file_key).await
}

/// Presigns a GET of the object at `key` once it is known to exist (`NotFound`
/// otherwise); who may read it is the caller's to check.
pub async fn presigned_download(state: &AppState, key: &str) -> Result<DownloadUrl, StorageError> {
    exists(state, key).await?;
    let presigned = state
        .s3()?
        .get_object()
        .bucket(&state.cfg.bucket)
        .key(key)
        .presigned(presigning()?)
        .await
        .map_err(|e| StorageError::S3(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))?;
    Ok(DownloadUrl {
        download_url: presigned.uri().to_string(),
        expires_in: URL_TTL_SECS,
    })
}

/// Stores `body` at `key` (a file the system writes, such as a bulk task's results).
pub async fn put_object(
    state: &AppState,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Result<(), StorageError> {
    state
        .s3()?
        .put_object()
        .bucket(&state.cfg.bucket)
        .key(key)
        .content_type(content_type)
        .body(body.into())
        .send()
        .await
        .map_err(|e| StorageError::S3(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))?;
    Ok(())
}

/// Fails with `NotFound` unless the object exists.
pub async fn exists(state: &AppState, file_key: &str) -> Result<(), StorageError> {
    match state
        .s3()?
        .head_object()
        .bucket(&state.cfg.bucket)
        .key(file_key)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => {
            Err(StorageError::NotFound)
        }
        Err(e) => Err(StorageError::S3(
            aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
        )),
    }
}

fn presigning() -> Result<PresigningConfig, StorageError> {
    PresigningConfig::expires_in(Duration::from_secs(URL_TTL_SECS))
        .map_err(|e| StorageError::S3(e.to_string()))
}
