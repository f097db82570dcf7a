//! Polling benchmark against the local stack (run by `scripts/bench-polling.sh`):
//! CARDS (default 20 000) cards due for a card data check, the fake gateway
//! answering after LATENCY_MS (50), the task type's concurrency limit CONCURRENCY
//! (50) and CONSUMERS (8) concurrent handler invocations (as Lambda would run them).
//! One dispatcher run sends the due cohorts; the consumers drain the queue. Prints
//! checks per second, the most concurrent requests the fake saw, and DynamoDB and
//! SQS operations per check. GROWTH (MB per hour per card, default 3 600) set to 0
//! measures unchanged readings (no writes), the common case between usage changes.

#![recursion_limit = "256"]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::app::AppState;
use shared::config::{Config, JobQueue};
use shared::domain::polling::{minute, TaskType, CARDS_PER_MESSAGE};
use shared::integrations::gateway::crypto::{AesEcbMd5, GatewayCrypto};
use shared::integrations::gateway::fake::FakeGateway;
use shared::local::scale::{bench_carrier, seed_tenant, Size};
use shared::local::LocalError;
use shared::store::calls::measured;

const SECRET: &str = "bench-gateway-secret";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn local_state(gateway_url: &str) -> Result<AppState, LocalError> {
    let endpoint = std::env::var("CMP_AWS_ENDPOINT").map_err(|_| "CMP_AWS_ENDPOINT is not set")?;
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let table = format!("bench-poll-{unique}");
    let mut cfg = Config::for_local(&table, &endpoint);
    cfg.bucket = table.clone();
    cfg.gateway_url = Some(gateway_url.to_string());
    cfg.gateway_app_id = "cmp".into();
    cfg.gateway_app_secret = SECRET.into();
    cfg.gateway_timeout_ms = 5000;
    cfg.super_admin_password = Some("Bench#2026admin".into());
    let state = shared::local::ensure(cfg, &endpoint, &format!("{table}.fifo")).await?;
    shared::services::auth::bootstrap(&state).await?;
    Ok(state)
}

#[tokio::main]
async fn main() -> Result<(), LocalError> {
    let cards = env_number("CARDS", 20_000);
    let latency = env_number("LATENCY_MS", 50);
    let limit = env_number("CONCURRENCY", 50);
    let consumers = env_number("CONSUMERS", 8);
    let growth = env_number("GROWTH", 3_600) as f64;
    let crypto: Arc<dyn GatewayCrypto> = Arc::new(AesEcbMd5::new(SECRET)?);
    let fake = FakeGateway::start("cmp", crypto, 0).await?;
    let state = local_state(&fake.url).await?;
    let store = &state.store;
    let now = state.clock.now();

    println!("seeding {cards} cards");
    let carrier = bench_carrier(store).await?;
    let size = Size {
        shops: 42,
        accounts: 2,
        cards,
    };
    let role = store
        .get(&shared::store::keys::unique("role_name", "代理商管理员"))
        .await?
        .and_then(|item| shared::store::num_attr(&item, "target_id"))
        .ok_or("the built-in agent role is missing")? as u64;
    seed_tenant(store, now, "PB", size, role, &carrier).await?;
    let next = store.next_ids("card", 1).await?;
    let ids: Vec<u64> = (next - cards as u64..next).collect();
    // Started, verified cards using GROWTH MB an hour (by default 1 MB a second:
    // every check finds new usage and writes it, the costly case).
    for &id in &ids {
        let iccid = format!("8986{:016}", 7_000_000_000_000 + id);
        fake.set_card(
            &iccid,
            shared::integrations::gateway::fake::FakeCard {
                started: true,
                verified: true,
                used_mb: 0.0,
            },
        );
        fake.set_growth(&iccid, growth);
    }
    for chunk in ids.chunks(5_000) {
        store
            .join_cohorts(TaskType::Carddata, minute(now) - 1, chunk)
            .await?;
    }
    store
        .set_max_concurrency(TaskType::Carddata, limit as i64)
        .await?;
    fake.set_latency(Duration::from_millis(latency as u64));
    fake.reset_max_in_flight();
    fake.reset_counts();

    let started = Instant::now();
    let (dispatched, dispatch_usage) = measured(
        shared::services::polling::dispatch::dispatch_task(&state, TaskType::Carddata, now),
    )
    .await;
    let dispatched = dispatched?;
    let receives = Arc::new(AtomicUsize::new(0));
    // Microseconds spent in the check handler (the rest of a consumer's time is
    // receiving and deleting messages).
    let in_handler = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..consumers {
        let (state, receives, in_handler) = (state.clone(), receives.clone(), in_handler.clone());
        set.spawn(measured(async move {
            let mut empty = 0;
            while empty < 2 {
                receives.fetch_add(1, Ordering::Relaxed);
                let n = shared::local::pump_job_queue(&state, JobQueue::PollingCarddata, 1, |e| {
                    let (state, in_handler) = (&state, &in_handler);
                    async move {
                        let t = Instant::now();
                        let r = shared::jobs::polling::handle(state, e).await;
                        in_handler.fetch_add(t.elapsed().as_micros() as usize, Ordering::Relaxed);
                        r
                    }
                })
                .await
                .unwrap_or(0);
                empty = if n == 0 { empty + 1 } else { 0 };
            }
        }));
    }
    let mut ddb_calls = dispatch_usage.calls;
    while let Some(done) = set.join_next().await {
        ddb_calls += done.map(|(_, u)| u.calls).unwrap_or(0);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let checks = fake.count("/flow-card/flow") as f64;
    let messages = dispatched.messages;
    // Dispatch: one SendMessageBatch per 10 messages; consumers: the receives they
    // made (including the empty ones at the end) and one delete per message.
    let sqs_ops = messages.div_ceil(10) + receives.load(Ordering::Relaxed) + messages;
    println!(
        "dispatched {} cards in {} cohorts, {} messages of up to {CARDS_PER_MESSAGE}",
        dispatched.cards, dispatched.cohorts, messages
    );
    println!(
        "checks: {checks} in {elapsed:.1} s = {:.0} checks/s (gateway latency {latency} ms, \
         limit {limit}: ideal {:.0}/s)",
        checks / elapsed,
        limit as f64 * 1000.0 / latency.max(1) as f64
    );
    println!(
        "consumers spent {:.1} s in the check handler (of {:.1} s each)",
        in_handler.load(Ordering::Relaxed) as f64 / 1e6 / consumers.max(1) as f64,
        elapsed
    );
    println!(
        "most concurrent gateway requests seen: {} (limit {limit})",
        fake.max_in_flight()
    );
    println!(
        "DynamoDB calls per check: {:.3} ({ddb_calls} in all); SQS operations per check: {:.3} \
         ({sqs_ops})",
        ddb_calls as f64 / checks.max(1.0),
        sqs_ops as f64 / checks.max(1.0)
    );
    Ok(())
}
