//! The commission sweeper (every 5 minutes): re-sends the calculation of orders
//! that stayed `due` longer than [`RESEND_AFTER`] (their message was lost or its
//! send failed; a duplicate is harmless), and unfreezes the commission records whose
//! freeze ended. Both read only due items: the sparse due index of orders and the
//! sparse unfreeze index of records.

use serde::Serialize;

use super::commission::request_calculation;
use super::sqs::JobError;
use crate::app::AppState;
use crate::services::commissions::unfreeze::{unfreeze_due, UnfreezeReport};
use crate::store::keys::ORDERS_COMMISSION_DUE;

/// Age of a due order before the sweeper re-sends its calculation (seconds).
pub const RESEND_AFTER: i64 = 120;
/// Most due orders re-sent per run.
pub const RESEND_LIMIT: i32 = 1000;
/// Most records unfrozen per unfreeze shard per run.
pub const UNFREEZE_PER_SHARD: i32 = 500;

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Calculations re-sent.
    pub resent: usize,
    pub unfreeze: UnfreezeReport,
}

/// One run (see the module documentation).
pub async fn sweep(state: &AppState) -> Result<SweepReport, JobError> {
    let now = state.clock.now();
    let (due, _) = state
        .store
        .commission_orders(
            ORDERS_COMMISSION_DUE,
            now - RESEND_AFTER,
            RESEND_LIMIT,
            None,
        )
        .await?;
    for order in &due {
        request_calculation(state, order.id).await?;
    }
    if !due.is_empty() {
        tracing::warn!(resent = due.len(), "commission calculations re-sent");
    }
    let unfreeze = unfreeze_due(state, UNFREEZE_PER_SHARD).await?;
    Ok(SweepReport {
        resent: due.len(),
        unfreeze,
    })
}
