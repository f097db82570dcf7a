//! Lambda `polling-checks`: the real-name, card data, package and protect checks of
//! the four polling queues (jobs.md J5–J8; `shared::jobs::polling`), under each task
//! type's concurrency limit.

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
                shared::jobs::polling::handle(&state, event.payload).await,
            )
        }
    }))
    .await
}
