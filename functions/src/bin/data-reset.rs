//! Lambda `data-reset`: every minute (EventBridge Scheduler), six passes 10 s apart
//! resetting the data of usages whose reset moment passed
//! (`shared::jobs::data_reset`, jobs.md J13).

#![recursion_limit = "256"]
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::app::Clients;
use shared::jobs::data_reset;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let state = functions::start(Clients::TABLE).await?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let state = state.clone();
        async move {
            let reports = data_reset::run(&state)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
            Ok::<serde_json::Value, lambda_runtime::Error>(serde_json::json!(reports))
        }
    }))
    .await
}
