//! Payment configurations (api.md §20, domain.md §4.13, §5.15): platform staff create,
//! change, activate and delete them; payments use the active one and callbacks the
//! one their record names.
//!
//! Freshness: nothing about a configuration is cached but its opened secrets, keyed
//! by the seal they came from. Every payment reads the active pointer and the
//! configuration (two small reads), so an activation, a deactivation or an update is
//! seen by every warm function at its next request; re-sealed secrets (an update)
//! open anew, unchanged ones cost no KMS call after the first.

use std::sync::Arc;

use serde::Deserialize;

use super::audit::{audit, Audited};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::codes::{BusinessError, Code, Text};
use crate::domain::caller::{Caller, NotAllowed, SA_PL};
use crate::domain::payment_config::{
    bad_key, masks_of, ConfigContent, ConfigInput, ConfigSecrets, ConfigView, ProviderType,
};
use crate::domain::validate::Invalid;
use crate::integrations::kms::SealError;
use crate::integrations::pay_keys::{parse_private_key, parse_public_key};
use crate::paging::{CursorPage, PageQuery};
use crate::store::payment_configs::{seal_context, ConfigQuery, ConfigRecord, ConfigRefusal};
use crate::store::{Store, StoreError};

/// Failures of payment-configuration use cases.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("insufficient permission")]
    NotAllowed(#[from] NotAllowed),
    #[error("payment config not found")]
    NotFound,
    #[error("the active payment config cannot be deleted")]
    Active,
    #[error("pending payments reference the payment config")]
    InUse,
    #[error("the payment config was changed concurrently")]
    Changed,
    #[error("secrets: {0}")]
    Seal(#[from] SealError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BusinessError for ConfigError {
    fn code(&self) -> Code {
        match self {
            ConfigError::Invalid(_) => Code::INVALID_PARAM,
            ConfigError::NotAllowed(_) => Code::FORBIDDEN,
            ConfigError::NotFound => Code::PAYMENT_CONFIG_NOT_FOUND,
            ConfigError::Active => Code::PAYMENT_CONFIG_ACTIVE,
            ConfigError::InUse => Code::PAYMENT_CONFIG_IN_USE,
            ConfigError::Changed => Code::VERSION_CONFLICT,
            ConfigError::Seal(_) => Code::INTERNAL,
            ConfigError::Store(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<Text> {
        match self {
            ConfigError::Invalid(i) => Some(i.text().clone()),
            _ => None,
        }
    }
}

impl From<ConfigRefusal> for ConfigError {
    fn from(r: ConfigRefusal) -> Self {
        match r {
            ConfigRefusal::Missing => ConfigError::NotFound,
            ConfigRefusal::Active => ConfigError::Active,
            ConfigRefusal::Referenced => ConfigError::InUse,
            ConfigRefusal::Changed => ConfigError::Changed,
        }
    }
}

/// Filters of `GET /api/admin/wechat-configs`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfigFilter {
    pub provider_type: Option<ProviderType>,
    pub is_active: Option<bool>,
    /// Part of the name.
    pub name: Option<String>,
}

/// A configuration with its secrets opened (payments and callbacks only; never
/// answered).
#[derive(Clone, Debug)]
pub struct OpenConfig {
    pub record: ConfigRecord,
    pub secrets: Arc<ConfigSecrets>,
}

fn check_keys(content: &ConfigContent) -> Result<(), Invalid> {
    for (name, text, private) in content.keys() {
        let ok = if private {
            parse_private_key(text).is_ok()
        } else {
            parse_public_key(text).is_ok()
        };
        if !ok {
            return Err(bad_key(name));
        }
    }
    Ok(())
}

async fn seal(
    state: &AppState,
    id: u64,
    secrets: &ConfigSecrets,
) -> Result<crate::integrations::kms::Sealed, ConfigError> {
    let json = serde_json::to_vec(secrets).map_err(|e| StoreError::Codec(e.to_string()))?;
    Ok(state.envelope().seal(&json, &seal_context(id)).await?)
}

/// Opens `record`'s secrets (from this process's cache when the seal is unchanged).
pub async fn open(state: &AppState, record: ConfigRecord) -> Result<OpenConfig, ConfigError> {
    let cached = state.opened_configs().lock().ok().and_then(|m| {
        m.get(&record.id)
            .filter(|(nonce, _)| *nonce == record.sealed.nonce)
            .map(|(_, s)| s.clone())
    });
    let secrets = match cached {
        Some(s) => s,
        None => {
            let plain = state
                .envelope()
                .open(&record.sealed, &seal_context(record.id))
                .await?;
            let s: Arc<ConfigSecrets> =
                Arc::new(serde_json::from_slice(&plain).map_err(|_| SealError::Corrupt)?);
            if let Ok(mut m) = state.opened_configs().lock() {
                m.insert(record.id, (record.sealed.nonce.clone(), s.clone()));
            }
            s
        }
    };
    Ok(OpenConfig { record, secrets })
}

/// The active configuration, opened; `None` when none is active.
pub async fn active(state: &AppState) -> Result<Option<OpenConfig>, ConfigError> {
    let Some(id) = state.store.active_payment_config_id().await? else {
        return Ok(None);
    };
    match state.store.payment_config(id).await? {
        Some(r) if r.is_active && r.deleted_at.is_none() => Ok(Some(open(state, r).await?)),
        _ => Ok(None),
    }
}

async fn live(store: &Store, id: u64) -> Result<ConfigRecord, ConfigError> {
    store
        .payment_config(id)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or(ConfigError::NotFound)
}

fn audited(caller: &Caller, ip: &str, action: &'static str, id: u64) -> Audited {
    Audited {
        operator_id: caller.account_id,
        ip: ip.to_string(),
        operation_type: action,
        target_type: "payment_config",
        target_id: id,
    }
}

/// Creates a configuration (inactive).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    input: ConfigInput,
) -> Result<ConfigView, ConfigError> {
    caller.require(SA_PL)?;
    let content = input.apply(None)?;
    check_keys(&content)?;
    let now = rfc3339(state.clock.now());
    let id = state.store.next_id("payment_config").await?;
    let record = ConfigRecord {
        id,
        provider_type: content.provider_type,
        is_active: false,
        masks: masks_of(&content.secrets),
        sealed: seal(state, id, &content.secrets).await?,
        fields: content.fields,
        creator: caller.account_id,
        updater: caller.account_id,
        created_at: now.clone(),
        updated_at: now,
        deleted_at: None,
        version: 1,
    };
    state.store.create_payment_config(&record).await?;
    let view = record.view();
    audit(
        state,
        audited(caller, ip, "create", id),
        format!("创建支付配置 {}", view.name),
        None,
        Some(&view),
    )
    .await;
    Ok(view)
}

/// One live configuration.
pub async fn get(state: &AppState, caller: &Caller, id: u64) -> Result<ConfigView, ConfigError> {
    caller.require(SA_PL)?;
    Ok(live(&state.store, id).await?.view())
}

/// The active configuration, or `None`.
pub async fn get_active(
    state: &AppState,
    caller: &Caller,
) -> Result<Option<ConfigView>, ConfigError> {
    caller.require(SA_PL)?;
    let Some(id) = state.store.active_payment_config_id().await? else {
        return Ok(None);
    };
    Ok(state
        .store
        .payment_config(id)
        .await?
        .filter(|r| r.is_active && r.deleted_at.is_none())
        .map(|r| r.view()))
}

/// One page of the live configurations, newest first.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    f: ConfigFilter,
    page: &PageQuery,
) -> Result<CursorPage<ConfigView>, ConfigError> {
    caller.require(SA_PL)?;
    let (cursor, size) = page.parse()?;
    let q = ConfigQuery {
        provider_type: f.provider_type,
        is_active: f.is_active,
        name: f
            .name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
    };
    Ok(state
        .store
        .payment_config_page(&q, size, cursor)
        .await?
        .map(|r| r.view()))
}

/// Changes a configuration: given fields replace, omitted ones and empty secrets
/// keep; the result is checked for its provider. The secrets are sealed again.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    id: u64,
    input: ConfigInput,
) -> Result<ConfigView, ConfigError> {
    caller.require(SA_PL)?;
    let before = open(state, live(&state.store, id).await?).await?;
    let base = ConfigContent {
        provider_type: before.record.provider_type,
        fields: before.record.fields.clone(),
        secrets: (*before.secrets).clone(),
    };
    let content = input.apply(Some(&base))?;
    check_keys(&content)?;
    let mut record = before.record.clone();
    if content.secrets != base.secrets {
        record.sealed = seal(state, id, &content.secrets).await?;
        record.masks = masks_of(&content.secrets);
    }
    record.provider_type = content.provider_type;
    record.fields = content.fields;
    record.updater = caller.account_id;
    record.updated_at = rfc3339(state.clock.now());
    record.version += 1;
    state.store.replace_payment_config(&record).await?;
    let view = record.view();
    audit(
        state,
        audited(caller, ip, "update", id),
        format!("修改支付配置 {}", view.name),
        Some(&before.record.view()),
        Some(&view),
    )
    .await;
    Ok(view)
}

/// Soft-deletes a configuration: refused while it is active (`1171`) or while
/// pending payments reference it (`1172`), both checked inside the write.
pub async fn delete(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    id: u64,
) -> Result<(), ConfigError> {
    caller.require(SA_PL)?;
    let before = live(&state.store, id).await?;
    let at = rfc3339(state.clock.now());
    state
        .store
        .delete_payment_config(id, &at, caller.account_id)
        .await??;
    audit(
        state,
        audited(caller, ip, "delete", id),
        format!("删除支付配置 {}", before.fields.name),
        Some(&before.view()),
        None,
    )
    .await;
    Ok(())
}

/// Makes `id` the single active configuration (the previous one is switched off in
/// the same transaction). Activating the active one changes nothing.
pub async fn activate(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    id: u64,
) -> Result<ConfigView, ConfigError> {
    caller.require(SA_PL)?;
    let store = &state.store;
    for attempt in 1..=5 {
        let current = store.active_payment_config_id().await?;
        if current == Some(id) {
            let r = live(store, id).await?;
            if r.is_active {
                return Ok(r.view());
            }
        }
        live(store, id).await?;
        let at = rfc3339(state.clock.now());
        match store
            .activate_payment_config(id, current, &at, caller.account_id)
            .await?
        {
            Ok(()) => {
                let previous = match current.filter(|c| *c != id) {
                    Some(old) => store.payment_config(old).await?.map(|r| r.view()),
                    None => None,
                };
                let view = live(store, id).await?.view();
                audit(
                    state,
                    audited(caller, ip, "activate", id),
                    format!("启用支付配置 {}", view.name),
                    previous.as_ref(),
                    Some(&view),
                )
                .await;
                tracing::info!(config_id = id, previous = ?current, "payment config activated");
                return Ok(view);
            }
            Err(ConfigRefusal::Changed) => {
                tokio::time::sleep(crate::store::tx::backoff(attempt)).await;
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(ConfigError::Changed)
}

/// Switches `id` off when it is the active configuration (no configuration is
/// active afterwards); an inactive one is answered unchanged.
pub async fn deactivate(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    id: u64,
) -> Result<ConfigView, ConfigError> {
    caller.require(SA_PL)?;
    let before = live(&state.store, id).await?;
    if !before.is_active {
        return Ok(before.view());
    }
    let at = rfc3339(state.clock.now());
    match state
        .store
        .deactivate_payment_config(id, &at, caller.account_id)
        .await?
    {
        Ok(()) => {}
        // Switched off (or away) meanwhile: answer what it now is.
        Err(_) => return Ok(live(&state.store, id).await?.view()),
    }
    let view = live(&state.store, id).await?.view();
    audit(
        state,
        audited(caller, ip, "deactivate", id),
        format!("停用支付配置 {}", view.name),
        Some(&before.view()),
        Some(&view),
    )
    .await;
    Ok(view)
}
