//! `admin-storage`: presigned upload and download URLs (api.md §10).

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::envelope::{ApiResult, Data, Envelope};
use super::extract::{Body, Query};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::caller::Caller;
use crate::services::imports;
use crate::services::storage::{self, DownloadUrl, UploadRequest, UploadUrl};

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-storage";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(upload_url, download_url))]
pub struct Doc;

/// Routes of the `admin-storage` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/storage/upload-url", post(upload_url))
        .route("/api/admin/storage/download-url", get(download_url))
}

/// A presigned upload URL for a file (imports and attachments).
#[utoipa::path(post, path = "/api/admin/storage/upload-url", operation_id = "storage_upload_url", tag = TAG,
    request_body = UploadRequest,
    responses((status = 200, body = Envelope<UploadUrl>)),
    extensions(("x-codes" = json!([C::TOO_MANY_REQUESTS.0]))))]
async fn upload_url(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<UploadRequest>,
) -> ApiResult<UploadUrl> {
    Ok(Data(imports::upload_url(&st, &caller, req).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DownloadQuery {
    /// Key of an object the caller may read.
    file_key: String,
}

/// A presigned download URL for a file the caller may read.
#[utoipa::path(get, path = "/api/admin/storage/download-url", operation_id = "storage_download_url", tag = TAG,
    params(DownloadQuery),
    responses((status = 200, body = Envelope<DownloadUrl>)))]
async fn download_url(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<DownloadQuery>,
) -> ApiResult<DownloadUrl> {
    Ok(Data(
        storage::download_url(&st, &caller, &q.file_key).await?,
    ))
}
