//! Polling alerts (jobs.md J2): rule CRUD, validation and permissions; the check
//! opening one alert per rule even when runs overlap, holding for the rule's
//! duration and closing when the condition clears; signed webhook deliveries with
//! retries through the queue, verified by a fake receiver.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use shared::config::JobQueue;
use shared::domain::polling::TaskType;
use shared::domain::polling_alerts::{MetricsSnapshot, TaskMetrics};
use shared::jobs::{alert_webhooks, polling_alerts};
use shared::local::webhook_receiver::FakeReceiver;

use crate::helpers::actors::Actors;
use crate::helpers::{spawn_app, whole, TestApp};

const RULES: &str = "/api/admin/polling-alert-rules";
const HISTORY: &str = "/api/admin/polling-alert-history";
const SECRET: &str = "test-secret-0123456789";
const T0: i64 = 1_767_225_600;

fn backlog(carddata: u64) -> MetricsSnapshot {
    let m = TaskMetrics {
        backlog: carddata,
        ..Default::default()
    };
    MetricsSnapshot {
        at: T0,
        by_task: BTreeMap::from([
            (TaskType::Carddata, m),
            (TaskType::Realname, TaskMetrics::default()),
        ]),
    }
}

fn rule(duration: i64, url: &str) -> Value {
    json!({
        "rule_name": "carddata backlog", "metric": "backlog", "task_type": "carddata",
        "operator": ">", "threshold": 100, "duration": duration, "enabled": true,
        "notify": {"webhook_url": url, "secret": SECRET}
    })
}

/// Hands the queued deliveries to the consumer once (a failed one is made visible
/// again at once instead of after its back-off); returns how many it handled.
pub(crate) async fn deliver(app: &TestApp) -> usize {
    let q = app.state.job_queue(JobQueue::AlertWebhooks);
    let messages = q.receive(1).await.unwrap();
    let response = alert_webhooks::handle(&app.state, shared::local::sqs_event(&messages)).await;
    for m in &messages {
        let receipt = m.receipt_handle.as_deref().unwrap();
        let failed = response
            .batch_item_failures
            .iter()
            .any(|f| Some(f.item_identifier.as_str()) == m.message_id.as_deref());
        if failed {
            q.retry_after(receipt, 0).await.unwrap();
        } else {
            q.delete(receipt).await.unwrap();
        }
    }
    messages.len()
}

async fn history(app: &TestApp, sa: &str, query: &str) -> Vec<Value> {
    whole(app.get(&format!("{HISTORY}{query}"), sa).await.ok()).clone()
}

#[tokio::test]
async fn rules_are_validated_masked_and_for_platform_staff_only() {
    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    let sa = &cast.sa;
    let mut body = rule(0, "https://hooks.example.com/cmp");
    body["notify"] = json!({"webhook_url": "https://hooks.example.com/cmp"});
    let created = app.post(RULES, sa, body.clone()).await.ok().clone();
    let secret = created["notify"]["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(created["operator"], "gt");
    let id = created["id"].as_u64().unwrap();
    // Listed masked; the platform account may read it.
    let list = app.get(RULES, &cast.platform).await.ok().clone();
    let listed = &list.as_array().unwrap()[0];
    assert_eq!(
        listed["notify"]["secret"],
        format!("{}***{}", &secret[..4], &secret[secret.len() - 4..])
    );
    // Update keeps the secret when none is given.
    body["threshold"] = json!(250.5);
    let path = format!("{RULES}/{id}");
    let updated = app.put(&path, sa, body.clone()).await.ok().clone();
    assert_eq!(
        (updated["threshold"].as_f64(), updated["version"].as_i64()),
        (Some(250.5), Some(2))
    );
    assert_eq!(updated["notify"]["secret"], listed["notify"]["secret"]);
    // Invalid input.
    for (field, value) in [
        ("notify", json!({"webhook_url": "ftp://example.com/x"})),
        ("notify", json!({"webhook_url": "not a url"})),
        (
            "notify",
            json!({"webhook_url": "https://example.com", "secret": "short"}),
        ),
        ("duration", json!(1441)),
        ("metric", json!("cpu")),
        ("operator", json!("==")),
        ("rule_name", json!("  ")),
    ] {
        let mut bad = body.clone();
        bad[field] = value;
        app.post(RULES, sa, bad).await.err(400, 1001);
    }
    // Agents and enterprises are refused.
    for token in [&cast.l1, &cast.enterprise] {
        app.get(RULES, token).await.err(403, 1005);
        app.post(RULES, token, body.clone()).await.err(403, 1005);
        app.delete(&path, token).await.err(403, 1005);
        app.get(HISTORY, token).await.err(403, 1005);
    }
    // `null` removes the webhook; unknown ids answer 1210.
    body["notify"] = Value::Null;
    let plain = app.put(&path, sa, body.clone()).await.ok().clone();
    assert!(plain["notify"].is_null());
    app.put(&format!("{RULES}/999"), sa, body)
        .await
        .err(404, 1210);
    app.delete(&path, sa).await.ok();
    app.delete(&path, sa).await.err(404, 1210);
    assert!(app.get(RULES, sa).await.ok().as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_alert_opens_once_notifies_once_and_closes() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let receiver = FakeReceiver::start(SECRET).await.unwrap();
    let id = app.post(RULES, &sa, rule(0, &receiver.url)).await.ok()["id"]
        .as_u64()
        .unwrap();
    let high = backlog(500);
    // Two concurrent runs, then one a minute later: one alert, one notification.
    let (a, b) = tokio::join!(
        polling_alerts::run(&app.state, T0, &high),
        polling_alerts::run(&app.state, T0, &high)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.opened + b.opened, a.notified + b.notified), (1, 1));
    let later = polling_alerts::run(&app.state, T0 + 60, &high)
        .await
        .unwrap();
    assert_eq!((later.opened, later.notified), (0, 0));
    let open = history(&app, &sa, "?status=open").await;
    assert_eq!(open.len(), 1);
    assert_eq!(
        (
            open[0]["rule_id"].as_u64(),
            open[0]["metric_value"].as_f64()
        ),
        (Some(id), Some(500.0))
    );
    assert_eq!(deliver(&app).await, 1);
    assert_eq!(deliver(&app).await, 0);
    // Clearing closes it and notifies once.
    let low = backlog(10);
    let (c, d) = tokio::join!(
        polling_alerts::run(&app.state, T0 + 120, &low),
        polling_alerts::run(&app.state, T0 + 120, &low)
    );
    let (c, d) = (c.unwrap(), d.unwrap());
    assert_eq!((c.closed + d.closed, c.notified + d.notified), (1, 1));
    assert_eq!(deliver(&app).await, 1);
    let got = receiver.received();
    let events: Vec<&str> = got.iter().map(|r| r.event.as_str()).collect();
    assert_eq!(events, ["alert.opened", "alert.closed"]);
    assert!(got.iter().all(|r| r.signature_ok && r.accepted));
    assert_eq!(got[1].body["alert"]["status"], "closed");
    assert_eq!(got[1].body["alert"]["resolved_at"], T0 + 120);
    let all = history(&app, &sa, &format!("?rule_id={id}")).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["status"], "closed");
    assert!(history(&app, &sa, "?status=open").await.is_empty());
    // A new breach opens a new alert (listed first).
    polling_alerts::run(&app.state, T0 + 180, &high)
        .await
        .unwrap();
    let all = history(&app, &sa, "").await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["status"], "open");
    // A date range outside the alerts lists nothing; a bad signature secret fails.
    assert!(
        history(&app, &sa, "?start_date=2020-01-01&end_date=2020-01-02")
            .await
            .is_empty()
    );
    let deliveries = app
        .get(&format!("{RULES}/{id}/deliveries"), &sa)
        .await
        .ok()
        .clone();
    assert_eq!(whole(&deliveries).len(), 2);
}

#[tokio::test]
async fn the_condition_must_hold_for_the_duration() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let receiver = FakeReceiver::start(SECRET).await.unwrap();
    app.post(RULES, &sa, rule(3, &receiver.url)).await.ok();
    let (high, low) = (backlog(500), backlog(0));
    let run = |now: i64, snap: MetricsSnapshot| {
        let state = app.state.clone();
        async move { polling_alerts::run(&state, now, &snap).await.unwrap() }
    };
    assert_eq!(run(T0, high.clone()).await.opened, 0);
    assert_eq!(run(T0 + 60, high.clone()).await.opened, 0);
    // Cleared before 3 minutes: the count starts again.
    assert_eq!(run(T0 + 120, low.clone()).await.opened, 0);
    assert_eq!(run(T0 + 180, high.clone()).await.opened, 0);
    assert_eq!(run(T0 + 300, high.clone()).await.opened, 0);
    assert_eq!(run(T0 + 360, high.clone()).await.opened, 1);
    assert_eq!(run(T0 + 420, high).await.opened, 0);
    assert_eq!(history(&app, &sa, "").await.len(), 1);
    // A disabled rule's alert closes.
    let id = app.get(RULES, &sa).await.ok()[0]["id"].as_u64().unwrap();
    let mut body = rule(3, &receiver.url);
    body["enabled"] = json!(false);
    app.put(&format!("{RULES}/{id}"), &sa, body).await.ok();
    assert_eq!(run(T0 + 480, backlog(500)).await.closed, 1);
}

async fn open_one(app: &TestApp, sa: &str, receiver: &FakeReceiver) -> u64 {
    let id = app.post(RULES, sa, rule(0, &receiver.url)).await.ok()["id"]
        .as_u64()
        .unwrap();
    let report = polling_alerts::run(&app.state, T0, &backlog(500))
        .await
        .unwrap();
    assert_eq!(report.notified, 1);
    id
}

async fn attempts(app: &TestApp, sa: &str, id: u64) -> Vec<(String, i64)> {
    let page = app
        .get(&format!("{RULES}/{id}/deliveries"), sa)
        .await
        .ok()
        .clone();
    let mut list: Vec<(String, i64)> = whole(&page)
        .iter()
        .map(|d| {
            (
                d["status"].as_str().unwrap().to_string(),
                d["attempt"].as_i64().unwrap(),
            )
        })
        .collect();
    list.reverse();
    list
}

#[tokio::test]
async fn a_failing_receiver_gets_the_delivery_on_a_later_attempt() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let receiver = FakeReceiver::start(SECRET).await.unwrap();
    let id = open_one(&app, &sa, &receiver).await;
    receiver.fail_next(2);
    for _ in 0..3 {
        assert_eq!(deliver(&app).await, 1);
    }
    assert_eq!(deliver(&app).await, 0);
    let got = receiver.received();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.signature_ok));
    assert_eq!(got.iter().filter(|r| r.accepted).count(), 1);
    let want = [("retrying", 1), ("retrying", 2), ("delivered", 3)];
    let want: Vec<(String, i64)> = want.iter().map(|(s, n)| (s.to_string(), *n)).collect();
    assert_eq!(attempts(&app, &sa, id).await, want);
}

#[tokio::test]
async fn a_receiver_that_always_fails_ends_in_a_failed_delivery() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    // A receiver verifying another secret refuses every signature.
    let receiver = FakeReceiver::start("another-secret-0123456789")
        .await
        .unwrap();
    let id = open_one(&app, &sa, &receiver).await;
    for _ in 0..alert_webhooks::MAX_ATTEMPTS {
        assert_eq!(deliver(&app).await, 1);
    }
    assert_eq!(deliver(&app).await, 0);
    let got = receiver.received();
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|r| !r.signature_ok && !r.accepted));
    let list = attempts(&app, &sa, id).await;
    assert_eq!(list.len(), 4);
    assert_eq!(list[3], ("failed".to_string(), 4));
    assert!(list[..3].iter().all(|(s, _)| s == "retrying"));
}

#[tokio::test]
async fn a_dead_letter_queue_s_depth_reaches_monitoring_and_rules() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let queue = "/api/admin/polling-monitoring/queues/carddata";
    assert_eq!(
        app.get(queue, &sa).await.ok()["dead_letter_messages"],
        json!(0)
    );
    let rule = json!({
        "rule_name": "dead letters", "metric": "dlq_depth", "task_type": "carddata",
        "operator": "gt", "threshold": 0, "enabled": true
    });
    app.post(RULES, &sa, rule).await.ok();
    // A check message that failed its 4 attempts lands in the dead-letter queue.
    let dlq = app.state.job_dlq(JobQueue::PollingCarddata).unwrap();
    dlq.send(&json!({"task": "carddata", "cards": [1]}))
        .await
        .unwrap();
    assert_eq!(
        app.get(queue, &sa).await.ok()["dead_letter_messages"],
        json!(1)
    );
    let snapshot = shared::services::polling::admin::metrics_snapshot(&app.state)
        .await
        .unwrap();
    assert_eq!(snapshot.by_task[&TaskType::Carddata].dlq_depth, 1);
    assert_eq!(snapshot.by_task[&TaskType::Realname].dlq_depth, 0);
    let report = polling_alerts::run(&app.state, T0, &snapshot)
        .await
        .unwrap();
    assert_eq!(report.opened, 1);
}

#[tokio::test]
async fn an_opening_whose_notification_was_not_queued_is_notified_a_minute_later() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let receiver = FakeReceiver::start(SECRET).await.unwrap();
    app.post(RULES, &sa, rule(0, &receiver.url)).await.ok();
    let high = backlog(500);
    // The notification queue is unreachable when the alert opens.
    let broken = app.state.clone().with_job_queue_url(
        JobQueue::AlertWebhooks,
        "http://127.0.0.1:9/000000000000/missing",
    );
    // Its only rule failed to notify: the run fails (the schedule retries it), the
    // alert is open.
    assert!(polling_alerts::run(&broken, T0, &high).await.is_err());
    assert_eq!(history(&app, &sa, "?status=open").await.len(), 1);
    assert_eq!(deliver(&app).await, 0);
    // Within the minute nothing is sent again; after it, the opening is notified once.
    let soon = polling_alerts::run(&app.state, T0 + 30, &high)
        .await
        .unwrap();
    assert_eq!(soon.notified, 0);
    let later = polling_alerts::run(&app.state, T0 + 60, &high)
        .await
        .unwrap();
    assert_eq!((later.opened, later.notified), (0, 1));
    let again = polling_alerts::run(&app.state, T0 + 120, &high)
        .await
        .unwrap();
    assert_eq!(again.notified, 0, "notified once");
    assert_eq!(deliver(&app).await, 1);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event, "alert.opened");
}
