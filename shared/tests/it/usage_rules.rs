//! Usage automation rules: who may define and see them (the permission matrix), the
//! card data check firing a rule once when a card's package usage crosses its
//! threshold (replays and racing checks included), the signed webhook, the stop at
//! the gateway and the resume on renewal, and the sweeper taking up a firing whose
//! check died before acting.

use serde_json::{json, Value};
use shared::config::JobQueue;
use shared::domain::assets::IotCard;
use shared::domain::catalog::PackageType;
use shared::domain::entities::Shop;
use shared::domain::polling::TaskType;
use shared::domain::usage_rules::{UsageAction, STOP_USAGE_RULE};
use shared::integrations::gateway::fake::{FakeCard, FakeGateway};
use shared::local::webhook_receiver::FakeReceiver;
use shared::services::polling::enqueue_checks;
use shared::services::usage_rules::fire;
use shared::store::keys;
use shared::store::usage_rules::{firing_item, Firing, FiringStatus};

use crate::helpers::actors::Actors;
use crate::helpers::assets::iccid;
use crate::helpers::{spawn_app, whole, TestApp};
use crate::polling::{card, pump, put, setup, tick, usage};
use crate::polling_alerts::deliver;

const RULES: &str = "/api/admin/usage-rules";
const SECRET: &str = "usage-secret-0123456789";

fn rule(name: &str, pct: i64, action: &str, url: Option<&str>) -> Value {
    let mut body = json!({
        "rule_name": name, "threshold_pct": pct, "action": action, "enabled": true,
    });
    if let Some(url) = url {
        body["notify"] = json!({"webhook_url": url, "secret": SECRET});
    }
    body
}

fn id(v: &Value) -> u64 {
    v["id"].as_u64().unwrap()
}

#[tokio::test]
async fn rules_follow_the_shop_tree() {
    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    let hook = Some("https://hooks.example.com/usage");
    // Platform staff: a rule for every card, and one for shop C.
    let every = app
        .post(RULES, &cast.platform, rule("all", 90, "notify", hook))
        .await
        .ok()
        .clone();
    assert!(every["shop_id"].is_null());
    let mut for_c = rule("c by platform", 80, "stop", None);
    for_c["shop_id"] = json!(cast.c);
    let for_c = app.post(RULES, &cast.sa, for_c).await.ok().clone();
    // Agent L1: its own shop by default, or a shop of its subtree; not a sibling's.
    let a_rule = app
        .post(RULES, &cast.l1, rule("a", 50, "notify", hook))
        .await
        .ok()
        .clone();
    assert_eq!(a_rule["shop_id"], json!(cast.a));
    assert!(a_rule["notify"]["secret"]
        .as_str()
        .unwrap()
        .starts_with(&SECRET[..4]));
    let mut to_d = rule("d", 50, "stop", None);
    to_d["shop_id"] = json!(cast.d);
    app.post(RULES, &cast.l1, to_d.clone()).await.err(404, 1002);
    to_d["shop_id"] = json!(cast.c);
    let c_by_a = app.post(RULES, &cast.l1, to_d).await.ok().clone();
    // Agent L3 (shop C) and the sibling D.
    let c_rule = app
        .post(RULES, &cast.l3, rule("c", 70, "stop", None))
        .await
        .ok()
        .clone();
    assert_eq!(c_rule["shop_id"], json!(cast.c));
    let d_rule = app
        .post(RULES, &cast.sibling, rule("d", 60, "stop", None))
        .await
        .ok()
        .clone();

    // Who sees which rule (404 1211 when not visible).
    let sees = |token: &str, rule: &Value| {
        let path = format!("{RULES}/{}", id(rule));
        let (app, token) = (&app, token.to_string());
        async move {
            let r = app.get(&path, &token).await;
            match r.status.as_u16() {
                200 => true,
                _ => {
                    r.err(404, 1211);
                    false
                }
            }
        }
    };
    let all = [&every, &for_c, &a_rule, &c_by_a, &c_rule, &d_rule];
    let expect = [
        (&cast.sa, [true, true, true, true, true, true]),
        (&cast.platform, [true, true, true, true, true, true]),
        (&cast.l1, [false, true, true, true, true, false]),
        (&cast.l3, [false, true, false, true, true, false]),
        (&cast.sibling, [false, false, false, false, false, true]),
    ];
    for (token, want) in expect {
        for (r, w) in all.iter().zip(want) {
            assert_eq!(
                sees(token, r).await,
                w,
                "{} sees {}",
                token.len(),
                r["rule_name"]
            );
        }
        let listed = whole(app.get(RULES, token).await.ok()).len();
        assert_eq!(listed, want.iter().filter(|w| **w).count());
    }
    // The enterprise account is refused everywhere.
    app.get(RULES, &cast.enterprise).await.err(403, 1005);
    app.post(RULES, &cast.enterprise, rule("e", 50, "stop", None))
        .await
        .err(403, 1005);

    // Changes: only where visible; L3 cannot change A's rule, the sibling not C's.
    let path = |r: &Value| format!("{RULES}/{}", id(r));
    let mut changed = rule("c v2", 75, "stop", None);
    changed["resume_on_renewal"] = json!(true);
    let v2 = app
        .put(&path(&c_rule), &cast.l1, changed.clone())
        .await
        .ok()
        .clone();
    assert_eq!(
        (v2["threshold_pct"].as_u64(), v2["version"].as_i64()),
        (Some(75), Some(2))
    );
    assert_eq!(v2["resume_on_renewal"], json!(true));
    app.put(&path(&a_rule), &cast.l3, changed.clone())
        .await
        .err(404, 1211);
    app.delete(&path(&c_rule), &cast.sibling)
        .await
        .err(404, 1211);
    app.delete(&path(&every), &cast.l1).await.err(404, 1211);
    app.delete(&path(&c_rule), &cast.l3).await.ok();
    app.delete(&path(&c_rule), &cast.l3).await.err(404, 1211);

    // Invalid bodies answer 1001.
    for (field, value) in [
        ("threshold_pct", json!(0)),
        ("threshold_pct", json!(101)),
        ("action", json!("suspend")),
        ("rule_name", json!(" ")),
        ("resume_on_renewal", json!(true)),
        ("notify", json!({"webhook_url": "ftp://x.example.com"})),
    ] {
        let mut bad = rule("bad", 50, "notify", hook);
        bad[field] = value;
        app.post(RULES, &cast.l1, bad).await.err(400, 1001);
    }
    // A notify rule needs a webhook.
    app.post(RULES, &cast.l1, rule("no hook", 50, "notify", None))
        .await
        .err(400, 1001);

    // A scope holds at most 20 rules (D holds 1).
    for i in 0..19 {
        app.post(
            RULES,
            &cast.sibling,
            rule(&format!("d{i}"), 50, "stop", None),
        )
        .await
        .ok();
    }
    app.post(RULES, &cast.sibling, rule("d21", 50, "stop", None))
        .await
        .err(409, 1212);
    // Deleting one makes room again.
    app.delete(&path(&d_rule), &cast.sibling).await.ok();
    app.post(RULES, &cast.sibling, rule("d20", 50, "stop", None))
        .await
        .ok();
}

/// Makes card `n` verified, started and owned by `shop`.
async fn own(app: &TestApp, fake: &FakeGateway, n: u64, shop: u64) -> IotCard {
    let store = &app.state.store;
    let path = store
        .get_as::<Shop>(&keys::shop(shop))
        .await
        .unwrap()
        .unwrap()
        .path;
    let mut c = card(app, n).await;
    let at = shared::clock::rfc3339(app.state.clock.now());
    c.mark_verified(at.clone());
    c.resume(at);
    c.shop_id = Some(shop);
    c.owner_path = Some(path);
    let item = shared::store::assets::card_item(&c).unwrap();
    store.save_asset(item, c.version, c.id, &[]).await.unwrap();
    fake.set_card(
        &iccid(n),
        FakeCard {
            started: true,
            verified: true,
            used_mb: 0.0,
        },
    );
    card(app, n).await
}

fn reading(fake: &FakeGateway, n: u64, mb: f64) {
    fake.set_card(
        &iccid(n),
        FakeCard {
            started: fake.card(&iccid(n)).map(|c| c.started).unwrap_or(true),
            verified: true,
            used_mb: mb,
        },
    );
}

async fn firings(app: &TestApp, token: &str, rule: u64) -> Vec<Value> {
    whole(
        app.get(&format!("{RULES}/{rule}/firings"), token)
            .await
            .ok(),
    )
    .clone()
}

#[tokio::test]
async fn a_rule_fires_once_notifies_stops_and_renewal_resumes() {
    let (app, fake, _admin) = setup(2).await;
    let cast = Actors::new(&app).await;
    let receiver = FakeReceiver::start(SECRET).await.unwrap();
    // Card 1 in shop C (under A), card 2 in the sibling D; 1000 MB each.
    let c1 = own(&app, &fake, 1, cast.c).await;
    let c2 = own(&app, &fake, 2, cast.d).await;
    put(&app, &usage(1, &c1, PackageType::Formal, 1000, 1)).await;
    put(&app, &usage(2, &c2, PackageType::Formal, 1000, 1)).await;
    // A's agent: notify at 50 %, stop at 80 % and resume on renewal.
    let notify = id(app
        .post(
            RULES,
            &cast.l1,
            rule("half", 50, "notify", Some(&receiver.url)),
        )
        .await
        .ok());
    let mut stop = rule("stop", 80, "stop", None);
    stop["resume_on_renewal"] = json!(true);
    let stop = id(app.post(RULES, &cast.l1, stop).await.ok());

    // 600 MB on both: only card 1 is in A's subtree.
    reading(&fake, 1, 600.0);
    reading(&fake, 2, 600.0);
    tick(&app, 600).await;
    let fired = firings(&app, &cast.l1, notify).await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0]["card_id"], json!(c1.id));
    assert_eq!(
        (fired[0]["before_mb"].as_i64(), fired[0]["used_mb"].as_i64()),
        (Some(0), Some(600))
    );
    assert_eq!(fired[0]["status"], "done");
    assert_eq!(fired[0]["outcome"], "notified");
    assert_eq!(deliver(&app).await, 1);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].signature_ok && got[0].accepted);
    assert_eq!(got[0].event, "usage.threshold_crossed");
    assert_eq!(got[0].body["firing"]["card_id"], json!(c1.id));
    assert_eq!(got[0].body["id"], format!("usage-{}", fired[0]["id"]));
    let fired = firings(&app, &cast.l1, notify).await;
    assert_eq!(
        (
            fired[0]["delivery_status"].as_str(),
            fired[0]["delivery_attempts"].as_u64()
        ),
        (Some("delivered"), Some(1))
    );

    // Replays of the same reading and a reading still between the thresholds fire
    // nothing more; five racing checks of a new reading fire the stop rule once.
    enqueue_checks(&app.state, TaskType::Carddata, &[c1.id])
        .await
        .unwrap();
    pump(&app, JobQueue::PollingCarddata).await;
    reading(&fake, 1, 700.0);
    tick(&app, 600).await;
    assert_eq!(firings(&app, &cast.l1, notify).await.len(), 1);
    assert!(firings(&app, &cast.l1, stop).await.is_empty());
    reading(&fake, 1, 850.0);
    let racing: Vec<_> = (0..5)
        .map(|_| {
            let state = app.state.clone();
            tokio::spawn(async move {
                enqueue_checks(&state, TaskType::Carddata, &[c1.id])
                    .await
                    .unwrap();
                shared::local::pump_job_queue(&state, JobQueue::PollingCarddata, 0, |e| {
                    shared::jobs::polling::handle(&state, e)
                })
                .await
                .unwrap()
            })
        })
        .collect();
    for r in racing {
        r.await.unwrap();
    }
    pump(&app, JobQueue::PollingCarddata).await;
    let stopped = firings(&app, &cast.l1, stop).await;
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    assert_eq!(stopped[0]["outcome"], "stopped");
    let c = card(&app, 1).await;
    assert!(!c.is_started());
    assert_eq!(c.stop_reason.as_deref(), Some(STOP_USAGE_RULE));
    assert_eq!(c.rule_stop.map(|s| s.rule_id), Some(stop));
    assert!(!fake.card(&iccid(1)).unwrap().started);
    assert!(
        card(&app, 2).await.is_started(),
        "the sibling's card runs on"
    );
    // No webhook on the stop rule: nothing more was delivered.
    assert_eq!(deliver(&app).await, 0);

    // Still at 85 %: the package checks leave it stopped.
    tick(&app, 600).await;
    assert!(!card(&app, 1).await.is_started());
    // Renewed: a new main package → the package check starts the card again.
    put(&app, &usage(3, &c1, PackageType::Formal, 2000, 2)).await;
    tick(&app, 600).await;
    let c = card(&app, 1).await;
    assert!(c.is_started());
    assert!(c.rule_stop.is_none() && c.stop_reason.is_none());
    assert!(fake.card(&iccid(1)).unwrap().started);
}

#[tokio::test]
async fn a_stop_without_resume_waits_for_a_person() {
    let (app, fake, _admin) = setup(1).await;
    let cast = Actors::new(&app).await;
    let c1 = own(&app, &fake, 1, cast.a).await;
    put(&app, &usage(1, &c1, PackageType::Formal, 1000, 1)).await;
    app.post(RULES, &cast.platform, rule("all cards", 90, "stop", None))
        .await
        .ok();
    reading(&fake, 1, 950.0);
    tick(&app, 600).await;
    assert!(!card(&app, 1).await.is_started());
    put(&app, &usage(2, &c1, PackageType::Formal, 2000, 2)).await;
    tick(&app, 600).await;
    let c = card(&app, 1).await;
    assert!(!c.is_started(), "no resume on renewal");
    assert_eq!(c.stop_reason.as_deref(), Some(STOP_USAGE_RULE));
}

#[tokio::test]
async fn a_firing_left_pending_is_swept_once() {
    let (app, fake, _admin) = setup(1).await;
    let cast = Actors::new(&app).await;
    let receiver = FakeReceiver::start(SECRET).await.unwrap();
    let c1 = own(&app, &fake, 1, cast.b).await;
    let r = id(app
        .post(
            RULES,
            &cast.l1,
            rule("stop", 80, "stop", Some(&receiver.url)),
        )
        .await
        .ok());
    // A check that wrote its firing and died before acting.
    let now = app.state.clock.now();
    let f = Firing {
        id: 9_001,
        rule_id: r,
        card_id: c1.id,
        iccid: c1.iccid.clone(),
        usage_id: 1,
        package_name: "p".into(),
        threshold_pct: 80,
        action: UsageAction::Stop,
        before_mb: 700,
        used_mb: 900,
        limit_mb: 1000,
        fired_at: now,
        status: FiringStatus::Pending,
        outcome: None,
        acted_at: None,
        delivery_status: None,
        delivery_attempts: 0,
        last_http_status: None,
        last_error: None,
    };
    let item = firing_item(&f, now + fire::LEASE_SECS).unwrap();
    app.state.store.put_new("firing", item).await.unwrap();
    // Within the check's lease nothing is taken up.
    assert_eq!(fire::sweep(&app.state).await.unwrap().due, 0);
    app.state.clock.advance(fire::LEASE_SECS + 1);
    // Two sweeps at once: one acts.
    let (a, b) = tokio::join!(fire::sweep(&app.state), fire::sweep(&app.state));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.acted + b.acted, 1, "{a:?} {b:?}");
    assert!(!card(&app, 1).await.is_started());
    assert!(!fake.card(&iccid(1)).unwrap().started);
    let done = app.state.store.firing(9_001).await.unwrap().unwrap();
    assert_eq!(
        (done.status, done.outcome.as_deref()),
        (FiringStatus::Done, Some("stopped"))
    );
    assert_eq!(fire::sweep(&app.state).await.unwrap().due, 0);
    assert_eq!(deliver(&app).await, 1);
    assert_eq!(receiver.received().len(), 1);
}
