//! Polling administration (api.md §23): concurrency limits, monitoring from the
//! counters (never a scan), and manual triggers (J9). Platform staff only (the
//! routes' permissions are of the platform kind).

use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::clock::rfc3339;
use crate::codes::{BusinessError, Code};
use crate::domain::assets::{IdentifierKind, IotCard};
use crate::domain::caller::Caller;
use crate::domain::polling::{minute, polled, TaskType, TriggerFilters, MAX_CONCURRENCY_LIMIT};
use crate::domain::validate::Invalid;
use crate::paging::{CursorPage, PageQuery};
use crate::store::polling_triggers::TriggerLog;
use crate::store::StoreError;

/// Most identifiers one manual trigger names.
pub const MAX_TRIGGER_CARDS: usize = 1000;
/// Due cohorts the monitoring reads before it answers "more than it counted".
const DUE_COUNT_ITEMS: i32 = 200;

/// Failures of the polling administration.
#[derive(Debug, thiserror::Error)]
pub enum PollingAdminError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("queue unavailable: {0}")]
    Queue(#[from] crate::integrations::fifo::QueueError),
    /// The named object (a shop) does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
}

impl BusinessError for PollingAdminError {
    fn code(&self) -> Code {
        match self {
            PollingAdminError::Invalid(_) => Code::INVALID_PARAM,
            PollingAdminError::Store(e) => e.code(),
            PollingAdminError::Queue(_) => Code::INTERNAL,
            PollingAdminError::NotFound(_) => Code::NOT_FOUND,
        }
    }

    fn detail(&self) -> Option<crate::codes::Text> {
        match self {
            PollingAdminError::Invalid(e) => Some(e.text().clone()),
            _ => None,
        }
    }
}

/// A task type's concurrency limit and the permits held now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConcurrencyView {
    pub task_type: TaskType,
    pub max_concurrency: i64,
    pub in_flight: i64,
}

/// `PUT /api/admin/polling-concurrency/{task_type}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SetConcurrency {
    #[schema(minimum = 1, maximum = 1000)]
    pub max_concurrency: i64,
}

/// The task type named `s` (1001 otherwise).
pub fn task_type(s: &str) -> Result<TaskType, Invalid> {
    TaskType::parse(s).ok_or_else(|| {
        Invalid::new(
            "任务类型无效(realname/carddata/package/protect)",
            "invalid task_type (realname, carddata, package or protect)",
        )
    })
}

/// Every task type's limit and permits held.
pub async fn concurrency(
    state: &AppState,
    _caller: &Caller,
) -> Result<Vec<ConcurrencyView>, PollingAdminError> {
    let now = state.clock.now();
    let mut out = Vec::new();
    for t in TaskType::ALL {
        let sem = state.store.semaphore(t, now).await?;
        out.push(ConcurrencyView {
            task_type: t,
            max_concurrency: sem.max_concurrency,
            in_flight: sem.in_flight,
        });
    }
    Ok(out)
}

/// Sets a task type's limit (1–1000); checks starting after it obey it.
pub async fn set_concurrency(
    state: &AppState,
    _caller: &Caller,
    task: &str,
    req: SetConcurrency,
) -> Result<ConcurrencyView, PollingAdminError> {
    let task = task_type(task)?;
    if !(1..=MAX_CONCURRENCY_LIMIT).contains(&req.max_concurrency) {
        return Err(Invalid::new(
            format!("max_concurrency 须在1到{MAX_CONCURRENCY_LIMIT}之间"),
            format!("max_concurrency must be from 1 to {MAX_CONCURRENCY_LIMIT}"),
        )
        .into());
    }
    state
        .store
        .set_max_concurrency(task, req.max_concurrency)
        .await?;
    let sem = state.store.semaphore(task, state.clock.now()).await?;
    Ok(ConcurrencyView {
        task_type: task,
        max_concurrency: sem.max_concurrency,
        in_flight: sem.in_flight,
    })
}

/// One polling queue as the monitoring shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueueView {
    pub task_type: TaskType,
    pub enabled: bool,
    pub interval_seconds: i64,
    /// Cards due and not yet dispatched; `null` when more than the monitoring
    /// counts in one read (a large backlog).
    pub due_cards: Option<u64>,
    /// Check messages waiting in the queue (each holds up to 25 cards).
    pub queued_messages: i64,
    /// Check messages being handled.
    pub in_flight_messages: i64,
    /// Messages in the queue's dead-letter queue (`null` where its URL is not
    /// configured).
    pub dead_letter_messages: Option<i64>,
    /// Gateway permits held now (concurrent checks).
    pub in_flight_checks: i64,
    pub max_concurrency: i64,
    /// Cards dispatched in the last hour.
    pub dispatched_last_hour: i64,
    /// Checks done in the last hour.
    pub checks_last_hour: i64,
    /// Percent of the last hour's checks that succeeded (`null` without checks).
    pub success_rate_pct: Option<f64>,
    pub failure_rate_pct: Option<f64>,
    pub gateway_errors_last_hour: i64,
    pub avg_latency_ms: Option<f64>,
    pub last_dispatch_at: Option<String>,
    pub dispatched_total: i64,
    pub checks_total: i64,
}

/// The monitoring view of `task`.
pub async fn queue(state: &AppState, task: TaskType) -> Result<QueueView, PollingAdminError> {
    let store = &state.store;
    let now = state.clock.now();
    let settings = super::effective(store, task).await?;
    let sem = store.semaphore(task, now).await?;
    let totals = store.poll_totals(task).await?;
    let hour = store
        .poll_minutes(task, minute(now) - 59, minute(now))
        .await?;
    let sum = |f: fn(&crate::store::polling::MinuteStats) -> i64| hour.iter().map(f).sum::<i64>();
    let checks = sum(|m| m.counts.checks);
    let failed = sum(|m| m.counts.failed);
    let pct = |n: i64| (checks > 0).then(|| (n as f64) * 100.0 / checks as f64);
    let (queued, in_flight) = state
        .job_queue(task.queue())
        .depth()
        .await
        .unwrap_or((0, 0));
    let dead = match state.job_dlq(task.queue()) {
        Some(q) => q
            .depth()
            .await
            .ok()
            .map(|(visible, in_flight)| visible + in_flight),
        None => None,
    };
    Ok(QueueView {
        task_type: task,
        enabled: settings.enabled,
        interval_seconds: settings.interval_secs,
        due_cards: store
            .due_card_count(task, minute(now), DUE_COUNT_ITEMS)
            .await?,
        queued_messages: queued,
        in_flight_messages: in_flight,
        dead_letter_messages: dead,
        in_flight_checks: sem.in_flight,
        max_concurrency: sem.max_concurrency,
        dispatched_last_hour: sum(|m| m.dispatched),
        checks_last_hour: checks,
        success_rate_pct: pct(checks - failed),
        failure_rate_pct: pct(failed),
        gateway_errors_last_hour: sum(|m| m.counts.gateway_errors),
        avg_latency_ms: (checks > failed)
            .then(|| sum(|m| m.counts.latency_ms) as f64 / (checks - failed) as f64),
        last_dispatch_at: totals.last_dispatch_at.map(rfc3339),
        dispatched_total: totals.dispatched,
        checks_total: totals.checks,
    })
}

/// Every queue's monitoring view.
pub async fn overview(
    state: &AppState,
    _caller: &Caller,
) -> Result<Vec<QueueView>, PollingAdminError> {
    let mut out = Vec::new();
    for t in TaskType::ALL {
        out.push(queue(state, t).await?);
    }
    Ok(out)
}

/// `POST /api/admin/polling-manual-trigger` body: exactly one selector.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerRequest {
    pub task_type: String,
    /// Card ids (1 to 1000).
    #[serde(default)]
    pub iot_card_ids: Option<Vec<u64>>,
    /// ICCIDs (1 to 1000).
    #[serde(default)]
    pub iccids: Option<Vec<String>>,
    /// A shop: its own cards (not its descendants'), as the card list's `shop_id`.
    #[serde(default)]
    pub shop_id: Option<u64>,
    /// Card-list filters (at least one field); every matching card.
    #[serde(default)]
    pub filters: Option<TriggerFilters>,
}

/// What a manual trigger queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Triggered {
    pub log_id: u64,
    pub card_count: u64,
    /// Identifiers that named no live, polled card.
    pub not_found: Vec<String>,
}

/// Queues immediate checks of the selected cards (J9) and logs the trigger.
pub async fn trigger(
    state: &AppState,
    caller: &Caller,
    req: TriggerRequest,
) -> Result<Triggered, PollingAdminError> {
    let task = task_type(&req.task_type)?;
    let one_selector = || {
        Invalid::new(
            format!(
                "须且仅须提供 iot_card_ids、iccids(1到{MAX_TRIGGER_CARDS}个)、shop_id 或 filters 之一"
            ),
            format!(
                "give exactly one of iot_card_ids or iccids (1 to {MAX_TRIGGER_CARDS} items), \
                 shop_id or filters"
            ),
        )
    };
    let store = &state.store;
    let given = [
        req.iot_card_ids.is_some(),
        req.iccids.is_some(),
        req.shop_id.is_some(),
        req.filters.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(one_selector().into());
    }
    if let Some(id) = req.shop_id {
        let ids = super::select::select(store, super::select::Selection::Shop(id)).await?;
        let target = Target {
            selector: "shop_id",
            shop_id: Some(id),
            ..Target::default()
        };
        return log_trigger(state, caller, task, &ids, target).await;
    }
    if let Some(f) = req.filters {
        let ids = super::select::select(store, super::select::Selection::Filters(&f)).await?;
        let target = Target {
            selector: "filters",
            filters: Some(f),
            ..Target::default()
        };
        return log_trigger(state, caller, task, &ids, target).await;
    }
    let (selector, named): (&str, Vec<String>) = match (&req.iot_card_ids, &req.iccids) {
        (Some(ids), None) => ("iot_card_ids", ids.iter().map(u64::to_string).collect()),
        (None, Some(iccids)) => ("iccids", iccids.clone()),
        _ => return Err(one_selector().into()),
    };
    if named.is_empty() || named.len() > MAX_TRIGGER_CARDS {
        return Err(one_selector().into());
    }
    let mut named = named;
    named.sort();
    named.dedup();
    let cards: Vec<IotCard> = if selector == "iot_card_ids" {
        let keys_: Vec<_> = named
            .iter()
            .filter_map(|id| id.parse().ok())
            .map(crate::store::keys::card)
            .collect();
        store.entities(&keys_).await?
    } else {
        // Only well-formed ICCIDs are looked up (others are simply not found).
        let wellformed: Vec<String> = named
            .iter()
            .filter_map(|s| crate::domain::identifiers::Iccid::parse(s).ok())
            .map(|i| i.to_string())
            .collect();
        let mut found = Vec::new();
        for chunk in wellformed.chunks(100) {
            found.extend(
                store
                    .assets_by_identifier::<IotCard>(IdentifierKind::Iccid, chunk)
                    .await?,
            );
        }
        found
    };
    let cards: Vec<IotCard> = cards.into_iter().filter(polled).collect();
    let label = |c: &IotCard| {
        if selector == "iccids" {
            c.iccid.clone()
        } else {
            c.id.to_string()
        }
    };
    let found: std::collections::HashSet<String> = cards.iter().map(label).collect();
    let not_found: Vec<String> = named.into_iter().filter(|n| !found.contains(n)).collect();
    let ids: Vec<u64> = cards.iter().map(|c| c.id).collect();
    let target = Target {
        selector,
        not_found,
        ..Target::default()
    };
    log_trigger(state, caller, task, &ids, target).await
}

/// What a trigger selected, as its log records it.
#[derive(Default)]
struct Target<'a> {
    selector: &'a str,
    shop_id: Option<u64>,
    filters: Option<TriggerFilters>,
    not_found: Vec<String>,
}

/// Queues checks of `ids` (each once) and logs the trigger with its target.
async fn log_trigger(
    state: &AppState,
    caller: &Caller,
    task: TaskType,
    ids: &[u64],
    target: Target<'_>,
) -> Result<Triggered, PollingAdminError> {
    let store = &state.store;
    let queued = super::enqueue_checks(state, task, ids).await?;
    let log = TriggerLog {
        id: store.next_id("poll_trigger").await?,
        task_type: task,
        selector: target.selector.into(),
        shop_id: target.shop_id,
        filters: target.filters,
        card_count: queued as u64,
        not_found: target.not_found,
        operator_id: caller.account_id,
        created_at: rfc3339(state.clock.now()),
    };
    store.put_trigger_log(&log).await?;
    Ok(Triggered {
        log_id: log.id,
        card_count: log.card_count,
        not_found: log.not_found,
    })
}

/// Manual trigger logs, newest first.
pub async fn trigger_logs(
    state: &AppState,
    _caller: &Caller,
    page: &PageQuery,
) -> Result<CursorPage<TriggerLog>, PollingAdminError> {
    let (cursor, size) = page.parse()?;
    Ok(state.store.trigger_logs(size, cursor).await?)
}

/// The polling metrics the alert rules (J2) are evaluated on, from the monitoring
/// views (counters of the last hour, due cohorts, queue and dead-letter queue
/// depths; a dead-letter queue whose URL is not configured counts 0).
pub async fn metrics_snapshot(
    state: &AppState,
) -> Result<crate::domain::polling_alerts::MetricsSnapshot, PollingAdminError> {
    use crate::domain::polling_alerts::{MetricsSnapshot, TaskMetrics};
    let mut by_task = std::collections::BTreeMap::new();
    for t in TaskType::ALL {
        let q = queue(state, t).await?;
        let queued =
            (q.queued_messages.max(0) as u64) * crate::domain::polling::CARDS_PER_MESSAGE as u64;
        by_task.insert(
            t,
            TaskMetrics {
                backlog: q.due_cards.unwrap_or(u64::MAX / 2) + queued,
                failure_rate_pct: q.failure_rate_pct.unwrap_or(0.0),
                gateway_errors: q.gateway_errors_last_hour.max(0) as u64,
                avg_latency_ms: q.avg_latency_ms.unwrap_or(0.0),
                dlq_depth: q.dead_letter_messages.unwrap_or(0).max(0) as u64,
            },
        );
    }
    Ok(MetricsSnapshot {
        at: state.clock.now(),
        by_task,
    })
}
