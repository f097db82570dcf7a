//! Lambda `tasks`: run-now requests of scheduled work from the tasks queue
//! (`shared::jobs::tasks`: data cleanup now; data reset later).

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
                shared::jobs::tasks::handle(&state, event.payload).await,
            )
        }
    }))
    .await
}
