//! Package lifecycle jobs (jobs.md J10–J13) on packages bought through the order
//! route, with the simulated clock and the fake carrier gateway: expiry of a main
//! and its add-ons, the queued main's activation and the card's resume; the first
//! activation after real-name; the monthly reset; overlapping passes and
//! redelivered messages.

use std::sync::Arc;

use chrono::TimeZone;
use serde_json::{json, Value};
use shared::config::JobQueue;
use shared::domain::assets::{AssetType, IotCard};
use shared::domain::usage::{PackageUsage, UsageStatus};
use shared::integrations::gateway::crypto::{AesEcbMd5, GatewayCrypto};
use shared::integrations::gateway::fake::{FakeCard, FakeGateway};
use shared::jobs::package_activation::{
    activate, request_first_activation, ActivationKind, ActivationMessage,
};
use shared::jobs::{data_reset, package_activation, package_activation_check};
use shared::services::card_network::stop_exhausted;
use shared::store::keys;

use crate::catalog::{package_body, series};
use crate::helpers::assets::{admin_with_cards, iccid};
use crate::helpers::{spawn_app_with, TestApp};

const SECRET: &str = "gateway-secret-0123456789";

/// Epoch seconds of a Shanghai local time.
fn cst(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> i64 {
    shared::clock::cst()
        .with_ymd_and_hms(y, m, d, h, min, s)
        .single()
        .unwrap()
        .timestamp()
}

struct World {
    app: TestApp,
    fake: FakeGateway,
    sa: String,
    series: u64,
}

/// An app on the fake gateway, the clock at 15 Mar 2026 10:00 (Shanghai), cards 1
/// and 2 in platform stock: card 1 verified and running, card 2 unverified.
async fn world() -> World {
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
    app.state.clock.set(cst(2026, 3, 15, 10, 0, 0));
    let sa = admin_with_cards(&app, 2).await;
    for i in 1..=2 {
        fake.set_card(
            &iccid(i),
            FakeCard {
                started: i == 1,
                verified: i == 1,
                used_mb: 0.0,
            },
        );
    }
    let series = series(
        &app,
        &sa,
        json!({"series_name": "S", "series_code": "S", "commission_type": "fixed", "commission_amount": 0}),
    )
    .await;
    let w = World {
        app,
        fake,
        sa,
        series,
    };
    for i in 1..=2 {
        refresh(&w, i).await;
    }
    w
}

async fn card_id(w: &World, n: u64) -> u64 {
    w.app
        .get(&format!("/api/admin/iot-cards?iccid={}", iccid(n)), &w.sa)
        .await
        .ok()["list"][0]["id"]
        .as_u64()
        .unwrap()
}

/// Pulls the carrier's view (network, real-name) into card `n`.
async fn refresh(w: &World, n: u64) {
    let id = card_id(w, n).await;
    w.app
        .call(
            "POST",
            &format!("/api/admin/assets/card/{id}/refresh"),
            Some(&w.sa),
            None,
        )
        .await
        .ok();
}

async fn package(w: &World, code: &str, tweak: Value) -> u64 {
    let mut body = package_body(code, w.series);
    for (k, v) in tweak.as_object().unwrap() {
        body[k] = v.clone();
    }
    w.app.post("/api/admin/packages", &w.sa, body).await.ok()["id"]
        .as_u64()
        .unwrap()
}

async fn buy(w: &World, card: u64, package: u64) {
    w.app
        .post(
            "/api/admin/orders",
            &w.sa,
            json!({"order_type": 1, "iot_card_id": card, "package_ids": [package], "payment_method": "offline"}),
        )
        .await
        .ok();
}

async fn usages(w: &World, card: u64) -> Vec<PackageUsage> {
    w.app
        .state
        .store
        .asset_usages(AssetType::Card, card)
        .await
        .unwrap()
}

fn by_package(list: &[PackageUsage], package: u64) -> PackageUsage {
    list.iter()
        .find(|u| u.package_id == package)
        .unwrap()
        .clone()
}

async fn card(w: &World, id: u64) -> IotCard {
    w.app
        .state
        .store
        .entity::<IotCard>(&keys::card(id))
        .await
        .unwrap()
        .unwrap()
}

/// Handles what waits in the package-activation queue; the number of messages.
async fn pump(w: &World) -> usize {
    let state = w.app.state.clone();
    shared::local::pump_job_queue(&state, JobQueue::PackageActivation, 1, |e| {
        package_activation::handle(&state, e)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn an_expired_main_ends_with_its_addons_and_the_queued_main_starts_and_resumes_the_card() {
    let w = world().await;
    let card_1 = card_id(&w, 1).await;
    let m1 = package(&w, "M1", json!({})).await;
    let m2 = package(
        &w,
        "M2",
        json!({"calendar_type": "by_day", "duration_months": 0, "duration_days": 30}),
    )
    .await;
    let addon = package(&w, "Q", json!({"package_type": "addon"})).await;
    buy(&w, card_1, m1).await;
    buy(&w, card_1, addon).await;
    buy(&w, card_1, m2).await;
    let list = usages(&w, card_1).await;
    let main = by_package(&list, m1);
    assert_eq!(main.status, UsageStatus::Active);
    assert_eq!(main.valid_until, Some(cst(2026, 4, 30, 23, 59, 59)));
    assert_eq!(by_package(&list, addon).master_usage_id, Some(main.id));
    assert_eq!(by_package(&list, m2).status, UsageStatus::Pending);

    // The card ran out of data and was stopped (as the package check does).
    assert!(stop_exhausted(&w.app.state, &card(&w, card_1).await)
        .await
        .unwrap());
    assert!(!w.fake.card(&iccid(1)).unwrap().started);
    assert_eq!(card(&w, card_1).await.network_status, 0);

    // Before the expiry nothing is due.
    let now = w.app.state.clock.now();
    let r = package_activation_check::run_pass(&w.app.state, now)
        .await
        .unwrap();
    assert_eq!(r.due, 0);

    // One second past it: two overlapping passes end the main and its add-on once.
    let at = cst(2026, 5, 1, 0, 0, 0);
    w.app.state.clock.set(at);
    let (a, b) = tokio::join!(
        package_activation_check::run_pass(&w.app.state, at),
        package_activation_check::run_pass(&w.app.state, at),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.expired_mains + b.expired_mains, 1, "{a:?} {b:?}");
    assert_eq!(a.invalidated_addons + b.invalidated_addons, 1);
    let list = usages(&w, card_1).await;
    assert_eq!(by_package(&list, m1).status, UsageStatus::Expired);
    assert_eq!(by_package(&list, addon).status, UsageStatus::Invalidated);
    // Out of the due index: a later pass finds nothing.
    let r = package_activation_check::run_pass(&w.app.state, at + 10)
        .await
        .unwrap();
    assert_eq!(r.due, 0);

    // J11: the queued main starts with dates from now; the card resumes.
    assert_eq!(pump(&w).await, 1);
    let list = usages(&w, card_1).await;
    let next = by_package(&list, m2);
    assert_eq!(next.status, UsageStatus::Active);
    assert_eq!(next.activated_at, Some(at));
    assert_eq!(next.valid_until, Some(cst(2026, 5, 30, 23, 59, 59)));
    let c = card(&w, card_1).await;
    assert_eq!(c.network_status, 1);
    assert_eq!(c.stop_reason, None);
    assert!(c.resumed_at.is_some());
    assert!(w.fake.card(&iccid(1)).unwrap().started);

    // A redelivered J11 message changes nothing.
    let calls = w.fake.calls().len();
    let m = ActivationMessage {
        kind: ActivationKind::QueueActivation,
        asset_type: AssetType::Card,
        asset_id: card_1,
    };
    let again = activate(&w.app.state, m).await.unwrap();
    assert_eq!((again.changed, again.resumed), (0, 0));
    assert_eq!(usages(&w, card_1).await, list);
    assert_eq!(w.fake.calls().len(), calls);
}

#[tokio::test]
async fn a_main_waiting_for_real_name_starts_when_the_card_is_verified() {
    let w = world().await;
    let card_2 = card_id(&w, 2).await;
    let p = package(&w, "R", json!({"enable_realname_activation": true})).await;
    buy(&w, card_2, p).await;
    let u = by_package(&usages(&w, card_2).await, p);
    assert_eq!(u.status, UsageStatus::Pending);
    assert!(u.pending_realname_activation);
    assert_eq!(u.valid_until, None);
    // A queued activation does not start it while the card is unverified.
    w.app.state.clock.advance(60);
    let m = ActivationMessage {
        kind: ActivationKind::QueueActivation,
        asset_type: AssetType::Card,
        asset_id: card_2,
    };
    assert_eq!(activate(&w.app.state, m).await.unwrap().changed, 0);

    // Verified at the carrier, seen by polling: J12 starts it with dates from now.
    w.fake.set_card(
        &iccid(2),
        FakeCard {
            started: true,
            verified: true,
            used_mb: 0.0,
        },
    );
    refresh(&w, 2).await;
    w.app.state.clock.set(cst(2026, 3, 20, 8, 0, 0));
    request_first_activation(&w.app.state, AssetType::Card, card_2)
        .await
        .unwrap();
    assert_eq!(pump(&w).await, 1);
    let u = by_package(&usages(&w, card_2).await, p);
    assert_eq!(u.status, UsageStatus::Active);
    assert!(!u.pending_realname_activation);
    assert_eq!(u.activated_at, Some(cst(2026, 3, 20, 8, 0, 0)));
    assert_eq!(u.valid_until, Some(cst(2026, 4, 30, 23, 59, 59)));
    assert_eq!(u.next_reset_at, Some(cst(2026, 4, 1, 0, 0, 0)));
}

#[tokio::test]
async fn the_monthly_reset_zeroes_usage_reactivates_and_resumes_once() {
    let w = world().await;
    let card_1 = card_id(&w, 1).await;
    let m = package(&w, "M", json!({"duration_months": 3})).await;
    buy(&w, card_1, m).await;
    // Used up (as the deduction writes it), the card stopped for exhaustion.
    let u = by_package(&usages(&w, card_1).await, m);
    assert_eq!(u.next_reset_at, Some(cst(2026, 4, 1, 0, 0, 0)));
    let used = PackageUsage {
        data_usage_mb: 8000,
        status: UsageStatus::UsedUp,
        version: u.version + 1,
        ..u.clone()
    };
    w.app
        .state
        .store
        .save_usage(&used, u.version)
        .await
        .unwrap();
    assert!(stop_exhausted(&w.app.state, &card(&w, card_1).await)
        .await
        .unwrap());

    // Nothing before the 1st.
    let eve = cst(2026, 3, 31, 23, 59, 59);
    let r = data_reset::run_pass(&w.app.state, eve, 100).await.unwrap();
    assert_eq!((r.due, r.reset_count), (0, 0));

    // On the 1st: two overlapping passes reset it once and ask once for the resume.
    let at = cst(2026, 4, 1, 0, 0, 5);
    w.app.state.clock.set(at);
    let (a, b) = tokio::join!(
        data_reset::run_pass(&w.app.state, at, 100),
        data_reset::run_pass(&w.app.state, at, 100),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.reset_count + b.reset_count, 1, "{a:?} {b:?}");
    assert_eq!(a.resume_requested + b.resume_requested, 1);
    let r = by_package(&usages(&w, card_1).await, m);
    assert_eq!(r.data_usage_mb, 0);
    assert_eq!(r.status, UsageStatus::Active);
    assert_eq!(r.last_reset_at, Some(cst(2026, 4, 1, 0, 0, 0)));
    assert_eq!(r.next_reset_at, Some(cst(2026, 5, 1, 0, 0, 0)));
    assert_eq!(r.valid_until, u.valid_until);

    // The manual trigger finds nothing left (a fresh token: the clock moved).
    let sa = w.app.admin().await;
    let t = w
        .app
        .post("/api/admin/internal/trigger-data-reset", &sa, json!({}))
        .await;
    assert_eq!(t.ok(), &json!({"reset_count": 0, "more": false}));

    // J11 resumes the card.
    assert_eq!(pump(&w).await, 1);
    let c = card(&w, card_1).await;
    assert_eq!(c.network_status, 1);
    assert_eq!(c.stop_reason, None);
    assert!(w.fake.card(&iccid(1)).unwrap().started);
}

#[tokio::test]
async fn the_manual_trigger_resets_what_is_due_and_is_for_platform_managers() {
    let w = world().await;
    let card_1 = card_id(&w, 1).await;
    let d = package(&w, "D", json!({"data_reset_cycle": "daily"})).await;
    buy(&w, card_1, d).await;
    w.app.state.clock.set(cst(2026, 3, 16, 0, 0, 1));
    let sa = w.app.admin().await;
    let t = w
        .app
        .post("/api/admin/internal/trigger-data-reset", &sa, json!({}))
        .await;
    assert_eq!(t.ok(), &json!({"reset_count": 1, "more": false}));
    let u = by_package(&usages(&w, card_1).await, d);
    assert_eq!(u.next_reset_at, Some(cst(2026, 3, 17, 0, 0, 0)));
    // An agent without the code is refused.
    let role = w.app.customer_role(&sa, "r").await;
    w.app.shop(&sa, "S1", None, role).await;
    let agent = w.app.agent("S1").await;
    w.app
        .post("/api/admin/internal/trigger-data-reset", &agent, json!({}))
        .await
        .err(403, 1005);
}
