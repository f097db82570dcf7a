//! The fake gateway's simulation and load features, through the real client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeZone;

use super::cards::period_start;
use super::*;
use crate::clock::{cst, Clock};
use crate::integrations::gateway::client::{GatewayClient, GatewayConfig, GatewayError};
use crate::integrations::gateway::crypto::AesEcbMd5;

const ICCID: &str = "89860012345678901234";
const HOUR: i64 = 3600;

/// Epoch of a wall time in Asia/Shanghai.
fn at(y: i32, m: u32, d: u32, h: u32) -> i64 {
    cst()
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .timestamp()
}

/// A fake on `clock` with one started, unverified card at `used_mb`, and a client on
/// the same clock.
async fn setup(clock: &Clock, used_mb: f64) -> (FakeGateway, GatewayClient) {
    let crypto: Arc<dyn GatewayCrypto> =
        Arc::new(AesEcbMd5::new("fake-gateway-test-secret").unwrap());
    let fake = FakeGateway::start("app-1", crypto.clone(), 0)
        .await
        .unwrap();
    fake.set_clock(clock.clone());
    fake.set_card(
        ICCID,
        FakeCard {
            started: true,
            verified: false,
            used_mb,
        },
    );
    let cfg = GatewayConfig {
        base_url: fake.url.clone(),
        app_id: "app-1".into(),
        attempt_timeout: Duration::from_secs(5),
        max_retries: 0,
    };
    let client = GatewayClient::new(cfg, crypto, clock.clone()).unwrap();
    (fake, client)
}

async fn used(client: &GatewayClient, iccid: &str) -> f64 {
    client.flow(iccid).await.unwrap().used
}

#[tokio::test]
async fn usage_grows_with_simulated_time_only_while_started() {
    let clock = Clock::default();
    clock.set(at(2026, 3, 10, 12));
    let (fake, client) = setup(&clock, 10.0).await;
    assert_eq!(used(&client, ICCID).await, 10.0, "no growth set yet");
    assert!(fake.set_growth(ICCID, 6.0));
    clock.advance(HOUR / 2);
    assert_eq!(used(&client, ICCID).await, 13.0);
    clock.advance(2 * HOUR);
    assert_eq!(used(&client, ICCID).await, 25.0);

    // Stopped through the protocol: nothing is used until started again.
    client.switch_card_network(ICCID, true).await.unwrap();
    clock.advance(5 * HOUR);
    assert_eq!(used(&client, ICCID).await, 25.0);
    client.switch_card_network(ICCID, false).await.unwrap();
    clock.advance(HOUR);
    assert_eq!(used(&client, ICCID).await, 31.0);
    // Stopped by the test helper, mid-interval, with no read at the stop.
    clock.advance(HOUR / 2);
    assert!(fake.set_started(ICCID, false));
    clock.advance(10 * HOUR);
    assert!(fake.set_started(ICCID, true));
    clock.advance(HOUR / 2);
    assert_eq!(used(&client, ICCID).await, 37.0);
    assert_eq!(fake.card(ICCID).unwrap().used_mb, 37.0, "card() agrees");

    // A new rate applies from now on; the usage so far is kept.
    assert!(fake.set_growth(ICCID, 1.0));
    clock.advance(3 * HOUR);
    assert_eq!(used(&client, ICCID).await, 40.0);
    // Many reads do not drift the figure.
    for _ in 0..50 {
        clock.advance(36);
        fake.card(ICCID);
    }
    assert_eq!(used(&client, ICCID).await, 40.5);
    // Unknown cards are refused.
    assert!(!fake.set_growth("89860000000000000000", 1.0));
}

#[tokio::test]
async fn usage_restarts_on_the_billing_day_in_shanghai_time() {
    let clock = Clock::default();
    // 31 March 23:00 in Shanghai (15:00 UTC): the day-1 period starts at 16:00 UTC.
    clock.set(at(2026, 3, 31, 23));
    let (fake, client) = setup(&clock, 100.0).await;
    fake.set_growth(ICCID, 60.0);
    let unicom = "89860100000000000027";
    fake.set_card(
        unicom,
        FakeCard {
            started: true,
            verified: true,
            used_mb: 100.0,
        },
    );
    assert!(fake.set_billing_day(unicom, 27));
    fake.set_growth(unicom, 60.0);

    clock.advance(HOUR / 2);
    assert_eq!(used(&client, ICCID).await, 130.0, "still March");
    clock.advance(2 * HOUR);
    // 1 April 01:30: only the 90 minutes since midnight count on the day-1 card.
    assert_eq!(used(&client, ICCID).await, 90.0);
    // The day-27 card is mid-period.
    assert_eq!(used(&client, unicom).await, 250.0);

    // 26 April 23:00 → 27 April 02:00 resets the Unicom card only.
    clock.set(at(2026, 4, 26, 23));
    let (day1, day27) = (used(&client, ICCID).await, used(&client, unicom).await);
    clock.advance(3 * HOUR);
    assert_eq!(used(&client, unicom).await, 120.0);
    assert_eq!(used(&client, ICCID).await, day1 + 180.0);
    assert!(day27 > 1000.0);

    // A stopped card restarts at 0 too, and stays there.
    fake.set_started(ICCID, false);
    clock.set(at(2026, 5, 3, 12));
    assert_eq!(used(&client, ICCID).await, 0.0);
    assert_eq!(fake.card(ICCID).unwrap().used_mb, 0.0);
}

#[test]
fn billing_periods_start_at_midnight_shanghai_on_the_day_or_the_months_last() {
    // Day 1: the 1st of this month.
    assert_eq!(period_start(at(2026, 3, 10, 12), 1), at(2026, 3, 1, 0));
    assert_eq!(period_start(at(2026, 3, 1, 0), 1), at(2026, 3, 1, 0));
    assert_eq!(period_start(at(2026, 3, 1, 0) - 1, 1), at(2026, 2, 1, 0));
    // Day 27 before the 27th: last month's, across a year.
    assert_eq!(period_start(at(2026, 1, 15, 8), 27), at(2025, 12, 27, 0));
    assert_eq!(period_start(at(2026, 1, 27, 8), 27), at(2026, 1, 27, 0));
    // Day 31: February's last day (leap years included), April's 30th.
    assert_eq!(period_start(at(2026, 3, 5, 0), 31), at(2026, 2, 28, 0));
    assert_eq!(period_start(at(2028, 3, 5, 0), 31), at(2028, 2, 29, 0));
    assert_eq!(period_start(at(2026, 4, 30, 1), 31), at(2026, 4, 30, 0));
}

#[tokio::test]
async fn real_name_flips_now_or_at_a_set_time() {
    let clock = Clock::default();
    clock.set(at(2026, 3, 10, 12));
    let (fake, client) = setup(&clock, 0.0).await;
    assert!(!client.realname(ICCID).await.unwrap().real_status);
    assert!(fake.set_verified(ICCID, true));
    assert!(client.realname(ICCID).await.unwrap().real_status);
    assert!(fake.set_verified(ICCID, false));
    assert!(!client.realname(ICCID).await.unwrap().real_status);

    assert!(fake.verify_at(ICCID, clock.now() + HOUR));
    clock.advance(HOUR - 1);
    assert!(!client.realname(ICCID).await.unwrap().real_status);
    clock.advance(1);
    assert!(client.realname(ICCID).await.unwrap().real_status);
    assert!(fake.card(ICCID).unwrap().verified);

    // set_verified cancels a schedule; a past time verifies at once.
    fake.set_verified(ICCID, false);
    fake.verify_at(ICCID, clock.now() + HOUR);
    fake.set_verified(ICCID, false);
    clock.advance(2 * HOUR);
    assert!(!fake.card(ICCID).unwrap().verified);
    fake.verify_at(ICCID, clock.now() - 1);
    assert!(fake.card(ICCID).unwrap().verified);
    assert!(!fake.set_verified("89860000000000000000", true));
}

#[tokio::test]
async fn auto_registered_cards_take_the_default_growth_and_billing_day() {
    let clock = Clock::default();
    clock.set(at(2026, 4, 26, 22));
    let (fake, client) = setup(&clock, 0.0).await;
    fake.auto_register(true);
    fake.set_default_growth(12.0);
    fake.set_default_billing_day(27);
    let cards: Vec<String> = (0..20).map(|i| format!("8986{i:016}")).collect();
    for card in &cards {
        assert_eq!(used(&client, card).await, 0.0, "registered on first call");
    }
    clock.advance(HOUR);
    for card in &cards {
        assert_eq!(used(&client, card).await, 12.0);
    }
    clock.advance(2 * HOUR); // 27 April 01:00: a new period.
    assert_eq!(used(&client, &cards[0]).await, 12.0);
    assert!(fake.card(&cards[3]).unwrap().started);
    // The explicitly set card keeps no growth.
    assert_eq!(used(&client, ICCID).await, 0.0);
}

/// Fires `n` flow calls at once; the wall time until all have answered.
async fn burst(client: &GatewayClient, n: usize) -> Duration {
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let client = client.clone();
        set.spawn(async move { client.flow(ICCID).await });
    }
    while let Some(done) = set.join_next().await {
        assert_eq!(done.unwrap().unwrap().used, 1.0);
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_calls_with_latency_run_at_once() {
    let clock = Clock::default();
    let (fake, client) = setup(&clock, 1.0).await;
    fake.set_latency(Duration::from_millis(50));
    // A first burst opens the client's connections, so the measured ones do not
    // depend on how fast 50 TCP connections open. All 50 calls must reach the fake
    // within the 50 ms the first one waits, and an unoptimised HTTP stack needs
    // about 1 ms of CPU per call: on a starved 2-core machine a burst may spread
    // wider, so up to five are tried. Calls serialised by a lock would never pass 1
    // in flight, nor finish in less than 2.5 s.
    burst(&client, 50).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        fake.reset_max_in_flight();
        fake.reset_counts();
        let elapsed = burst(&client, 50).await;
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
        assert!(elapsed >= Duration::from_millis(50), "{elapsed:?}");
        seen.push(fake.max_in_flight());
        if fake.max_in_flight() == 50 {
            break;
        }
    }
    // A lock held across the sleep would show 1; a loaded CI machine may spread a
    // burst, so any clear overlap passes (50 on an idle machine).
    let most = seen.iter().copied().max().unwrap_or(0);
    assert!(
        (20..=50).contains(&most),
        "most in flight per burst: {seen:?}"
    );
    assert_eq!(fake.in_flight(), 0);
    assert_eq!(fake.count("/flow-card/flow"), 50);
    assert_eq!(fake.requests(), 50);
    let by_path = fake.calls_by_path();
    assert_eq!(by_path.len(), 1);
    assert_eq!(by_path["/flow-card/flow"], 50);
}

#[tokio::test]
async fn in_flight_counts_the_latency_sleep_and_resets() {
    let clock = Clock::default();
    let (fake, client) = setup(&clock, 1.0).await;
    fake.set_latency(Duration::from_millis(300));
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.card_status(ICCID).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.in_flight(), 1, "sleeping in the fake");
    assert_eq!(pending.await.unwrap().unwrap().status, 1);
    assert_eq!(fake.in_flight(), 0);
    assert_eq!(fake.max_in_flight(), 1);
    fake.reset_max_in_flight();
    assert_eq!(fake.max_in_flight(), 0);
    fake.set_latency(Duration::ZERO);
    client.realname(ICCID).await.unwrap();
    let r = crate::integrations::http_client()
        .post(format!("{}/flow-card/nope", fake.url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        fake.calls_by_path(),
        BTreeMap::from([
            ("/flow-card/realName".to_string(), 1),
            ("/flow-card/status".to_string(), 1)
        ])
    );
    assert_eq!(fake.requests(), 3, "unknown paths count in the total");
    assert_eq!(fake.count("/flow-card/nope"), 0);
    fake.reset_counts();
    assert_eq!((fake.requests(), fake.count("/flow-card/status")), (0, 0));
    assert_eq!(fake.calls().len(), 2, "the log is kept");
}

#[tokio::test]
async fn the_error_rate_fails_an_exact_evenly_spread_share_with_http_500() {
    let clock = Clock::default();
    let (fake, client) = setup(&clock, 1.0).await;
    let outcomes = |n: usize| {
        let client = client.clone();
        async move {
            let mut failed = Vec::new();
            for i in 1..=n {
                match client.flow(ICCID).await {
                    Ok(_) => {}
                    Err(GatewayError::Status(500)) => failed.push(i),
                    Err(e) => panic!("{e:?}"),
                }
            }
            failed
        }
    };
    fake.set_error_rate(0.25);
    assert_eq!(outcomes(12).await, vec![4, 8, 12]);
    fake.set_error_rate(0.1);
    assert_eq!(outcomes(30).await, vec![10, 20, 30]);
    fake.set_error_rate(1.0);
    assert_eq!(outcomes(3).await, vec![1, 2, 3]);
    fake.set_error_rate(0.0);
    assert!(outcomes(5).await.is_empty());

    // A failed call has no effect, but is logged; a queued fault still wins.
    fake.set_error_rate(1.0);
    let before = fake.calls().len();
    assert_eq!(
        client.switch_card_network(ICCID, true).await,
        Err(GatewayError::Status(500))
    );
    assert!(fake.card(ICCID).unwrap().started);
    assert_eq!(fake.calls().len(), before + 1);
    fake.fail_next(1, Fault::Business(503, "busy".into()));
    assert!(matches!(
        client.flow(ICCID).await,
        Err(GatewayError::Business { code: 503, .. })
    ));
    fake.set_error_rate(f64::NAN);
    assert_eq!(used(&client, ICCID).await, 1.0);
}

#[tokio::test]
async fn set_clock_counts_on_from_the_new_clock() {
    let wall = Clock::default();
    let (fake, client) = setup(&wall, 5.0).await;
    fake.set_growth(ICCID, 3600.0); // 1 MB a second.
    let sim = Clock::default();
    sim.set(wall.now() + 1000 * HOUR);
    fake.set_clock(sim.clone());
    let now = used(&client, ICCID).await;
    assert!((5.0..10.0).contains(&now), "no jump: {now}");
    sim.advance(10);
    let later = used(&client, ICCID).await;
    assert!((later - now - 10.0).abs() < 1e-9, "{now} then {later}");
    // A clock going backwards adds nothing.
    sim.advance(-100);
    assert_eq!(used(&client, ICCID).await, later);
}
