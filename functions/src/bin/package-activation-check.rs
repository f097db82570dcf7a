//! Lambda `package-activation-check`: every minute (EventBridge Scheduler), six
//! passes 10 s apart ending expired main packages and their add-ons and asking for
//! the next queued main (`shared::jobs::package_activation_check`, jobs.md J10).

#![recursion_limit = "256"]
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::app::Clients;
use shared::jobs::package_activation_check;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let state = functions::start(Clients::TABLE).await?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let state = state.clone();
        async move {
            let reports = package_activation_check::run(&state)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
            Ok::<serde_json::Value, lambda_runtime::Error>(serde_json::json!(reports))
        }
    }))
    .await
}
