//! Carrier gateway client overhead (run by `scripts/bench-gateway.sh`): requests/s the
//! client signs, encrypts and sends to the local fake gateway at 0 ms latency, one at
//! a time and 16 in flight, plus the CPU-only encrypt+sign rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shared::clock::Clock;
use shared::integrations::gateway::client::{GatewayClient, GatewayConfig};
use shared::integrations::gateway::crypto::{AesEcbMd5, GatewayCrypto};
use shared::integrations::gateway::fake::{FakeCard, FakeGateway};

const ICCID: &str = "89860012345678901234";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::var("REQUESTS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5000);
    let crypto = Arc::new(AesEcbMd5::new("bench-gateway-secret-0001")?);
    let fake = FakeGateway::start("bench", crypto.clone(), 0).await?;
    fake.set_card(
        ICCID,
        FakeCard {
            started: true,
            verified: true,
            used_mb: 1.0,
        },
    );
    let cfg = GatewayConfig {
        base_url: fake.url.clone(),
        app_id: "bench".into(),
        attempt_timeout: Duration::from_secs(5),
        max_retries: 2,
    };
    let client = GatewayClient::new(cfg, crypto.clone(), Clock::default())?;
    let params = json!({"cardNo": ICCID});

    let started = Instant::now();
    let body = serde_json::to_vec(&json!({ "params": params }))?;
    for i in 0..n {
        let data = crypto.encrypt(&body);
        std::hint::black_box(crypto.sign("bench", &data, 1_800_000_000 + i as i64));
    }
    println!(
        "encrypt+sign (CPU only): {:.0} /s",
        n as f64 / started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    for _ in 0..n {
        let _: Value = client.call("/flow-card/flow", &params).await?;
    }
    println!(
        "sequential: {n} requests in {:.2} s = {:.0} req/s",
        started.elapsed().as_secs_f64(),
        n as f64 / started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..16 {
        let client = client.clone();
        let params = params.clone();
        set.spawn(async move {
            for _ in (w..n).step_by(16) {
                let _: Value = client.call("/flow-card/flow", &params).await?;
            }
            Ok::<(), shared::integrations::gateway::client::GatewayError>(())
        });
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    println!(
        "16 in flight: {n} requests in {:.2} s = {:.0} req/s",
        started.elapsed().as_secs_f64(),
        n as f64 / started.elapsed().as_secs_f64()
    );
    println!("(the fake gateway runs in the same process, so these figures include its work)");
    Ok(())
}
