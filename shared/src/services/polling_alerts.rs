//! Polling alert rules and their alerts (api.md §23, jobs.md J2): platform staff
//! define rules and read the alerts and webhook deliveries. The webhook targets are
//! kept by `webhook_targets`.

use serde::Deserialize;

use super::audit::{audit, Audited};
use super::webhook_targets::{answered, open, target, TargetError};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::codes::{BusinessError, Code, Text};
use crate::domain::caller::{Caller, NotAllowed, SA_PL};
use crate::domain::polling_alerts::{AlertHistory, AlertStatus, RuleInput, RuleView};
use crate::domain::validate::{day_range, Invalid};
use crate::integrations::kms::SealError;
use crate::paging::{CursorPage, PageQuery};
use crate::store::polling_alerts::{
    secret_context, DeliveryAttempt, HistoryQuery, RuleRecord, RuleRefusal, StoredNotify,
};
use crate::store::StoreError;

/// Failures of alert-rule use cases.
#[derive(Debug, thiserror::Error)]
pub enum AlertRuleError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("insufficient permission")]
    NotAllowed(#[from] NotAllowed),
    #[error("polling alert rule not found")]
    NotFound,
    #[error("the rule was changed concurrently")]
    Changed,
    #[error("secrets: {0}")]
    Seal(#[from] SealError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BusinessError for AlertRuleError {
    fn code(&self) -> Code {
        match self {
            AlertRuleError::Invalid(_) => Code::INVALID_PARAM,
            AlertRuleError::NotAllowed(_) => Code::FORBIDDEN,
            AlertRuleError::NotFound => Code::POLLING_ALERT_RULE_NOT_FOUND,
            AlertRuleError::Changed => Code::VERSION_CONFLICT,
            AlertRuleError::Seal(_) => Code::INTERNAL,
            AlertRuleError::Store(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<Text> {
        match self {
            AlertRuleError::Invalid(i) => Some(i.text().clone()),
            _ => None,
        }
    }
}

impl From<TargetError> for AlertRuleError {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::Invalid(i) => AlertRuleError::Invalid(i),
            TargetError::Seal(s) => AlertRuleError::Seal(s),
        }
    }
}

impl From<RuleRefusal> for AlertRuleError {
    fn from(r: RuleRefusal) -> Self {
        match r {
            RuleRefusal::Missing => AlertRuleError::NotFound,
            RuleRefusal::Changed => AlertRuleError::Changed,
        }
    }
}

/// Filters of `GET /api/admin/polling-alert-history`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryFilter {
    pub rule_id: Option<u64>,
    pub status: Option<AlertStatus>,
    /// Opened on or after this day (`YYYY-MM-DD`, Asia/Shanghai).
    pub start_date: Option<String>,
    /// Opened on or before this day (`YYYY-MM-DD`, Asia/Shanghai).
    pub end_date: Option<String>,
}

/// The answered form of `r`; `revealed` is the secret in full (only the request
/// that generated or set it answers it).
pub fn view(r: &RuleRecord, revealed: Option<&str>) -> RuleView {
    RuleView {
        id: r.id,
        rule_name: r.fields.rule_name.clone(),
        metric: r.fields.metric,
        task_type: r.fields.task_type,
        operator: r.fields.operator,
        threshold: r.fields.threshold,
        duration: r.fields.duration,
        enabled: r.fields.enabled,
        notify: r.notify.as_ref().map(|n| answered(n, revealed)),
        creator: r.creator,
        updater: r.updater,
        created_at: r.created_at.clone(),
        updated_at: r.updated_at.clone(),
        version: r.version,
    }
}

/// Opens rule `r`'s webhook secret (the delivery job).
pub async fn open_secret(state: &AppState, r: &RuleRecord) -> Result<Option<String>, SealError> {
    match &r.notify {
        Some(notify) => open(state, notify, &secret_context(r.id)).await.map(Some),
        None => Ok(None),
    }
}

/// The webhook of a rule after `input` (`before`: the stored one on update) and the
/// secret to reveal, if this request generated or set one.
async fn notify_of(
    state: &AppState,
    id: u64,
    input: &RuleInput,
    before: Option<&RuleRecord>,
) -> Result<(Option<StoredNotify>, Option<String>), AlertRuleError> {
    let kept = before.and_then(|b| b.notify.clone());
    Ok(target(state, &secret_context(id), input.notify.as_ref(), kept).await?)
}

fn audited(caller: &Caller, ip: &str, action: &'static str, id: u64) -> Audited {
    Audited {
        operator_id: caller.account_id,
        ip: ip.to_string(),
        operation_type: action,
        target_type: "polling_alert_rule",
        target_id: id,
    }
}

/// Creates a rule.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    input: RuleInput,
) -> Result<RuleView, AlertRuleError> {
    caller.require(SA_PL)?;
    let fields = input.fields()?;
    let id = state.store.next_id("polling_alert_rule").await?;
    let (notify, revealed) = notify_of(state, id, &input, None).await?;
    let now = rfc3339(state.clock.now());
    let record = RuleRecord {
        id,
        fields,
        notify,
        creator: caller.account_id,
        updater: caller.account_id,
        created_at: now.clone(),
        updated_at: now,
        version: 1,
    };
    state.store.create_alert_rule(&record).await?;
    let masked = view(&record, None);
    audit(
        state,
        audited(caller, ip, "create", id),
        format!("创建轮询告警规则 {}", record.fields.rule_name),
        None,
        Some(&masked),
    )
    .await;
    Ok(view(&record, revealed.as_deref()))
}

async fn existing(state: &AppState, id: u64) -> Result<RuleRecord, AlertRuleError> {
    state
        .store
        .alert_rule(id)
        .await?
        .ok_or(AlertRuleError::NotFound)
}

/// Every rule, oldest first (rules are few: one Query).
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<RuleView>, AlertRuleError> {
    caller.require(SA_PL)?;
    let set = state.store.alert_rule_set().await?;
    Ok(set.rules.iter().map(|r| view(r, None)).collect())
}

/// Replaces a rule's fields; an omitted `notify` keeps the webhook, `null` removes
/// it, an omitted or empty secret keeps the stored one.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    id: u64,
    input: RuleInput,
) -> Result<RuleView, AlertRuleError> {
    caller.require(SA_PL)?;
    let fields = input.fields()?;
    let before = existing(state, id).await?;
    let (notify, revealed) = notify_of(state, id, &input, Some(&before)).await?;
    let mut record = before.clone();
    record.fields = fields;
    record.notify = notify;
    record.updater = caller.account_id;
    record.updated_at = rfc3339(state.clock.now());
    record.version += 1;
    state.store.replace_alert_rule(&record).await??;
    audit(
        state,
        audited(caller, ip, "update", id),
        format!("修改轮询告警规则 {}", record.fields.rule_name),
        Some(&view(&before, None)),
        Some(&view(&record, None)),
    )
    .await;
    Ok(view(&record, revealed.as_deref()))
}

/// Deletes a rule; its open alert is closed (no notification), its history stays.
pub async fn delete(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    id: u64,
) -> Result<(), AlertRuleError> {
    caller.require(SA_PL)?;
    let before = existing(state, id).await?;
    for attempt in 1..=5 {
        let open = state.store.alert_rule_set().await?.open.get(&id).copied();
        let now = state.clock.now();
        match state
            .store
            .delete_alert_rule(id, open.map(|o| o.history_id), now)
            .await?
        {
            Ok(()) => {
                audit(
                    state,
                    audited(caller, ip, "delete", id),
                    format!("删除轮询告警规则 {}", before.fields.rule_name),
                    Some(&view(&before, None)),
                    None,
                )
                .await;
                return Ok(());
            }
            Err(RuleRefusal::Missing) => return Err(AlertRuleError::NotFound),
            Err(RuleRefusal::Changed) => {
                tokio::time::sleep(crate::store::tx::backoff(attempt)).await;
            }
        }
    }
    Err(AlertRuleError::Changed)
}

/// One page of alerts, newest first.
pub async fn history(
    state: &AppState,
    caller: &Caller,
    f: HistoryFilter,
    page: &PageQuery,
) -> Result<CursorPage<AlertHistory>, AlertRuleError> {
    caller.require(SA_PL)?;
    let (cursor, size) = page.parse()?;
    let (from, to) = day_range(f.start_date.as_deref(), f.end_date.as_deref())?;
    let q = HistoryQuery {
        rule_id: f.rule_id,
        status: f.status,
        from,
        to,
    };
    Ok(state.store.alert_history_page(&q, size, cursor).await?)
}

/// One page of a rule's webhook delivery attempts, newest first.
pub async fn deliveries(
    state: &AppState,
    caller: &Caller,
    id: u64,
    page: &PageQuery,
) -> Result<CursorPage<DeliveryAttempt>, AlertRuleError> {
    caller.require(SA_PL)?;
    let (cursor, size) = page.parse()?;
    existing(state, id).await?;
    Ok(state.store.delivery_page(id, size, cursor).await?)
}
