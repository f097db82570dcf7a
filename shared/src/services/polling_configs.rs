//! Polling configurations (api.md §23, jobs.md J4): platform staff set, per task
//! type, the interval, whether it polls at all and which cards it checks. At most
//! one configuration per task type; without one the task type's defaults apply
//! (`domain::polling::Effective`). The dispatcher reads them with
//! `Store::polling_config`, so a change applies from its next minute.

use serde::Deserialize;

use crate::app::AppState;
use crate::clock::rfc3339;
use crate::codes::{BusinessError, Code, Text};
use crate::domain::caller::{Caller, NotAllowed, SA_PL};
use crate::domain::polling::{
    check_filters, check_interval, parse_task_type, PollFilters, PollingConfig,
};
use crate::domain::validate::Invalid;
use crate::paging::CursorPage;
use crate::store::polling_configs::SlotRefusal;
use crate::store::StoreError;

/// Failures of polling-configuration use cases.
#[derive(Debug, thiserror::Error)]
pub enum PollingConfigError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("insufficient permission")]
    NotAllowed(#[from] NotAllowed),
    #[error("polling config not found")]
    NotFound,
    #[error("the task type already has a polling config")]
    Exists,
    #[error("the polling config was changed concurrently")]
    Changed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BusinessError for PollingConfigError {
    fn code(&self) -> Code {
        match self {
            PollingConfigError::Invalid(_) => Code::INVALID_PARAM,
            PollingConfigError::NotAllowed(_) => Code::FORBIDDEN,
            PollingConfigError::NotFound => Code::POLLING_CONFIG_NOT_FOUND,
            PollingConfigError::Exists => Code::POLLING_CONFIG_EXISTS,
            PollingConfigError::Changed => Code::VERSION_CONFLICT,
            PollingConfigError::Store(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<Text> {
        match self {
            PollingConfigError::Invalid(i) => Some(i.text().clone()),
            _ => None,
        }
    }
}

impl From<SlotRefusal> for PollingConfigError {
    fn from(r: SlotRefusal) -> Self {
        match r {
            SlotRefusal::Exists => PollingConfigError::Exists,
            SlotRefusal::Missing => PollingConfigError::NotFound,
            SlotRefusal::Changed => PollingConfigError::Changed,
        }
    }
}

/// Body of `POST /api/admin/polling-configs`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct PollingConfigInput {
    /// `realname`, `carddata`, `package` or `protect`.
    #[schema(value_type = crate::domain::polling::TaskType)]
    pub task_type: String,
    /// Seconds between two checks of a card (60..=86400).
    #[schema(minimum = 60, maximum = 86400)]
    pub interval_seconds: i64,
    pub enabled: bool,
    #[serde(default)]
    pub filters: Option<PollFilters>,
}

/// Body of `PUT /api/admin/polling-configs/{id}`: given fields replace. The task
/// type cannot change (delete the configuration and create one for the other).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct PollingConfigUpdate {
    /// The configuration's own task type, if given.
    #[schema(value_type = Option<crate::domain::polling::TaskType>)]
    pub task_type: Option<String>,
    #[schema(minimum = 60, maximum = 86400)]
    pub interval_seconds: Option<i64>,
    pub enabled: Option<bool>,
    /// Replaces the filters (an empty object: every card).
    pub filters: Option<PollFilters>,
}

/// Body of `PUT /api/admin/polling-configs/{id}/status`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct EnabledInput {
    pub enabled: bool,
}

async fn found(state: &AppState, id: u64) -> Result<PollingConfig, PollingConfigError> {
    state
        .store
        .polling_config_by_id(id)
        .await?
        .ok_or(PollingConfigError::NotFound)
}

/// Every configuration (at most one per task type), in task-type order.
pub async fn list(
    state: &AppState,
    caller: &Caller,
) -> Result<CursorPage<PollingConfig>, PollingConfigError> {
    caller.require(SA_PL)?;
    let all = state.store.polling_configs().await?;
    let size = u32::try_from(all.len()).unwrap_or(u32::MAX).max(1);
    Ok(CursorPage::new(all, size, None))
}

/// Creates the configuration of a task type (`1201` when it has one).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    input: PollingConfigInput,
) -> Result<PollingConfig, PollingConfigError> {
    caller.require(SA_PL)?;
    let task_type = parse_task_type(&input.task_type)?;
    let interval_seconds = check_interval(input.interval_seconds)?;
    let filters = check_filters(input.filters.unwrap_or_default())?;
    if state.store.polling_config(task_type).await?.is_some() {
        return Err(PollingConfigError::Exists);
    }
    let now = rfc3339(state.clock.now());
    let config = PollingConfig {
        id: state.store.next_id("polling_config").await?,
        task_type,
        interval_seconds,
        enabled: input.enabled,
        filters,
        created_at: now.clone(),
        updated_at: now,
        version: 1,
    };
    state.store.create_polling_config(&config).await??;
    tracing::info!(
        id = config.id,
        task_type = task_type.as_str(),
        "polling config created"
    );
    Ok(config)
}

/// One configuration.
pub async fn get(
    state: &AppState,
    caller: &Caller,
    id: u64,
) -> Result<PollingConfig, PollingConfigError> {
    caller.require(SA_PL)?;
    found(state, id).await
}

async fn change(
    state: &AppState,
    id: u64,
    apply: impl Fn(&mut PollingConfig) -> Result<(), Invalid>,
) -> Result<PollingConfig, PollingConfigError> {
    let mut config = found(state, id).await?;
    apply(&mut config)?;
    config.updated_at = rfc3339(state.clock.now());
    config.version += 1;
    state.store.replace_polling_config(&config).await??;
    Ok(config)
}

/// Changes a configuration: given fields replace, conditional on the version read.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: u64,
    input: PollingConfigUpdate,
) -> Result<PollingConfig, PollingConfigError> {
    caller.require(SA_PL)?;
    let task_type = input
        .task_type
        .as_deref()
        .map(parse_task_type)
        .transpose()?;
    let interval = input.interval_seconds.map(check_interval).transpose()?;
    let filters = input.filters.map(check_filters).transpose()?;
    change(state, id, |c| {
        if task_type.is_some_and(|t| t != c.task_type) {
            return Err(Invalid::new(
                "不能修改任务类型:请删除后为新任务类型创建配置",
                "task_type cannot change: delete the config and create one for the other task type",
            ));
        }
        if let Some(i) = interval {
            c.interval_seconds = i;
        }
        if let Some(e) = input.enabled {
            c.enabled = e;
        }
        if let Some(f) = &filters {
            c.filters = f.clone();
        }
        Ok(())
    })
    .await
}

/// Switches a configuration's polling on or off.
pub async fn set_enabled(
    state: &AppState,
    caller: &Caller,
    id: u64,
    enabled: bool,
) -> Result<PollingConfig, PollingConfigError> {
    caller.require(SA_PL)?;
    change(state, id, |c| {
        c.enabled = enabled;
        Ok(())
    })
    .await
}

/// Deletes a configuration: its task type polls with the defaults again.
pub async fn delete(state: &AppState, caller: &Caller, id: u64) -> Result<(), PollingConfigError> {
    caller.require(SA_PL)?;
    let config = found(state, id).await?;
    state.store.delete_polling_config(&config).await??;
    tracing::info!(
        id,
        task_type = config.task_type.as_str(),
        "polling config deleted"
    );
    Ok(())
}
