//! Import tasks: registering an uploaded CSV and reading task progress (api.md §7–§8,
//! jobs.md J16–J17). The work itself is done by `jobs::import`.

use serde::{Deserialize, Serialize};

use super::assets::AssetError;
use super::storage::{self, caller_prefix, Purpose};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::{FailedItem, ImportTask, ImportType};
use crate::domain::caller::{Caller, SA_PL};
use crate::domain::entities::{Carrier, Shop};
use crate::domain::validate::{self, Invalid};
use crate::paging::{CursorPage, PageQuery};
use crate::store::keys;

/// `POST /api/admin/iot-cards/import` and `/devices/import` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateImport {
    /// Key returned by `POST /api/admin/storage/upload-url`.
    pub file_key: String,
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

/// Registers an uploaded file as an import task and queues its first chunk.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    route: ImportRoute,
    req: CreateImport,
) -> Result<ImportCreated, AssetError> {
    caller.require(SA_PL)?;
    let store = &state.store;
    let (import_type, purpose) = match (route, req.import_type) {
        (ImportRoute::Cards, None | Some(ImportType::Cards)) => {
            (ImportType::Cards, Purpose::IotCardImport)
        }
        (ImportRoute::Cards, Some(ImportType::VirtualNo)) => {
            (ImportType::VirtualNo, Purpose::IotCardImport)
        }
        (ImportRoute::Devices, None | Some(ImportType::Devices)) => {
            (ImportType::Devices, Purpose::DeviceImport)
        }
        _ => {
            return Err(Invalid::new(
                "import_type与该接口不匹配",
                "import_type does not match this route",
            )
            .into())
        }
    };
    if !req.file_key.starts_with(&caller_prefix(caller, purpose)) || req.file_key.contains("..") {
        return Err(Invalid::new(
            "file_key必须是您为此用途上传的文件",
            "file_key must be a file you uploaded for this purpose",
        )
        .into());
    }
    storage::exists(state, &req.file_key).await?;
    if let Some(cid) = req.carrier_id {
        let carrier: Option<Carrier> = store.live_entity(&keys::carrier(cid)).await?;
        carrier.ok_or_else(|| {
            Invalid::new(
                "carrier_id对应的运营商不存在",
                "carrier_id names no carrier",
            )
        })?;
    }
    if let Some(sid) = req.shop_id {
        let shop: Option<Shop> = store.live_entity(&keys::shop(sid)).await?;
        shop.ok_or(AssetError::NotFound("shop"))?;
    }
    let id = store.next_id("import").await?;
    let now = state.clock.now();
    let task = ImportTask {
        carrier_id: req.carrier_id,
        batch_no: validate::opt_text("batch_no", req.batch_no.as_deref(), 50)?,
        shop_id: req.shop_id,
        ..ImportTask::new(
            id,
            import_type,
            req.file_key,
            caller.account_id,
            rfc3339(now),
        )
    };
    store.create_import_task(&task).await?;
    let queued = match state.import_queue() {
        Ok(queue) => queue.send(id, 0).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = queued {
        // Never leave a task that nothing will process.
        tracing::error!(task_id = id, error = %e, "could not queue import task");
        let reason = "could not be queued; create the import again";
        store.fail_import_task(&task, reason, now).await?;
        return Err(AssetError::Store(crate::store::StoreError::Dynamo(e)));
    }
    tracing::info!(task_id = id, ?import_type, "import task created");
    Ok(ImportCreated {
        task_id: task.id,
        task_no: task.task_no,
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
