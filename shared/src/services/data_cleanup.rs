//! Data cleanup configurations, logs and run-now requests (api.md §23, jobs.md J3).
//! A configuration keeps items of its target for fewer days than their TTL does;
//! the daily job (`jobs::data_cleanup`) deletes what is older. A run-now request goes
//! through the tasks queue (`jobs::tasks`) to the same job.

use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::clock::rfc3339;
use crate::codes::{BusinessError, Code, Text};
use crate::config::JobQueue;
use crate::domain::caller::{Caller, NotAllowed, SA_PL};
use crate::domain::data_cleanup::{
    check_batch_size, check_retention, parse_target, DataCleanupConfig, DataCleanupLog,
};
use crate::domain::validate::Invalid;
use crate::integrations::fifo::QueueError;
use crate::paging::{CursorPage, PageQuery};
use crate::store::polling_configs::SlotRefusal;
use crate::store::StoreError;

/// Failures of data-cleanup use cases.
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("insufficient permission")]
    NotAllowed(#[from] NotAllowed),
    #[error("data cleanup config not found")]
    NotFound,
    #[error("the data kind already has a cleanup config")]
    Exists,
    #[error("the data cleanup config was changed concurrently")]
    Changed,
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BusinessError for CleanupError {
    fn code(&self) -> Code {
        match self {
            CleanupError::Invalid(_) => Code::INVALID_PARAM,
            CleanupError::NotAllowed(_) => Code::FORBIDDEN,
            CleanupError::NotFound => Code::CLEANUP_CONFIG_NOT_FOUND,
            CleanupError::Exists => Code::CLEANUP_CONFIG_EXISTS,
            CleanupError::Changed => Code::VERSION_CONFLICT,
            CleanupError::Queue(_) => Code::INTERNAL,
            CleanupError::Store(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<Text> {
        match self {
            CleanupError::Invalid(i) => Some(i.text().clone()),
            _ => None,
        }
    }
}

impl From<SlotRefusal> for CleanupError {
    fn from(r: SlotRefusal) -> Self {
        match r {
            SlotRefusal::Exists => CleanupError::Exists,
            SlotRefusal::Missing => CleanupError::NotFound,
            SlotRefusal::Changed => CleanupError::Changed,
        }
    }
}

/// Body of `POST /api/admin/data-cleanup-configs`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct CleanupConfigInput {
    /// The kind of items (see `CleanupTarget`).
    #[schema(value_type = crate::domain::data_cleanup::CleanupTarget)]
    pub target: String,
    /// Keep items this many days (1 up to the target's default retention).
    #[schema(minimum = 1)]
    pub retention_days: i64,
    pub enabled: bool,
    /// Items deleted per batch (25..=1000, default 500).
    #[schema(minimum = 25, maximum = 1000)]
    pub batch_size: Option<i64>,
}

/// Body of `PUT /api/admin/data-cleanup-configs/{id}`: given fields replace; the
/// target cannot change.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CleanupConfigUpdate {
    /// The configuration's own target, if given.
    #[schema(value_type = Option<crate::domain::data_cleanup::CleanupTarget>)]
    pub target: Option<String>,
    #[schema(minimum = 1)]
    pub retention_days: Option<i64>,
    pub enabled: Option<bool>,
    #[schema(minimum = 25, maximum = 1000)]
    pub batch_size: Option<i64>,
}

/// Body of `POST /api/admin/data-cleanup/run` (optional).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct RunRequest {
    /// Only this configuration (it runs even when disabled); absent: every enabled one.
    pub config_id: Option<u64>,
}

/// Answer of `POST /api/admin/data-cleanup/run`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunQueued {
    /// Names the run's logs (`run_id` in `GET /api/admin/data-cleanup-logs`).
    pub run_id: String,
    pub config_id: Option<u64>,
}

/// The tasks-queue message of a run-now request (`jobs::tasks`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CleanupTask {
    #[serde(default)]
    pub config_id: Option<u64>,
    /// Empty: the consumer names the run.
    #[serde(default)]
    pub run_id: String,
}

/// Filters of `GET /api/admin/data-cleanup-logs`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogFilter {
    /// Only this configuration's logs.
    pub config_id: Option<u64>,
}

async fn found(state: &AppState, id: u64) -> Result<DataCleanupConfig, CleanupError> {
    state
        .store
        .cleanup_config_by_id(id)
        .await?
        .ok_or(CleanupError::NotFound)
}

/// Every configuration (at most one per target), in target order.
pub async fn list(
    state: &AppState,
    caller: &Caller,
) -> Result<CursorPage<DataCleanupConfig>, CleanupError> {
    caller.require(SA_PL)?;
    let all = state.store.cleanup_configs().await?;
    let size = u32::try_from(all.len()).unwrap_or(u32::MAX).max(1);
    Ok(CursorPage::new(all, size, None))
}

/// Creates the configuration of a target (`1203` when it has one).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    input: CleanupConfigInput,
) -> Result<DataCleanupConfig, CleanupError> {
    caller.require(SA_PL)?;
    let target = parse_target(&input.target)?;
    let retention_days = check_retention(target, input.retention_days)?;
    let batch_size = check_batch_size(input.batch_size)?;
    if state.store.cleanup_config(target).await?.is_some() {
        return Err(CleanupError::Exists);
    }
    let now = rfc3339(state.clock.now());
    let config = DataCleanupConfig {
        id: state.store.next_id("data_cleanup_config").await?,
        target,
        retention_days,
        enabled: input.enabled,
        batch_size,
        created_at: now.clone(),
        updated_at: now,
        version: 1,
    };
    state.store.create_cleanup_config(&config).await??;
    Ok(config)
}

/// Changes a configuration: given fields replace, conditional on the version read.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: u64,
    input: CleanupConfigUpdate,
) -> Result<DataCleanupConfig, CleanupError> {
    caller.require(SA_PL)?;
    let target = input.target.as_deref().map(parse_target).transpose()?;
    let mut config = found(state, id).await?;
    if target.is_some_and(|t| t != config.target) {
        return Err(Invalid::new(
            "不能修改清理对象:请删除后为新对象创建配置",
            "target cannot change: delete the config and create one for the other target",
        )
        .into());
    }
    if let Some(days) = input.retention_days {
        config.retention_days = check_retention(config.target, days)?;
    }
    if let Some(size) = input.batch_size {
        config.batch_size = check_batch_size(Some(size))?;
    }
    if let Some(enabled) = input.enabled {
        config.enabled = enabled;
    }
    config.updated_at = rfc3339(state.clock.now());
    config.version += 1;
    state.store.replace_cleanup_config(&config).await??;
    Ok(config)
}

/// Deletes a configuration (its target's items then live until their TTL).
pub async fn delete(state: &AppState, caller: &Caller, id: u64) -> Result<(), CleanupError> {
    caller.require(SA_PL)?;
    let config = found(state, id).await?;
    state.store.delete_cleanup_config(&config).await??;
    Ok(())
}

/// One page of the run logs, newest first.
pub async fn logs(
    state: &AppState,
    caller: &Caller,
    filter: LogFilter,
    page: &PageQuery,
) -> Result<CursorPage<DataCleanupLog>, CleanupError> {
    caller.require(SA_PL)?;
    let (cursor, size) = page.parse()?;
    Ok(state
        .store
        .cleanup_log_page(size, cursor, filter.config_id)
        .await?)
}

/// Queues a cleanup run now (every enabled configuration, or only `config_id`).
pub async fn run_now(
    state: &AppState,
    caller: &Caller,
    req: RunRequest,
) -> Result<RunQueued, CleanupError> {
    caller.require(SA_PL)?;
    if let Some(id) = req.config_id {
        found(state, id).await?;
    }
    let task = CleanupTask {
        config_id: req.config_id,
        run_id: uuid::Uuid::new_v4().simple().to_string(),
    };
    let message = crate::jobs::tasks::Task::DataCleanup(task.clone());
    state.job_queue(JobQueue::Tasks).send(&message).await?;
    tracing::info!(run_id = %task.run_id, config_id = ?task.config_id, "data cleanup queued");
    Ok(RunQueued {
        run_id: task.run_id,
        config_id: task.config_id,
    })
}
