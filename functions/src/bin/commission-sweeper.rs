//! Lambda `commission-sweeper`: every 5 minutes (EventBridge Scheduler), re-sends
//! the calculations of orders left due and unfreezes the commissions whose freeze
//! ended (`shared::jobs::commission_sweeper`).

#![recursion_limit = "256"]
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::app::Clients;
use shared::jobs::commission_sweeper;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let state = functions::start(Clients::TABLE).await?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let state = state.clone();
        async move {
            let report = commission_sweeper::sweep(&state)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
            Ok::<serde_json::Value, lambda_runtime::Error>(serde_json::json!(report))
        }
    }))
    .await
}
