//! Lambda `grant-sweeper`: every minute, settles series grants left half-created or
//! half-deleted by an interrupted request (`shared::jobs::grant_sweeper`) and sends
//! again the first message of import and bulk tasks left pending by one
//! (`shared::jobs::import_sweeper`, `shared::jobs::bulk_sweeper`).

use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::app::Clients;
use shared::jobs::{bulk_sweeper, grant_sweeper, import_sweeper};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let state = functions::start(Clients::TABLE.import_queue().bulk_queue()).await?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let state = state.clone();
        async move {
            let now = state.clock.now();
            // Every sweep runs even when another fails; the run fails if any did.
            let grants = grant_sweeper::sweep(&state.store, now).await;
            let imports = import_sweeper::sweep(&state, now).await;
            let bulk = bulk_sweeper::sweep(&state, now).await;
            let (grants, imports, bulk) = (grants?, imports?, bulk?);
            tracing::info!(
                settled = grants.settled,
                unsettled = ?grants.unsettled,
                resent = ?imports.resent,
                bulk_resent = ?bulk.resent,
                "sweep done"
            );
            Ok::<serde_json::Value, lambda_runtime::Error>(serde_json::json!({
                "grants": grants,
                "imports": imports,
                "bulk_tasks": bulk,
            }))
        }
    }))
    .await
}
