//! Lambda `package-activation`: starts queued main packages and those waiting for
//! real-name verification, then resumes cards stopped for data exhaustion, from the
//! `package-activation` queue (jobs.md J11, J12; `shared::jobs::package_activation`).

#![recursion_limit = "256"]
use lambda_http::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::app::Clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let state = functions::start(Clients::TABLE.gateway()).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let state = state.clone();
        async move {
            Ok::<SqsBatchResponse, lambda_runtime::Error>(
                shared::jobs::package_activation::handle(&state, event.payload).await,
            )
        }
    }))
    .await
}
