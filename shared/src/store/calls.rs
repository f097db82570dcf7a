//! Counts DynamoDB operations (and the items they read) per request, so tests can
//! hold a request to a budget.
//!
//! An SDK interceptor increments the counter of the current task scope once per
//! operation (retries of the same operation are not counted again); the store adds
//! the items each read evaluated (a Query's `ScannedCount`, filtered out or not).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicUsize,
    items_read: AtomicUsize,
}

tokio::task_local! {
    static COUNTERS: Arc<Counters>;
}

/// What a scope spent on DynamoDB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Operations sent.
    pub calls: usize,
    /// Items read: those a Query evaluated (before its filter) and those a get
    /// returned.
    pub items_read: usize,
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
        let _ = COUNTERS.try_with(|c| c.calls.fetch_add(1, Ordering::Relaxed));
        Ok(())
    }
}

/// Adds `n` items read to the current scope (none outside a counted scope).
pub(crate) fn add_items_read(n: usize) {
    let _ = COUNTERS.try_with(|c| c.items_read.fetch_add(n, Ordering::Relaxed));
}

/// Runs `fut` while counting its DynamoDB operations; returns its output and the count.
pub async fn counted<F: std::future::Future>(fut: F) -> (F::Output, usize) {
    let (out, usage) = measured(fut).await;
    (out, usage.calls)
}

/// Runs `fut` while counting its DynamoDB operations and the items they read.
pub async fn measured<F: std::future::Future>(fut: F) -> (F::Output, Usage) {
    let counters = Arc::new(Counters::default());
    let out = COUNTERS.scope(counters.clone(), fut).await;
    let usage = Usage {
        calls: counters.calls.load(Ordering::Relaxed),
        items_read: counters.items_read.load(Ordering::Relaxed),
    };
    (out, usage)
}

/// Wraps a future about to be spawned so its DynamoDB calls count toward the
/// spawning request (task-locals do not cross `tokio::spawn`).
pub fn inherit<F: std::future::Future>(fut: F) -> impl std::future::Future<Output = F::Output> {
    let counters = COUNTERS.try_with(Arc::clone).ok();
    async move {
        match counters {
            Some(c) => COUNTERS.scope(c, fut).await,
            None => fut.await,
        }
    }
}
