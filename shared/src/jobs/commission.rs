//! Commission calculation (jobs.md J14) from the `commission-calculation` queue: a
//! message names an order; the calculation (`services::commissions::calculate`)
//! settles it once, whatever the number of deliveries. Orders are marked `due` in
//! the transaction that makes them paid; the message is sent after it commits, and
//! the commission sweeper re-sends what stayed due (a lost message, a failed send).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde::{Deserialize, Serialize};

use super::sqs::{handle_batch, JobError};
use crate::app::AppState;
use crate::config::JobQueue;
use crate::services::commissions::calculate::{calculate, Calculated};

/// A message of the `commission-calculation` queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalculationMessage {
    pub order_id: u64,
}

/// Asks for the commission calculation of order `order_id`.
pub async fn request_calculation(state: &AppState, order_id: u64) -> Result<(), JobError> {
    state
        .job_queue(JobQueue::CommissionCalculation)
        .send(&CalculationMessage { order_id })
        .await?;
    Ok(())
}

/// Asks for the calculation of `order_id` after its order committed; a failed send
/// is logged and left to the sweeper (the order stays `due`).
pub async fn request_after_commit(state: &AppState, order_id: u64) {
    if let Err(e) = request_calculation(state, order_id).await {
        tracing::warn!(order_id, error = %e, "commission request not sent; the sweeper will");
    }
}

/// Handles a batch of the queue (partial batch failures: a message whose
/// calculation met a storage failure is retried, then dead-lettered).
pub async fn handle(state: &AppState, event: SqsEvent) -> SqsBatchResponse {
    let decode =
        |body: &str| serde_json::from_str::<CalculationMessage>(body).map_err(|e| e.to_string());
    handle_batch(
        event,
        decode,
        |_| false,
        |m| async move { calculate_order(state, m.order_id).await.map(|_| ()) },
    )
    .await
}

/// Calculates one order's commission.
pub async fn calculate_order(state: &AppState, order_id: u64) -> Result<Calculated, JobError> {
    let done = calculate(state, order_id).await?;
    if let Calculated::Failed(why) = &done {
        tracing::error!(order_id, reason = %why, "commission calculation failed: configuration missing");
    }
    Ok(done)
}
