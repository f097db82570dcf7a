//! `admin-storage`: presigned upload and download URLs (api.md §10).

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::envelope::{ApiResult, Data};
use super::extract::{Body, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::services::imports;
use crate::services::storage::{self, DownloadUrl, UploadRequest, UploadUrl};

/// Routes of the `admin-storage` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/storage/upload-url", post(upload_url))
        .route("/api/admin/storage/download-url", get(download_url))
}

async fn upload_url(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<UploadRequest>,
) -> ApiResult<UploadUrl> {
    Ok(Data(imports::upload_url(&st, &caller, req).await?))
}

#[derive(Deserialize)]
struct DownloadQuery {
    file_key: String,
}

async fn download_url(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<DownloadQuery>,
) -> ApiResult<DownloadUrl> {
    Ok(Data(
        storage::download_url(&st, &caller, &q.file_key).await?,
    ))
}
