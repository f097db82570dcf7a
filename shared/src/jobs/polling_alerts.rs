//! The polling alert check (jobs.md J2): every minute each rule is evaluated against
//! a [`MetricsSnapshot`]; an alert opens when the rule's condition has held for its
//! duration and closes when it clears (a disabled rule counts as cleared), each
//! notified once through the `alert-webhooks` queue.
//!
//! Idempotency: the rules and their state come from one Query; an alert opens by
//! creating the rule's single open-alert item on condition that none exists and
//! closes by deleting it on condition that it names that alert, so overlapping runs
//! open, close and notify each alert once. The open-alert item stays
//! `notify_pending` until the opening's notification is queued; a run finding it so a
//! minute later queues it again (the same delivery id: receivers deduplicate). A
//! closing whose notification cannot be queued is logged and counted, not retried.

use super::alert_webhooks::{enqueue, AlertDelivery};
use super::sqs::JobError;
use crate::app::AppState;
use crate::domain::polling_alerts::{
    breach, message, step, AlertEvent, AlertHistory, AlertStatus, MetricsSnapshot, Step,
};
use crate::store::polling_alerts::RuleRecord;
use crate::store::StoreError;

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Rules read.
    pub rules: usize,
    /// Alerts this run opened.
    pub opened: usize,
    /// Alerts this run closed.
    pub closed: usize,
    /// Notifications queued.
    pub notified: usize,
    /// Rules whose step failed (retried next run) or notifications not queued.
    pub failed: usize,
}

/// Evaluates every rule against `snapshot` at `now` (epoch seconds).
pub async fn run(
    state: &AppState,
    now: i64,
    snapshot: &MetricsSnapshot,
) -> Result<Report, JobError> {
    let set = state.store.alert_rule_set().await?;
    let mut report = Report {
        rules: set.rules.len(),
        ..Default::default()
    };
    for rule in &set.rules {
        let since = set.breaching_since.get(&rule.id).copied();
        let open = set.open.get(&rule.id).copied();
        let found = if rule.fields.enabled {
            breach(&rule.fields.condition(), snapshot)
        } else {
            None
        };
        // An opening whose notification was not queued (the run died or the queue
        // failed) is notified again a minute later.
        if let Some(o) = open.filter(|o| o.notify_pending && o.opened_at <= now - 60) {
            let delivery = AlertDelivery {
                rule_id: rule.id,
                history_id: o.history_id,
                event: AlertEvent::Opened,
            };
            notify(state, rule, &delivery, &mut report).await;
        }
        let result: Result<Option<AlertDelivery>, StoreError> = match step(
            rule.fields.duration,
            found.is_some(),
            since,
            open.is_some(),
            now,
        ) {
            Step::Stay => Ok(None),
            Step::StartBreaching => state
                .store
                .start_breaching(rule.id, now)
                .await
                .map(|_| None),
            Step::StopBreaching => match since {
                Some(since) => state
                    .store
                    .stop_breaching(rule.id, since)
                    .await
                    .map(|_| None),
                None => Ok(None),
            },
            Step::Open => match found {
                Some((task_type, value)) => open_alert(state, rule, task_type, value, now).await,
                None => Ok(None),
            },
            Step::Close => match open {
                Some(o) => state
                    .store
                    .close_alert(rule.id, o.history_id, now)
                    .await
                    .map(|closed| {
                        closed.then_some(AlertDelivery {
                            rule_id: rule.id,
                            history_id: o.history_id,
                            event: AlertEvent::Closed,
                        })
                    }),
                None => Ok(None),
            },
        };
        match result {
            Ok(None) => {}
            Ok(Some(delivery)) => {
                match delivery.event {
                    AlertEvent::Opened => report.opened += 1,
                    AlertEvent::Closed => report.closed += 1,
                }
                tracing::warn!(
                    rule_id = rule.id,
                    history_id = delivery.history_id,
                    event = delivery.event.as_str(),
                    "polling alert"
                );
                notify(state, rule, &delivery, &mut report).await;
            }
            Err(e) => {
                report.failed += 1;
                tracing::error!(rule_id = rule.id, error = %e, "alert rule step failed; retried next run");
            }
        }
    }
    if report.failed > 0 && report.failed == report.rules {
        return Err(JobError(format!("{} alert rules failed", report.failed)));
    }
    Ok(report)
}

/// Queues `delivery` when `rule` has a webhook; an opening is then marked notified
/// (a failure leaves it pending for the next run).
async fn notify(
    state: &AppState,
    rule: &RuleRecord,
    delivery: &AlertDelivery,
    report: &mut Report,
) {
    if rule.notify.is_some() {
        if let Err(e) = enqueue(state, delivery).await {
            report.failed += 1;
            tracing::error!(rule_id = rule.id, error = %e, "alert notification not queued");
            return;
        }
        report.notified += 1;
    }
    if delivery.event == AlertEvent::Opened {
        if let Err(e) = state
            .store
            .opening_notified(rule.id, delivery.history_id)
            .await
        {
            tracing::warn!(rule_id = rule.id, error = %e, "alert opening not marked notified");
        }
    }
}

/// Opens an alert for `rule` on `value` of `task_type`: the delivery to queue, or
/// `None` when a concurrent run opened it (or the rule is gone).
async fn open_alert(
    state: &AppState,
    rule: &RuleRecord,
    task_type: crate::domain::polling::TaskType,
    value: f64,
    now: i64,
) -> Result<Option<AlertDelivery>, StoreError> {
    let id = state.store.next_id("polling_alert").await?;
    let h = AlertHistory {
        id,
        rule_id: rule.id,
        rule_name: rule.fields.rule_name.clone(),
        metric: rule.fields.metric,
        task_type: Some(task_type),
        operator: rule.fields.operator,
        threshold: rule.fields.threshold,
        metric_value: value,
        status: AlertStatus::Open,
        triggered_at: now,
        resolved_at: None,
        message: message(&rule.fields, Some(task_type), value),
    };
    Ok(state.store.open_alert(&h).await?.then_some(AlertDelivery {
        rule_id: rule.id,
        history_id: id,
        event: AlertEvent::Opened,
    }))
}
