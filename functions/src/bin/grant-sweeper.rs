//! Lambda `grant-sweeper`: every minute, settles series grants left half-created or
//! half-deleted by an interrupted request (`shared::jobs::grant_sweeper`).

use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::app::Clients;
use shared::jobs::grant_sweeper::{sweep, Sweep};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let state = functions::start(Clients::TABLE).await?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let state = state.clone();
        async move {
            let done = sweep(&state.store, state.clock.now()).await?;
            tracing::info!(settled = done.settled, unsettled = ?done.unsettled, "grant sweep done");
            Ok::<Sweep, lambda_runtime::Error>(done)
        }
    }))
    .await
}
