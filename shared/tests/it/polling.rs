//! Carrier polling (jobs.md J4–J8) against the emulator and the fake gateway, with the
//! simulated clock: cards scheduled by import, real-name verification, usage
//! deduction in the §5.7.6 order with daily records, exhaustion → stop, renewal →
//! resume, overlapping dispatcher runs, replays and the concurrency limit.

use std::sync::Arc;

use serde_json::json;

use shared::config::JobQueue;
use shared::domain::assets::{AssetType, IotCard};
use shared::domain::catalog::{CalendarType, PackageType, ResetCycle};
use shared::domain::polling::{minute, TaskType, STOP_EXHAUSTED};
use shared::domain::usage::{PackageUsage, UsageStatus};
use shared::integrations::gateway::crypto::{AesEcbMd5, GatewayCrypto};
use shared::integrations::gateway::fake::{FakeCard, FakeGateway};
use shared::jobs::polling;
use shared::store::keys;
use shared::store::tx::Tx;
use shared::store::usages::put_new_usage;

use crate::helpers::assets::{admin_with_cards, iccid};
use crate::helpers::{spawn_app_with, TestApp};

const SECRET: &str = "0123456789abcdef";

pub(crate) async fn setup(cards: u64) -> (TestApp, FakeGateway, String) {
    let crypto: Arc<dyn GatewayCrypto> = Arc::new(AesEcbMd5::new(SECRET).unwrap());
    let fake = FakeGateway::start("cmp", crypto, 0).await.unwrap();
    let url = fake.url.clone();
    let app = spawn_app_with(move |c| {
        c.gateway_url = Some(url);
        c.gateway_app_id = "cmp".into();
        c.gateway_app_secret = SECRET.into();
        c.gateway_timeout_ms = 2000;
    })
    .await;
    for i in 1..=cards {
        fake.set_card(
            &iccid(i),
            FakeCard {
                started: true,
                verified: false,
                used_mb: 0.0,
            },
        );
    }
    let admin = admin_with_cards(&app, cards).await;
    (app, fake, admin)
}

/// Hands every queued message of `q` to the check handler until the queue is empty.
pub(crate) async fn pump(app: &TestApp, q: JobQueue) -> usize {
    let mut total = 0;
    loop {
        let n = shared::local::pump_job_queue(&app.state, q, 0, |e| polling::handle(&app.state, e))
            .await
            .unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
}

pub(crate) async fn card(app: &TestApp, n: u64) -> IotCard {
    let id = card_id(app, n).await;
    app.state
        .store
        .get_as::<IotCard>(&keys::card(id))
        .await
        .unwrap()
        .unwrap()
}

pub(crate) async fn card_id(app: &TestApp, n: u64) -> u64 {
    let admin = app.admin().await;
    let page = app
        .get(&format!("/api/admin/iot-cards?iccid={}", iccid(n)), &admin)
        .await;
    page.ok()["list"][0]["id"].as_u64().unwrap()
}

pub(crate) fn usage(
    id: u64,
    card: &IotCard,
    kind: PackageType,
    limit: i64,
    priority: i64,
) -> PackageUsage {
    PackageUsage {
        id,
        asset_type: AssetType::Card,
        asset_id: card.id,
        generation: card.generation,
        package_id: 9,
        package_name: format!("pkg-{id}"),
        package_type: kind,
        calendar_type: CalendarType::ByDay,
        duration_months: 0,
        duration_days: 30,
        data_reset_cycle: ResetCycle::None,
        data_limit_mb: limit,
        virtual_data_mb: limit,
        enable_virtual_data: false,
        data_usage_mb: 0,
        status: UsageStatus::Active,
        priority,
        master_usage_id: (kind == PackageType::Addon).then_some(1),
        has_independent_expiry: false,
        pending_realname_activation: false,
        order_id: None,
        activated_at: Some(0),
        valid_until: Some(i64::from(i32::MAX)),
        last_reset_at: None,
        next_reset_at: None,
        created_at: 0,
        version: 1,
    }
}

pub(crate) async fn put(app: &TestApp, u: &PackageUsage) {
    let tx = put_new_usage(Tx::new(), u).unwrap();
    app.state.store.transact(tx).await.unwrap();
}

pub(crate) async fn usages(app: &TestApp, card: u64) -> Vec<PackageUsage> {
    app.state
        .store
        .asset_usages(AssetType::Card, card)
        .await
        .unwrap()
}

/// Advances the clock by `secs` and a minute (so the cohorts are overdue and sent
/// without the in-minute spreading delay), runs the dispatcher and the checks it
/// queued.
pub(crate) async fn tick(app: &TestApp, secs: i64) {
    app.state.clock.advance(secs + 60);
    polling::dispatch(&app.state).await.unwrap();
    for q in [
        JobQueue::PollingRealname,
        JobQueue::PollingCarddata,
        JobQueue::PollingPackage,
        JobQueue::PollingProtect,
    ] {
        pump(app, q).await;
    }
    // Follow-up package checks queued by card data checks.
    pump(app, JobQueue::PollingPackage).await;
}

#[tokio::test]
async fn a_card_s_life_under_polling() {
    let (app, fake, _admin) = setup(1).await;
    card(&app, 1).await;
    // Imported: scheduled for real-name, data and package checks within the interval.
    let due = |t| {
        let store = app.state.store.clone();
        let at = minute(app.state.clock.now()) + 11;
        async move { store.due_card_count(t, at, 100).await.unwrap() }
    };
    assert_eq!(due(TaskType::Realname).await, Some(1));
    assert_eq!(due(TaskType::Carddata).await, Some(1));
    assert_eq!(due(TaskType::Protect).await, Some(0));

    // Not verified yet: the real-name check changes nothing.
    tick(&app, 600).await;
    assert!(!card(&app, 1).await.is_verified());
    // Verified at the carrier: the next check stores it, asks for first activation
    // and the card leaves the real-name checks.
    fake.set_card(
        &iccid(1),
        FakeCard {
            started: true,
            verified: true,
            used_mb: 0.0,
        },
    );
    tick(&app, 300).await;
    assert!(card(&app, 1).await.is_verified());
    let activation = app
        .state
        .job_queue(JobQueue::PackageActivation)
        .receive(0)
        .await
        .unwrap();
    assert_eq!(activation.len(), 1);
    assert!(activation[0].body().unwrap().contains("first_activation"));
    assert_eq!(due(TaskType::Realname).await, Some(0));

    // Started at the carrier and in our records (import leaves cards stopped).
    let mut started = card(&app, 1).await;
    started.resume(shared::clock::rfc3339(app.state.clock.now()));
    let item = shared::store::assets::card_item(&started).unwrap();
    app.state
        .store
        .save_asset(item, started.version, started.id, &[])
        .await
        .unwrap();
    let c = card(&app, 1).await;

    // A main package of 1000 MB and an add-on of 100 MB; 150.6 MB used: the add-on
    // takes its 100 first (used up), the main 50.
    put(&app, &usage(1, &c, PackageType::Formal, 1000, 1)).await;
    put(&app, &usage(2, &c, PackageType::Addon, 100, 2)).await;
    fake.set_card(
        &iccid(1),
        FakeCard {
            started: true,
            verified: true,
            used_mb: 150.6,
        },
    );
    tick(&app, 600).await;
    let u = usages(&app, c.id).await;
    assert_eq!((u[0].data_usage_mb, u[0].status), (50, UsageStatus::Active));
    assert_eq!(
        (u[1].data_usage_mb, u[1].status),
        (100, UsageStatus::UsedUp)
    );
    assert_eq!(
        card(&app, 1).await.current_month_usage_mb.to_string(),
        "150.6"
    );

    // A replayed check of the same reading deducts nothing.
    shared::services::polling::enqueue_checks(&app.state, TaskType::Carddata, &[c.id, c.id])
        .await
        .unwrap();
    pump(&app, JobQueue::PollingCarddata).await;
    assert_eq!(usages(&app, c.id).await[0].data_usage_mb, 50);

    // Daily records fill.
    let admin = app.admin().await;
    let today = &shared::clock::rfc3339(app.state.clock.now())[..10];
    let days = app
        .get(
            &format!(
                "/api/admin/package-usage/2/daily-records?start_date={today}&end_date={today}"
            ),
            &admin,
        )
        .await;
    assert_eq!(days.ok()["total_usage_mb"], json!(100));

    // Exhausted: the main reaches its 1000 MB → used up → the card is stopped.
    fake.set_card(
        &iccid(1),
        FakeCard {
            started: true,
            verified: true,
            used_mb: 1200.0,
        },
    );
    tick(&app, 600).await;
    let u = usages(&app, c.id).await;
    assert_eq!(u[0].status, UsageStatus::UsedUp);
    assert_eq!(
        u[0].data_usage_mb, 1100,
        "what exceeds every limit stays on the main"
    );
    let stopped = card(&app, 1).await;
    assert!(!stopped.is_started());
    assert_eq!(stopped.stop_reason.as_deref(), Some(STOP_EXHAUSTED));
    assert!(!fake.card(&iccid(1)).unwrap().started);

    // Renewed: a new active main → the package check resumes the card.
    put(&app, &usage(3, &c, PackageType::Formal, 2000, 3)).await;
    tick(&app, 600).await;
    assert!(card(&app, 1).await.is_started());
    assert!(fake.card(&iccid(1)).unwrap().started);
}

#[tokio::test]
async fn overlapping_dispatcher_runs_never_send_a_card_twice() {
    let (app, _fake, _admin) = setup(30).await;
    app.state.clock.advance(900);
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let state = app.state.clone();
            tokio::spawn(async move { polling::dispatch(&state).await.unwrap() })
        })
        .collect();
    let mut sent = 0;
    for r in runs {
        for t in r.await.unwrap() {
            if t.task_type == Some(TaskType::Carddata) {
                sent += t.cards;
            }
        }
    }
    assert_eq!(sent, 30, "each due card is sent exactly once");
    // The cohorts moved on: nothing is due now, all 30 are due one interval later.
    let store = &app.state.store;
    let now = minute(app.state.clock.now());
    assert_eq!(
        store
            .due_card_count(TaskType::Carddata, now, 100)
            .await
            .unwrap(),
        Some(0)
    );
    assert_eq!(
        store
            .due_card_count(TaskType::Carddata, now + 10, 100)
            .await
            .unwrap(),
        Some(30)
    );
}

#[tokio::test]
async fn a_deleted_or_unpolled_card_leaves_its_cohort() {
    let (app, _fake, admin) = setup(2).await;
    let id = card_id(&app, 2).await;
    let r = app
        .put(
            &format!("/api/admin/iot-cards/{id}"),
            &admin,
            json!({"enable_polling": false}),
        )
        .await;
    r.ok();
    tick(&app, 900).await;
    let store = &app.state.store;
    let later = minute(app.state.clock.now()) + 10;
    assert_eq!(
        store
            .due_card_count(TaskType::Carddata, later, 100)
            .await
            .unwrap(),
        Some(1)
    );
}

#[tokio::test]
async fn the_concurrency_limit_holds_under_a_burst() {
    let (app, fake, admin) = setup(40).await;
    fake.set_latency(std::time::Duration::from_millis(40));
    let limited = app
        .put(
            "/api/admin/polling-concurrency/carddata",
            &admin,
            json!({"max_concurrency": 4}),
        )
        .await;
    assert_eq!(limited.ok()["max_concurrency"], json!(4));
    let mut ids = Vec::new();
    for n in 1..=40 {
        ids.push(card_id(&app, n).await);
    }
    // Manual trigger (J9): 40 cards, 2 messages; four consumers at once, as Lambda
    // would run them.
    let r = app
        .post(
            "/api/admin/polling-manual-trigger",
            &admin,
            json!({"task_type": "carddata", "iot_card_ids": ids}),
        )
        .await;
    assert_eq!(r.ok()["card_count"], json!(40));
    fake.reset_max_in_flight();
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let state = app.state.clone();
            tokio::spawn(async move {
                loop {
                    let n =
                        shared::local::pump_job_queue(&state, JobQueue::PollingCarddata, 1, |e| {
                            polling::handle(&state, e)
                        })
                        .await
                        .unwrap();
                    if n == 0 {
                        break;
                    }
                }
            })
        })
        .collect();
    for c in consumers {
        c.await.unwrap();
    }
    assert_eq!(fake.count("/flow-card/flow"), 40, "every card checked once");
    assert!(
        fake.max_in_flight() <= 4,
        "the gateway saw {} checks at once",
        fake.max_in_flight()
    );
    assert!(fake.max_in_flight() >= 2, "checks ran concurrently");
    let logs = app
        .get("/api/admin/polling-manual-trigger/logs", &admin)
        .await;
    assert_eq!(logs.ok()["list"][0]["card_count"], json!(40));
    let monitor = app
        .get("/api/admin/polling-monitoring/queues/carddata", &admin)
        .await;
    assert_eq!(monitor.ok()["checks_last_hour"], json!(40));
    assert_eq!(monitor.ok()["max_concurrency"], json!(4));
    // Agents do not see polling administration.
    let cast = crate::helpers::actors::Actors::new(&app).await;
    for token in [&cast.l1, &cast.l3, &cast.enterprise] {
        app.get("/api/admin/polling-monitoring/overview", token)
            .await
            .err(403, 1005);
        app.post(
            "/api/admin/polling-manual-trigger",
            token,
            json!({"task_type": "carddata", "iot_card_ids": [ids[0]]}),
        )
        .await
        .err(403, 1005);
    }
}

#[tokio::test]
async fn a_lost_queue_activation_is_asked_again_by_the_package_check() {
    let (app, fake, _admin) = setup(1).await;
    fake.set_card(
        &iccid(1),
        FakeCard {
            started: true,
            verified: true,
            used_mb: 0.0,
        },
    );
    let mut c = card(&app, 1).await;
    let at = shared::clock::rfc3339(app.state.clock.now());
    c.mark_verified(at.clone());
    c.resume(at);
    let item = shared::store::assets::card_item(&c).unwrap();
    app.state
        .store
        .save_asset(item, c.version, c.id, &[])
        .await
        .unwrap();
    let c = card(&app, 1).await;
    // The main expired (J10 ran) but its J11 message was lost; the next main waits.
    let mut ended = usage(1, &c, PackageType::Formal, 1000, 1);
    ended.status = UsageStatus::Expired;
    put(&app, &ended).await;
    let mut queued = usage(2, &c, PackageType::Formal, 1000, 2);
    queued.status = UsageStatus::Pending;
    queued.activated_at = None;
    queued.valid_until = None;
    put(&app, &queued).await;
    shared::services::polling::enqueue_checks(&app.state, TaskType::Package, &[c.id])
        .await
        .unwrap();
    pump(&app, JobQueue::PollingPackage).await;
    assert!(
        card(&app, 1).await.is_started(),
        "not stopped while a main waits"
    );
    let n = shared::local::pump_job_queue(&app.state, JobQueue::PackageActivation, 0, |e| {
        shared::jobs::package_activation::handle(&app.state, e)
    })
    .await
    .unwrap();
    assert_eq!(n, 1, "the package check asked for the activation again");
    let u = usages(&app, c.id).await;
    assert_eq!(u[1].status, UsageStatus::Active);
    assert!(card(&app, 1).await.is_started());
}
