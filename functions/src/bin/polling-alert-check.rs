//! Lambda `polling-alert-check`: every minute (EventBridge Scheduler), evaluates the
//! polling alert rules on the polling metrics and notifies (jobs.md J2), then takes
//! up the usage-rule firings whose check died before acting.

#![recursion_limit = "256"]
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::app::Clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let state = functions::start(Clients::TABLE.gateway()).await?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let state = state.clone();
        async move {
            let err = |e: String| lambda_runtime::Error::from(e);
            let snapshot = shared::services::polling::admin::metrics_snapshot(&state)
                .await
                .map_err(|e| err(e.to_string()))?;
            let report = shared::jobs::polling_alerts::run(&state, state.clock.now(), &snapshot)
                .await
                .map_err(|e| err(e.to_string()))?;
            let swept = shared::services::usage_rules::fire::sweep(&state)
                .await
                .map_err(|e| err(e.to_string()))?;
            Ok::<serde_json::Value, lambda_runtime::Error>(
                serde_json::json!({ "alerts": report, "usage_firings": swept }),
            )
        }
    }))
    .await
}
