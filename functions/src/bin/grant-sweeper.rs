//! Lambda `grant-sweeper`: every minute, settles series grants left half-created or
//! half-deleted by an interrupted request (`shared::jobs::grant_sweeper`) and sends
//! again the first message of import tasks left pending by one
//! (`shared::jobs::import_sweeper`).

use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::app::Clients;
use shared::jobs::{grant_sweeper, import_sweeper};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let state = functions::start(Clients::TABLE.import_queue()).await?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let state = state.clone();
        async move {
            let now = state.clock.now();
            // Both sweeps run even when the other fails; the run fails if either did.
            let grants = grant_sweeper::sweep(&state.store, now).await;
            let imports = import_sweeper::sweep(&state, now).await;
            let (grants, imports) = (grants?, imports?);
            tracing::info!(
                settled = grants.settled,
                unsettled = ?grants.unsettled,
                resent = ?imports.resent,
                "sweep done"
            );
            Ok::<serde_json::Value, lambda_runtime::Error>(serde_json::json!({
                "grants": grants,
                "imports": imports,
            }))
        }
    }))
    .await
}
