//! Import tasks: registering them and reading their progress (api.md §7–§8,
//! jobs.md J16–J17). The work itself is done by `jobs::import`.
//!
//! A task is registered either before its upload (no `file_key`: status
//! `awaiting_upload`, answered with a presigned PUT of `imports/<task id>.csv`,
//! whose arrival starts the task, see `jobs::import::arrival`) or, as before, with
//! the `file_key` of a file the caller already uploaded under its own prefix
//! (status `pending`, first chunk queued at once).

use serde::{Deserialize, Serialize};

use super::assets::AssetError;
use super::storage::{
    self, caller_prefix, PresignedPut, Purpose, UploadRequest, UploadSpec, UploadUrl,
};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::{import_object_key, FailedItem, ImportStatus, ImportTask, ImportType};
use crate::domain::caller::{Caller, SA_PL};
use crate::domain::entities::{Carrier, Shop};
use crate::domain::validate::{self, Invalid};
use crate::paging::{CursorPage, PageQuery};
use crate::store::keys;

/// `POST /api/admin/iot-cards/import` and `/devices/import` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateImport {
    /// Key of a file already uploaded (`POST /api/admin/storage/upload-url` without
    /// `import`): the task starts at once. Without it the task is registered first
    /// and the answer carries the upload to make.
    pub file_key: Option<String>,
    /// Cards: `cards` (default) or `virtual_no`; devices: `devices`.
    pub import_type: Option<ImportType>,
    pub batch_no: Option<String>,
    pub carrier_id: Option<u64>,
    /// Shop receiving the imported assets (default: platform stock).
    pub shop_id: Option<u64>,
    /// Without `file_key`: the upload's content type (default `text/csv`).
    pub content_type: Option<String>,
    /// Without `file_key`: the file's exact size in bytes, signed into the URL.
    pub size: Option<i64>,
}

/// The settings of an import registered with `POST /api/admin/storage/upload-url`
/// (its `import` field): those of [`CreateImport`] without the file.
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ImportSettings {
    /// Cards: `cards` (default) or `virtual_no`; devices: `devices`.
    pub import_type: Option<ImportType>,
    pub batch_no: Option<String>,
    pub carrier_id: Option<u64>,
    /// Shop receiving the imported assets (default: platform stock).
    pub shop_id: Option<u64>,
}

/// Answer of `POST /api/admin/iot-cards/import` and `/devices/import` (api.md §7).
#[derive(Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ImportCreated {
    pub task_id: u64,
    pub task_no: String,
    /// Registered before its upload only (a task registered with `file_key` is
    /// answered `{task_id, task_no}` as in api.md §7): `awaiting_upload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ImportStatus>,
    /// Registered before its upload only: the task's file, `imports/<task id>.csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_key: Option<String>,
    /// Registered before its upload only: the upload that starts the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<PresignedPut>,
}

/// A task with its rejected rows.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportTaskView {
    #[serde(flatten)]
    pub task: ImportTask,
    /// Rejected rows, in row order (at most [`MAX_FAILED_ITEMS`]).
    pub failed_items: Vec<FailedItem>,
}

/// Rejected rows returned with a task.
pub const MAX_FAILED_ITEMS: i32 = 1000;

/// Which route registers the import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportRoute {
    /// `/api/admin/iot-cards/import`.
    Cards,
    /// `/api/admin/devices/import`.
    Devices,
}

impl ImportRoute {
    /// Import types whose tasks the route shows.
    fn import_types(self) -> &'static [ImportType] {
        match self {
            ImportRoute::Cards => &[ImportType::Cards, ImportType::VirtualNo],
            ImportRoute::Devices => &[ImportType::Devices],
        }
    }
}

/// The import type a route registers (`import_type` must suit the route) and the
/// upload purpose of its files.
fn resolve(
    route: ImportRoute,
    import_type: Option<ImportType>,
) -> Result<(ImportType, Purpose), Invalid> {
    match (route, import_type) {
        (ImportRoute::Cards, None | Some(ImportType::Cards)) => {
            Ok((ImportType::Cards, Purpose::IotCardImport))
        }
        (ImportRoute::Cards, Some(ImportType::VirtualNo)) => {
            Ok((ImportType::VirtualNo, Purpose::IotCardImport))
        }
        (ImportRoute::Devices, None | Some(ImportType::Devices)) => {
            Ok((ImportType::Devices, Purpose::DeviceImport))
        }
        _ => Err(Invalid::new(
            "import_type与该接口不匹配",
            "import_type does not match this route",
        )),
    }
}

/// A new task of `import_type` for `file_key` with the checked settings (the
/// carrier and the shop exist), numbered by the next import id.
async fn new_task(
    state: &AppState,
    caller: &Caller,
    import_type: ImportType,
    settings: ImportSettings,
    file_key: impl FnOnce(u64) -> String,
) -> Result<ImportTask, AssetError> {
    let store = &state.store;
    let batch_no = validate::opt_text("batch_no", settings.batch_no.as_deref(), 50)?;
    if let Some(cid) = settings.carrier_id {
        let carrier: Option<Carrier> = store.live_entity(&keys::carrier(cid)).await?;
        carrier.ok_or_else(|| {
            Invalid::new(
                "carrier_id对应的运营商不存在",
                "carrier_id names no carrier",
            )
        })?;
    }
    if let Some(sid) = settings.shop_id {
        let shop: Option<Shop> = store.live_entity(&keys::shop(sid)).await?;
        shop.ok_or(AssetError::NotFound("shop"))?;
    }
    let id = store.next_id("import").await?;
    let now = state.clock.now();
    Ok(ImportTask {
        carrier_id: settings.carrier_id,
        batch_no,
        shop_id: settings.shop_id,
        ..ImportTask::new(
            id,
            import_type,
            file_key(id),
            caller.account_id,
            rfc3339(now),
        )
    })
}

/// Registers an import: before its upload without `file_key` ([`register`]),
/// otherwise the uploaded file, whose first chunk is queued at once.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    route: ImportRoute,
    req: CreateImport,
) -> Result<ImportCreated, AssetError> {
    caller.require(SA_PL)?;
    let settings = ImportSettings {
        import_type: req.import_type,
        batch_no: req.batch_no,
        carrier_id: req.carrier_id,
        shop_id: req.shop_id,
    };
    let Some(file_key) = req.file_key else {
        let spec = UploadSpec::check(req.content_type, req.size, state.cfg.max_upload_bytes)?;
        let (task, upload) = register(state, caller, route, settings, &spec).await?;
        return Ok(ImportCreated {
            task_id: task.id,
            task_no: task.task_no,
            status: Some(task.status),
            file_key: Some(task.file_key),
            upload: Some(upload),
        });
    };
    let (import_type, purpose) = resolve(route, settings.import_type)?;
    if !file_key.starts_with(&caller_prefix(caller, purpose)) || file_key.contains("..") {
        return Err(Invalid::new(
            "file_key必须是您为此用途上传的文件",
            "file_key must be a file you uploaded for this purpose",
        )
        .into());
    }
    storage::exists(state, &file_key).await?;
    let task = new_task(state, caller, import_type, settings, |_| file_key).await?;
    let store = &state.store;
    store.create_import_task(&task).await?;
    let id = task.id;
    let queued = match state.import_queue() {
        Ok(queue) => queue.send(id, 0).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = queued {
        // Never leave a task that nothing will process.
        tracing::error!(task_id = id, error = %e, "could not queue import task");
        let reason = "could not be queued; create the import again";
        store
            .fail_import_task(&task, reason, state.clock.now())
            .await?;
        return Err(AssetError::Store(crate::store::StoreError::Dynamo(e)));
    }
    tracing::info!(task_id = id, ?import_type, "import task created");
    Ok(ImportCreated {
        task_id: task.id,
        task_no: task.task_no,
        status: None,
        file_key: None,
        upload: None,
    })
}

/// Registers an import of `route` before its upload: the task, `awaiting_upload`,
/// and the presigned PUT of its file `imports/<task id>.csv` (counted against the
/// caller's upload-URL limit). The file's arrival starts the task; a task whose
/// file never arrives is failed by the sweep once the URL has long expired.
pub async fn register(
    state: &AppState,
    caller: &Caller,
    route: ImportRoute,
    settings: ImportSettings,
    spec: &UploadSpec,
) -> Result<(ImportTask, PresignedPut), AssetError> {
    caller.require(SA_PL)?;
    let (import_type, _) = resolve(route, settings.import_type)?;
    storage::count_upload_url(state, caller).await?;
    let task = ImportTask {
        status: ImportStatus::AwaitingUpload,
        ..new_task(state, caller, import_type, settings, import_object_key).await?
    };
    // Created once: a second upload to the URL cannot replace the file being read.
    let upload = storage::presign_put(state, &task.file_key, spec, true).await?;
    state.store.create_import_task(&task).await?;
    tracing::info!(
        task_id = task.id,
        ?import_type,
        "import task registered, awaiting its upload"
    );
    Ok((task, upload))
}

/// `POST /api/admin/storage/upload-url`: with `import` (and an import purpose),
/// registers the import task and presigns its file's upload ([`register`]); without,
/// a plain upload ([`storage::upload_url`]).
pub async fn upload_url(
    state: &AppState,
    caller: &Caller,
    mut req: UploadRequest,
) -> Result<UploadUrl, AssetError> {
    let Some(settings) = req.import.take() else {
        return Ok(storage::upload_url(state, caller, req).await?);
    };
    let route = match req.purpose {
        Purpose::IotCardImport => ImportRoute::Cards,
        Purpose::DeviceImport => ImportRoute::Devices,
        Purpose::Export => {
            return Err(Invalid::new(
                "仅导入用途可登记导入任务",
                "import is only for an import purpose",
            )
            .into())
        }
    };
    let spec = UploadSpec::check(req.content_type, req.size, state.cfg.max_upload_bytes)?;
    let (task, upload) = register(state, caller, route, settings, &spec).await?;
    Ok(UploadUrl {
        task_id: Some(task.id),
        task_no: Some(task.task_no),
        ..upload.into_upload_url(spec.content_type)
    })
}

/// One task of the route's kind with its rejected rows.
pub async fn get(
    state: &AppState,
    caller: &Caller,
    route: ImportRoute,
    id: u64,
) -> Result<ImportTaskView, AssetError> {
    caller.require(SA_PL)?;
    let store = &state.store;
    let task = store
        .import_task(id)
        .await?
        .ok_or(AssetError::NotFound("import task"))?;
    if !route.import_types().contains(&task.import_type) {
        return Err(AssetError::NotFound("import task"));
    }
    let failed_items = store.import_failures(id, MAX_FAILED_ITEMS).await?;
    Ok(ImportTaskView { task, failed_items })
}

/// One page of the tasks of the route's kind, newest first: one Query per import
/// type the route shows (at most 2). Tasks keep no count: no total, `has_more`.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    route: ImportRoute,
    page: &PageQuery,
) -> Result<CursorPage<ImportTask>, AssetError> {
    caller.require(SA_PL)?;
    let (cursor, size) = page.parse()?;
    Ok(state
        .store
        .import_task_page(route.import_types(), size, &cursor)
        .await?)
}
