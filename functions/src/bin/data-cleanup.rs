//! Lambda `data-cleanup`: daily at 02:00 Asia/Shanghai (EventBridge Scheduler),
//! deletes items older than their cleanup configuration's retention
//! (`shared::jobs::data_cleanup`). The event may name one configuration:
//! `{"config_id": 3}`.

#![recursion_limit = "256"]
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::app::Clients;
use shared::jobs::data_cleanup;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let state = functions::start(Clients::TABLE).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let state = state.clone();
        async move {
            let only = event.payload.get("config_id").and_then(|v| v.as_u64());
            let report = data_cleanup::run(&state, state.clock.now(), only)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
            Ok::<serde_json::Value, lambda_runtime::Error>(serde_json::json!(report))
        }
    }))
    .await
}
