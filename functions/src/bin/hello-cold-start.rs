//! Baseline of `scripts/bench-cold-start.sh` (never deployed): the smallest
//! `lambda_runtime` function, built with the release profile like the real ones, so
//! their cold start can be compared with what the runtime alone costs.

use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            Ok::<serde_json::Value, lambda_runtime::Error>(serde_json::json!({
                "hello": event.context.request_id,
            }))
        },
    ))
    .await
}
