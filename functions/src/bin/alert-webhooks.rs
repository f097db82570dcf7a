//! Lambda `alert-webhooks`: delivers alert notifications of the `alert-webhooks`
//! queue as signed webhooks, retrying failures over SQS
//! (`shared::jobs::alert_webhooks`).

#![recursion_limit = "256"]
use lambda_http::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let state = functions::start(shared::app::Clients::TABLE).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let state = state.clone();
        async move {
            Ok::<SqsBatchResponse, lambda_runtime::Error>(
                shared::jobs::alert_webhooks::handle(&state, event.payload).await,
            )
        }
    }))
    .await
}
