//! Lambda `polling-dispatch`: every minute (EventBridge Scheduler), sends the due
//! polling cohorts to the check queues (jobs.md J4; `shared::jobs::polling`).

#![recursion_limit = "256"]
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::app::Clients;
use shared::jobs::polling;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let state = functions::start(Clients::TABLE).await?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let state = state.clone();
        async move {
            let report = polling::dispatch(&state)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
            Ok::<serde_json::Value, lambda_runtime::Error>(serde_json::json!(report))
        }
    }))
    .await
}
