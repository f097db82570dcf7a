//! Counts DynamoDB operations per request, so tests can hold a request to a budget.
//!
//! An SDK interceptor increments the counter of the current task scope once per
//! operation (retries of the same operation are not counted again).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};

tokio::task_local! {
    static CALLS: Arc<AtomicUsize>;
}

/// Interceptor installed on the DynamoDB client.
#[derive(Debug, Default)]
pub struct CallCounter;

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let _ = CALLS.try_with(|c| c.fetch_add(1, Ordering::Relaxed));
        Ok(())
    }
}

/// Runs `fut` while counting its DynamoDB operations; returns its output and the count.
pub async fn counted<F: std::future::Future>(fut: F) -> (F::Output, usize) {
    let counter = Arc::new(AtomicUsize::new(0));
    let out = CALLS.scope(counter.clone(), fut).await;
    (out, counter.load(Ordering::Relaxed))
}

/// Wraps a future about to be spawned so its DynamoDB calls count toward the
/// spawning request (task-locals do not cross `tokio::spawn`).
pub fn inherit<F: std::future::Future>(fut: F) -> impl std::future::Future<Output = F::Output> {
    let counter = CALLS.try_with(Arc::clone).ok();
    async move {
        match counter {
            Some(c) => CALLS.scope(c, fut).await,
            None => fut.await,
        }
    }
}
