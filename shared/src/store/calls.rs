//! Counts DynamoDB operations, the items they read and the read capacity they
//! consume per request, so tests can hold a request to a budget and benchmarks can
//! print its cost.
//!
//! An SDK interceptor increments the counter of the current task scope once per
//! operation (retries of the same operation are not counted again). Within a counted
//! scope it also asks every read (`GetItem`, `BatchGetItem`, `Query`) to return its
//! consumed capacity and adds it up; the store adds the items each read evaluated (a
//! Query's `ScannedCount`, filtered out or not, and the items a get returned).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};

/// What a counted scope used.
#[derive(Debug, Default)]
struct Tally {
    calls: AtomicUsize,
    items_read: AtomicUsize,
    /// Read capacity units × 1000.
    read_milli: AtomicU64,
}

tokio::task_local! {
    static TALLY: Arc<Tally>;
}

/// What a counted future used.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    /// DynamoDB operations.
    pub calls: usize,
    /// Items read: those a Query evaluated (before its filter) and those a get
    /// returned.
    pub items_read: usize,
    /// Read capacity units the reads consumed (as DynamoDB reports them).
    pub read_units: f64,
}

/// Interceptor installed on the DynamoDB client.
#[derive(Debug, Default)]
pub struct CallCounter;

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if TALLY
            .try_with(|t| t.calls.fetch_add(1, Ordering::Relaxed))
            .is_err()
        {
            return Ok(());
        }
        let input = context.input_mut();
        let total = Some(ReturnConsumedCapacity::Total);
        if let Some(q) = input.downcast_mut::<QueryInput>() {
            q.return_consumed_capacity = total;
        } else if let Some(g) = input.downcast_mut::<GetItemInput>() {
            g.return_consumed_capacity = total;
        } else if let Some(b) = input.downcast_mut::<BatchGetItemInput>() {
            b.return_consumed_capacity = total;
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let units: f64 = if let Some(q) = output.downcast_ref::<QueryOutput>() {
            units_of(q.consumed_capacity.iter())
        } else if let Some(g) = output.downcast_ref::<GetItemOutput>() {
            units_of(g.consumed_capacity.iter())
        } else if let Some(b) = output.downcast_ref::<BatchGetItemOutput>() {
            units_of(b.consumed_capacity.iter().flatten())
        } else {
            0.0
        };
        let milli = (units * 1000.0).round() as u64;
        let _ = TALLY.try_with(|t| t.read_milli.fetch_add(milli, Ordering::Relaxed));
        Ok(())
    }
}

fn units_of<'a>(capacities: impl Iterator<Item = &'a ConsumedCapacity>) -> f64 {
    capacities.filter_map(|c| c.capacity_units).sum()
}

/// Adds `n` items read to the current scope (none outside a counted scope).
pub(crate) fn add_items_read(n: usize) {
    let _ = TALLY.try_with(|t| t.items_read.fetch_add(n, Ordering::Relaxed));
}

/// Runs `fut` while counting its DynamoDB operations; returns its output and the count.
pub async fn counted<F: std::future::Future>(fut: F) -> (F::Output, usize) {
    let (out, usage) = measured(fut).await;
    (out, usage.calls)
}

/// Runs `fut` while counting its DynamoDB operations, items read and read units.
pub async fn measured<F: std::future::Future>(fut: F) -> (F::Output, Usage) {
    let tally = Arc::new(Tally::default());
    let out = TALLY.scope(tally.clone(), fut).await;
    let usage = Usage {
        calls: tally.calls.load(Ordering::Relaxed),
        items_read: tally.items_read.load(Ordering::Relaxed),
        read_units: tally.read_milli.load(Ordering::Relaxed) as f64 / 1000.0,
    };
    (out, usage)
}

/// Wraps a future about to be spawned so its DynamoDB calls count toward the
/// spawning request (task-locals do not cross `tokio::spawn`).
pub fn inherit<F: std::future::Future>(fut: F) -> impl std::future::Future<Output = F::Output> {
    let tally = TALLY.try_with(Arc::clone).ok();
    async move {
        match tally {
            Some(t) => TALLY.scope(t, fut).await,
            None => fut.await,
        }
    }
}
