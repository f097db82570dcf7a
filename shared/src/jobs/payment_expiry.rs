//! The payment expiry job (jobs.md J1, decisions.md A28): every minute, online
//! payments still pending past their `expires_at` are cancelled, each on its own
//! (one failure never blocks the others), read from the sparse due index so a run's
//! cost follows the due items only. Agent recharges now; orders and asset recharges
//! join the same index when client payments arrive. Overlapping runs are harmless:
//! every cancellation is conditional on the record still being pending.

use super::sqs::JobError;
use crate::app::AppState;
use crate::domain::recharge::RECHARGE_NO_PREFIX;
use crate::services::recharge_payments::expire;

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
    for (kind, id) in due {
        let result = match kind.as_str() {
            RECHARGE_NO_PREFIX => match state.store.recharge(id).await {
                Ok(Some(r)) => expire(state, &r, now).await.map_err(|e| e.to_string()),
                Ok(None) => Ok(false),
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
