//! Webhook deliveries (`alert-webhooks` queue): each message asks for one signed POST
//! of an alert event, or of a usage rule's firing, to its rule's webhook
//! (`docs/webhooks.md`). A
//! failed attempt is retried over SQS after 30 s, 2 min and 10 min (the message's
//! visibility is changed by its receive count); the last attempt's failure marks the
//! delivery failed and acknowledges the message. Every attempt is logged (per alert
//! rule; on the firing for usage rules).

use std::sync::OnceLock;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::sqs::{receive_count, JobError};
use crate::app::AppState;
use crate::config::JobQueue;
use crate::domain::polling_alerts::{AlertEvent, AlertHistory};
use crate::integrations::webhooks;
use crate::services::polling_alerts::open_secret;
use crate::services::usage_rules::fire::{UsageDelivery, EVENT as USAGE_EVENT};
use crate::services::webhook_targets;
use crate::store::polling_alerts::{DeliveryAttempt, DeliveryStatus};
use crate::store::usage_rules::{secret_context as usage_secret_context, Firing};

/// Attempts of one delivery (the queue's dead-letter limit is higher: a delivery
/// ends here, never in the dead-letter queue, unless the job itself keeps failing).
pub const MAX_ATTEMPTS: i64 = 4;
/// Seconds before attempt 2, 3, 4.
pub const RETRY_SECS: [i32; 3] = [30, 120, 600];

/// One delivery to make.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDelivery {
    pub rule_id: u64,
    pub history_id: u64,
    pub event: AlertEvent,
}

impl AlertDelivery {
    /// The delivery's id (`X-CMP-Delivery`, the same on every attempt).
    pub fn id(&self) -> String {
        format!("alert-{}-{}", self.history_id, self.event.as_str())
    }
}

/// The JSON body POSTed to the webhook.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WebhookBody {
    /// The delivery id.
    pub id: String,
    /// `alert.opened` or `alert.closed`.
    pub event: String,
    /// The alert as it is now.
    pub alert: AlertHistory,
}

/// A message of the queue: an alert's delivery or a usage rule firing's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WebhookJob {
    Alert(AlertDelivery),
    Usage(UsageDelivery),
}

/// The JSON body POSTed for a usage rule's firing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UsageWebhookBody {
    /// The delivery id.
    pub id: String,
    /// `usage.threshold_crossed`.
    pub event: String,
    /// The firing as it is now (its action's outcome included).
    pub firing: Firing,
}

/// Queues the delivery of `event` for alert `history_id` of rule `rule_id`.
pub async fn enqueue(state: &AppState, delivery: &AlertDelivery) -> Result<(), JobError> {
    Ok(state
        .job_queue(JobQueue::AlertWebhooks)
        .send(delivery)
        .await?)
}

/// Seconds until attempt `attempt + 1` after attempt `attempt` failed.
pub fn retry_delay(attempt: i64) -> i32 {
    let i = usize::try_from(attempt.saturating_sub(1)).unwrap_or(0);
    RETRY_SECS
        .get(i)
        .or(RETRY_SECS.last())
        .copied()
        .unwrap_or(600)
}

fn http() -> &'static reqwest::Client {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    HTTP.get_or_init(crate::integrations::http_client)
}

/// Handles one batch of the queue; failed attempts are retried later by SQS.
pub async fn handle(state: &AppState, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in &event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!("message", message_id = %id);
        let result = async {
            let body = record.body.as_deref().unwrap_or_default();
            let job: WebhookJob = serde_json::from_str(body)
                .map_err(|e| JobError(format!("undecodable message: {e}")))?;
            match job {
                WebhookJob::Alert(d) => deliver(state, &d, receive_count(record)).await,
                WebhookJob::Usage(d) => deliver_usage(state, &d, receive_count(record)).await,
            }
        }
        .instrument(span.clone())
        .await;
        if let Err(e) = result {
            span.in_scope(|| tracing::warn!(error = %e, "delivery failed; retried later"));
            retry_later(state, record).await;
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            response.batch_item_failures.push(f);
        }
    }
    response
}

async fn retry_later(state: &AppState, record: &SqsMessage) {
    let Some(receipt) = record.receipt_handle.as_deref() else {
        return;
    };
    let delay = retry_delay(receive_count(record));
    if let Err(e) = state
        .job_queue(JobQueue::AlertWebhooks)
        .retry_after(receipt, delay)
        .await
    {
        tracing::warn!(error = %e, "could not delay a delivery's retry");
    }
}

/// Makes attempt `attempt` of `d`: `Err` when it should be retried.
async fn deliver(state: &AppState, d: &AlertDelivery, attempt: i64) -> Result<(), JobError> {
    let now = state.clock.now();
    let log = |status, http_status, error| DeliveryAttempt {
        rule_id: d.rule_id,
        history_id: d.history_id,
        event: d.event.as_str().to_string(),
        attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
        status,
        http_status,
        error,
        at: now,
    };
    let rule = state.store.alert_rule(d.rule_id).await?;
    let Some((rule, url)) = rule.and_then(|r| {
        let url = r.notify.as_ref().map(|n| n.webhook_url.clone())?;
        Some((r, url))
    }) else {
        // Deleted, or its webhook removed: nothing to deliver any more.
        let reason = Some("rule deleted or webhook removed".to_string());
        state
            .store
            .record_delivery(&log(DeliveryStatus::Failed, None, reason))
            .await?;
        return Ok(());
    };
    let Some(alert) = state.store.alert_history(d.history_id).await? else {
        tracing::error!(history_id = d.history_id, "alert missing; delivery dropped");
        return Ok(());
    };
    let secret = open_secret(state, &rule)
        .await
        .map_err(|e| JobError(e.to_string()))?
        .unwrap_or_default();
    let body = WebhookBody {
        id: d.id(),
        event: d.event.as_str().to_string(),
        alert,
    };
    let bytes = serde_json::to_vec(&body).map_err(|e| JobError(e.to_string()))?;
    let outcome =
        webhooks::post(http(), &url, &secret, now, d.event.as_str(), &d.id(), bytes).await;
    let Some(error) = outcome.error else {
        state
            .store
            .record_delivery(&log(DeliveryStatus::Delivered, outcome.http_status, None))
            .await?;
        tracing::info!(delivery = %d.id(), attempt, "alert webhook delivered");
        return Ok(());
    };
    if attempt >= MAX_ATTEMPTS {
        state
            .store
            .record_delivery(&log(
                DeliveryStatus::Failed,
                outcome.http_status,
                Some(error.clone()),
            ))
            .await?;
        tracing::error!(delivery = %d.id(), attempt, error, "alert webhook failed; given up");
        return Ok(());
    }
    state
        .store
        .record_delivery(&log(
            DeliveryStatus::Retrying,
            outcome.http_status,
            Some(error.clone()),
        ))
        .await?;
    Err(JobError(error))
}

/// Makes attempt `attempt` of usage delivery `d`: `Err` when it should be retried.
async fn deliver_usage(state: &AppState, d: &UsageDelivery, attempt: i64) -> Result<(), JobError> {
    let store = &state.store;
    let n = u32::try_from(attempt).unwrap_or(u32::MAX);
    let Some(firing) = store.firing(d.firing_id).await? else {
        tracing::error!(firing_id = d.firing_id, "firing missing; delivery dropped");
        return Ok(());
    };
    let target = store
        .usage_rule(firing.rule_id)
        .await?
        .and_then(|r| r.notify.map(|n| (r.id, n)));
    let Some((rule_id, notify)) = target else {
        store
            .record_firing_delivery(
                firing.id,
                n,
                "failed",
                None,
                Some("rule deleted or webhook removed"),
            )
            .await?;
        return Ok(());
    };
    let secret = webhook_targets::open(state, &notify, &usage_secret_context(rule_id))
        .await
        .map_err(|e| JobError(e.to_string()))?;
    let body = UsageWebhookBody {
        id: d.id(),
        event: USAGE_EVENT.to_string(),
        firing,
    };
    let bytes = serde_json::to_vec(&body).map_err(|e| JobError(e.to_string()))?;
    let now = state.clock.now();
    let outcome = webhooks::post(
        http(),
        &notify.webhook_url,
        &secret,
        now,
        USAGE_EVENT,
        &d.id(),
        bytes,
    )
    .await;
    let Some(error) = outcome.error else {
        store
            .record_firing_delivery(d.firing_id, n, "delivered", outcome.http_status, None)
            .await?;
        return Ok(());
    };
    let status = if attempt >= MAX_ATTEMPTS {
        "failed"
    } else {
        "retrying"
    };
    store
        .record_firing_delivery(d.firing_id, n, status, outcome.http_status, Some(&error))
        .await?;
    if attempt >= MAX_ATTEMPTS {
        tracing::error!(delivery = %d.id(), attempt, error, "usage webhook failed; given up");
        return Ok(());
    }
    Err(JobError(error))
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_of_both_kinds_decode() {
        use super::WebhookJob;
        let alert = r#"{"rule_id":1,"history_id":2,"event":"alert.opened"}"#;
        assert!(matches!(
            serde_json::from_str(alert),
            Ok(WebhookJob::Alert(_))
        ));
        let usage = r#"{"firing_id":7}"#;
        assert!(matches!(
            serde_json::from_str(usage),
            Ok(WebhookJob::Usage(_))
        ));
    }

    #[test]
    fn retries_back_off() {
        let got: Vec<i32> = (1..=5).map(super::retry_delay).collect();
        assert_eq!(got, vec![30, 120, 600, 600, 600]);
        assert_eq!(super::retry_delay(0), 30);
    }
}
