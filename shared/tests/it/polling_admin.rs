//! `admin-polling`: polling configurations (one per task type, read by the
//! dispatcher with one GetItem) and data cleanup (configurations, the job deleting
//! old items through the cleanup index under its run lock, its logs, run-now).

use serde_json::json;
use shared::config::JobQueue;
use shared::domain::data_cleanup::{CleanupTarget, DAY_SECS};
use shared::domain::polling::TaskType;
use shared::jobs::data_cleanup::{self, Trigger};
use shared::store::keys::mark_cleanable;
use shared::store::{s, Key};

use crate::helpers::actors::Actors;
use crate::helpers::{spawn_app, TestApp};

const CONFIGS: &str = "/api/admin/polling-configs";
const CLEANUP: &str = "/api/admin/data-cleanup-configs";

#[tokio::test]
async fn polling_configs_one_per_task_type_with_crud_and_validation() {
    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    let sa = &cast.sa;

    let created = app
        .post(
            CONFIGS,
            sa,
            json!({"task_type": "carddata", "interval_seconds": 900, "enabled": true,
                   "filters": {"carrier_ids": [2, 1, 2]}}),
        )
        .await;
    let c = created.ok().clone();
    let id = c["id"].as_u64().unwrap();
    assert_eq!(c["task_type"], "carddata");
    assert_eq!(c["filters"]["carrier_ids"], json!([1, 2]));
    assert_eq!(c["version"], 1);

    // The dispatcher's read.
    let stored = app
        .state
        .store
        .polling_config(TaskType::Carddata)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.id, stored.interval_seconds), (id, 900));
    assert!(app
        .state
        .store
        .polling_config(TaskType::Realname)
        .await
        .unwrap()
        .is_none());

    // One per task type.
    let again = json!({"task_type": "carddata", "interval_seconds": 600, "enabled": false});
    app.post(CONFIGS, sa, again).await.err(409, 1201);

    // Validation: unknown task type, interval bounds.
    let r = app
        .post(
            CONFIGS,
            sa,
            json!({"task_type": "sms", "interval_seconds": 600, "enabled": true}),
        )
        .await;
    r.err(400, 1001);
    assert!(
        r.body["msg"].as_str().unwrap().contains("realname"),
        "{r:?}"
    );
    for secs in [59, 86_401] {
        let body = json!({"task_type": "package", "interval_seconds": secs, "enabled": true});
        app.post(CONFIGS, sa, body).await.err(400, 1001);
    }

    // Platform staff list and read; the list keeps the page shape.
    app.post(
        CONFIGS,
        &cast.platform,
        json!({"task_type": "realname", "interval_seconds": 60, "enabled": true}),
    )
    .await
    .ok();
    let list = app.get(CONFIGS, &cast.platform).await;
    let tasks: Vec<&str> = list.ok()["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["task_type"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, vec!["realname", "carddata"]);
    assert_eq!(list.ok()["has_more"], false);
    let shown = app.get(&format!("{CONFIGS}/{id}"), sa).await;
    assert_eq!(shown.ok()["interval_seconds"], 900);

    // Update (partial), status, task type fixed.
    let up = app
        .put(
            &format!("{CONFIGS}/{id}"),
            sa,
            json!({"interval_seconds": 1200}),
        )
        .await;
    assert_eq!(up.ok()["interval_seconds"], 1200);
    assert_eq!(up.ok()["filters"]["carrier_ids"], json!([1, 2]));
    assert_eq!(up.ok()["version"], 2);
    app.put(
        &format!("{CONFIGS}/{id}"),
        sa,
        json!({"task_type": "package"}),
    )
    .await
    .err(400, 1001);
    let off = app
        .put(
            &format!("{CONFIGS}/{id}/status"),
            sa,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(off.ok()["enabled"], false);
    assert!(
        !app.state
            .store
            .polling_config(TaskType::Carddata)
            .await
            .unwrap()
            .unwrap()
            .enabled
    );

    // Agents and enterprises: refused.
    for token in [&cast.l1, &cast.enterprise] {
        app.get(CONFIGS, token).await.err(403, 1005);
        let body = json!({"task_type": "protect", "interval_seconds": 600, "enabled": true});
        app.post(CONFIGS, token, body).await.err(403, 1005);
        app.get(CLEANUP, token).await.err(403, 1005);
    }

    // Delete: both items go, defaults apply, the type can be configured again.
    app.delete(&format!("{CONFIGS}/{id}"), sa).await.ok();
    app.get(&format!("{CONFIGS}/{id}"), sa).await.err(404, 1200);
    app.delete(&format!("{CONFIGS}/{id}"), sa)
        .await
        .err(404, 1200);
    assert!(app
        .state
        .store
        .polling_config(TaskType::Carddata)
        .await
        .unwrap()
        .is_none());
    assert!(app
        .state
        .store
        .get(&Key::new(format!("POLLCFGID#{id}"), "#"))
        .await
        .unwrap()
        .is_none());
    let again = json!({"task_type": "carddata", "interval_seconds": 600, "enabled": true});
    let new_id = app.post(CONFIGS, sa, again).await.ok()["id"]
        .as_u64()
        .unwrap();
    assert!(new_id > id);
}

/// Writes `count` items of `kind` aged `age_days`, as their writers would.
async fn seed(app: &TestApp, kind: CleanupTarget, tag: &str, count: u32, now: i64, age_days: i64) {
    let at = now - age_days * DAY_SECS;
    let mut items = Vec::new();
    for i in 0..count {
        let key = Key::new(format!("TEST#{tag}#{i}"), "#");
        let mut item = key.item();
        item.insert("tag".into(), s(tag));
        mark_cleanable(&mut item, kind, at + i64::from(i), &format!("{tag}-{i}"));
        items.push(item);
    }
    app.state.store.put_all(items).await.unwrap();
}

async fn count_tag(app: &TestApp, tag: &str) -> usize {
    app.table
        .scan()
        .await
        .iter()
        .filter(|i| i.get("tag").and_then(|v| v.as_s().ok()).map(String::as_str) == Some(tag))
        .count()
}

#[tokio::test]
async fn cleanup_deletes_what_a_shortened_retention_makes_old_and_logs_it() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let now = app.state.clock.now();

    // Validation: unknown target, retention beyond the TTL, batch size.
    let bad = app
        .post(
            CLEANUP,
            &sa,
            json!({"target": "orders", "retention_days": 7, "enabled": true}),
        )
        .await;
    bad.err(400, 1001);
    assert!(bad.body["msg"]
        .as_str()
        .unwrap()
        .contains("usage_daily_records"));
    for body in [
        json!({"target": "usage_daily_records", "retention_days": 181, "enabled": true}),
        json!({"target": "usage_daily_records", "retention_days": 7, "enabled": true, "batch_size": 5}),
    ] {
        app.post(CLEANUP, &sa, body).await.err(400, 1001);
    }

    let cfg = app
        .post(
            CLEANUP,
            &sa,
            json!({"target": "usage_daily_records", "retention_days": 7, "enabled": true, "batch_size": 25}),
        )
        .await;
    let cfg_id = cfg.ok()["id"].as_u64().unwrap();
    assert_eq!(cfg.ok()["batch_size"], 25);
    app.post(
        CLEANUP,
        &sa,
        json!({"target": "usage_daily_records", "retention_days": 30, "enabled": true}),
    )
    .await
    .err(409, 1203);
    // A disabled configuration is skipped by a full run.
    let off = app
        .post(
            CLEANUP,
            &sa,
            json!({"target": "webhook_deliveries", "retention_days": 1, "enabled": false}),
        )
        .await;
    let off_id = off.ok()["id"].as_u64().unwrap();

    // 60 records older than 7 days (TTL would keep them 180), 5 newer, 5 webhook
    // deliveries older than their (disabled) retention.
    seed(&app, CleanupTarget::UsageDailyRecords, "old", 60, now, 10).await;
    seed(&app, CleanupTarget::UsageDailyRecords, "new", 5, now, 3).await;
    seed(&app, CleanupTarget::WebhookDeliveries, "hooks", 5, now, 2).await;

    let report = data_cleanup::run(&app.state, now, None).await.unwrap();
    assert!(!report.skipped);
    assert_eq!(report.deleted, 60);
    assert_eq!(report.log_ids.len(), 1);
    assert_eq!(count_tag(&app, "old").await, 0);
    assert_eq!(count_tag(&app, "new").await, 5);
    assert_eq!(count_tag(&app, "hooks").await, 5);

    let logs = app.get("/api/admin/data-cleanup-logs", &sa).await;
    let log = &logs.ok()["list"][0];
    assert_eq!(log["config_id"], cfg_id);
    assert_eq!(log["status"], "success");
    assert_eq!(log["deleted_count"], 60);
    assert_eq!(log["trigger"], "schedule");
    assert!(log["finished_at"].is_string());

    // Only one configuration, even disabled; a second run finds nothing more.
    let only = data_cleanup::run(&app.state, now, Some(off_id))
        .await
        .unwrap();
    assert_eq!(only.deleted, 5);
    assert_eq!(count_tag(&app, "hooks").await, 0);
    let again = data_cleanup::run(&app.state, now, None).await.unwrap();
    assert_eq!(again.deleted, 0);
    let logs = app
        .get(
            &format!("/api/admin/data-cleanup-logs?config_id={cfg_id}&page_size=1"),
            &sa,
        )
        .await;
    assert_eq!(logs.ok()["list"][0]["deleted_count"], 0);
    assert_eq!(logs.ok()["has_more"], true);

    // Update and delete.
    let up = app
        .put(
            &format!("{CLEANUP}/{cfg_id}"),
            &sa,
            json!({"retention_days": 2}),
        )
        .await;
    assert_eq!(up.ok()["retention_days"], 2);
    assert_eq!(up.ok()["version"], 2);
    app.put(
        &format!("{CLEANUP}/{cfg_id}"),
        &sa,
        json!({"target": "card_daily_usage"}),
    )
    .await
    .err(400, 1001);
    app.delete(&format!("{CLEANUP}/{off_id}"), &sa).await.ok();
    app.put(
        &format!("{CLEANUP}/{off_id}"),
        &sa,
        json!({"enabled": true}),
    )
    .await
    .err(404, 1202);
    let list = app.get(CLEANUP, &sa).await;
    assert_eq!(list.ok()["list"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_second_concurrent_run_does_nothing_and_run_now_goes_through_the_tasks_queue() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let now = app.state.clock.now();
    let cfg = app
        .post(
            CLEANUP,
            &sa,
            json!({"target": "card_daily_usage", "retention_days": 5, "enabled": true, "batch_size": 25}),
        )
        .await;
    let cfg_id = cfg.ok()["id"].as_u64().unwrap();
    seed(&app, CleanupTarget::CardDailyUsage, "card", 80, now, 6).await;

    let budget = std::time::Duration::from_secs(600);
    let (a, b) = tokio::join!(
        data_cleanup::run_with(&app.state, now, None, "a", Trigger::Schedule, budget),
        data_cleanup::run_with(&app.state, now, None, "b", Trigger::Schedule, budget),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.skipped != b.skipped, "exactly one runs: {a:?} {b:?}");
    assert_eq!(a.deleted + b.deleted, 80);
    assert_eq!(count_tag(&app, "card").await, 0);

    // The lock was released: a held lock makes a run do nothing.
    assert!(app
        .state
        .store
        .claim_cleanup_lock(now, now + 3600)
        .await
        .unwrap());
    let held = data_cleanup::run(&app.state, now, None).await.unwrap();
    assert!(held.skipped && held.log_ids.is_empty());
    app.state
        .store
        .release_cleanup_lock(now + 3600)
        .await
        .unwrap();

    // A time budget spent before the first batch leaves a partial log.
    seed(&app, CleanupTarget::CardDailyUsage, "later", 3, now, 6).await;
    let cut = data_cleanup::run_with(
        &app.state,
        now,
        None,
        "cut",
        Trigger::Schedule,
        std::time::Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(cut.partial, 1);

    // Run now: queued, consumed by the tasks handler, logged under its run id.
    app.post(
        "/api/admin/data-cleanup/run",
        &sa,
        json!({"config_id": 999_999}),
    )
    .await
    .err(404, 1202);
    let queued = app
        .post(
            "/api/admin/data-cleanup/run",
            &sa,
            json!({"config_id": cfg_id}),
        )
        .await;
    let run_id = queued.ok()["run_id"].as_str().unwrap().to_string();
    let state = app.state.clone();
    let mut pumped = 0;
    for _ in 0..5 {
        pumped += shared::local::pump_job_queue(&app.state, JobQueue::Tasks, 1, |event| {
            shared::jobs::tasks::handle(&state, event)
        })
        .await
        .unwrap();
        if pumped > 0 {
            break;
        }
    }
    assert_eq!(pumped, 1);
    assert_eq!(count_tag(&app, "later").await, 0);
    let logs = app.get("/api/admin/data-cleanup-logs", &sa).await;
    let newest = &logs.ok()["list"][0];
    assert_eq!(newest["run_id"], run_id.as_str());
    assert_eq!(newest["trigger"], "manual");
    assert_eq!(newest["deleted_count"], 3);
}
