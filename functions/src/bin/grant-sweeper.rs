//! Lambda `grant-sweeper`: every minute, settles series grants left half-created or
//! half-deleted by an interrupted request (see `shared::services::grants::retire`).

use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let state = functions::start().await?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let state = state.clone();
        async move {
            let settled =
                shared::services::grants::settle_stale_grants(&state.store, state.clock.now())
                    .await?;
            tracing::info!(settled, "grant sweep done");
            Ok::<serde_json::Value, lambda_runtime::Error>(
                serde_json::json!({ "settled": settled }),
            )
        }
    }))
    .await
}
