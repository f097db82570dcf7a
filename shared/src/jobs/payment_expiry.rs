//! The payment expiry job (jobs.md J1, decisions.md A28): every minute, online
//! payments still pending past their `expires_at` are cancelled, each on its own
//! (one failure never blocks the others), read from the sparse due index so a run's
//! cost follows the due items only. Agent recharges now; orders and asset recharges
//! join the same index when client payments arrive. Overlapping runs are harmless:
//! every cancellation is conditional on the record still being pending.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use super::sqs::JobError;
use crate::app::AppState;
use crate::domain::recharge::{AgentRecharge, RECHARGE_NO_PREFIX};
use crate::services::payment_configs::{open, OpenConfig};
use crate::services::payments;
use crate::services::recharge_payments::expire;
use crate::store::from_item;

/// Most records cancelled per run (the source's `OrderExpireBatchSize`).
pub const BATCH: u32 = 100;

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExpiryReport {
    /// Due records read from the index.
    pub due: usize,
    /// Cancelled by this run.
    pub cancelled: usize,
    /// Left for the next run (a failure, logged with the record).
    pub failed: usize,
}

/// Runs one pass at the state's clock.
pub async fn run(state: &AppState) -> Result<ExpiryReport, JobError> {
    let now = state.clock.now();
    let due = state.store.payments_due(now, BATCH).await?;
    let mut report = ExpiryReport {
        due: due.len(),
        ..Default::default()
    };
    // The index projects whole items: the records need no second read; each
    // configuration is read and opened once per run.
    let mut configs: HashMap<u64, Option<OpenConfig>> = HashMap::new();
    for (kind, id, item) in due {
        let result = match kind.as_str() {
            RECHARGE_NO_PREFIX => match from_item::<AgentRecharge>(item) {
                Ok(r) => match expire(state, &r, now).await {
                    Ok(true) => {
                        close(state, &mut configs, r.payment_config_id, &r.recharge_no).await;
                        Ok(true)
                    }
                    other => other.map_err(|e| e.to_string()),
                },
                Err(e) => Err(e.to_string()),
            },
            other => Err(format!("unknown payment kind {other}")),
        };
        match result {
            Ok(true) => report.cancelled += 1,
            Ok(false) => {}
            Err(e) => {
                report.failed += 1;
                tracing::error!(kind = %kind, id, error = %e, "expiry failed; retried next run");
            }
        }
    }
    if report.due > 0 {
        tracing::info!(
            due = report.due,
            cancelled = report.cancelled,
            failed = report.failed,
            "payment expiry run"
        );
    }
    if report.failed > 0 && report.cancelled == 0 {
        return Err(JobError(format!(
            "{} due payments could not be cancelled",
            report.failed
        )));
    }
    Ok(report)
}

/// Closes `out_trade_no` at the provider of configuration `config_id` (best effort:
/// an unreadable configuration or a refusal is logged), opening each configuration
/// once per run.
async fn close(
    state: &AppState,
    configs: &mut HashMap<u64, Option<OpenConfig>>,
    config_id: Option<u64>,
    out_trade_no: &str,
) {
    let Some(id) = config_id else { return };
    let config = match configs.entry(id) {
        Entry::Occupied(e) => e.into_mut(),
        Entry::Vacant(e) => {
            let opened = match state.store.payment_config(id).await {
                Ok(Some(record)) => open(state, record).await.ok(),
                _ => None,
            };
            e.insert(opened)
        }
    };
    match config {
        Some(config) => payments::close(state, config, out_trade_no).await,
        None => tracing::warn!(
            config_id = id,
            out_trade_no,
            "payment config unreadable; provider order left to time out"
        ),
    }
}
