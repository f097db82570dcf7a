//! Lambda `import-worker`: CSV import chunks from the FIFO import queue and import
//! file arrivals (S3 notifications) from the standard import events queue, one
//! handler for both (jobs.md J16, J17).

#![recursion_limit = "256"]
use lambda_http::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let state = functions::start(shared::app::Clients::TABLE.s3().import_queue()).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let state = state.clone();
        async move {
            Ok::<SqsBatchResponse, lambda_runtime::Error>(
                shared::jobs::import::handle(&state, event.payload).await,
            )
        }
    }))
    .await
}
