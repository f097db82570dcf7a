//! Local dev server: every route of every function group on one HTTP port, against
//! the local AWS emulator. Creates the table (from `infra/table.json`), the bucket
//! (notifying the import events queue of files under `imports/`), the import, import
//! events and bulk-move queues and the super admin if missing, and runs the queue
//! consumers and scheduled jobs itself (the emulator does not invoke Lambdas).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use shared::api::app;
use shared::api::extract::ClientIp;
use shared::app::AppState;
use shared::config::Config;

#[tokio::main]
async fn main() -> Result<(), shared::local::LocalError> {
    shared::telemetry::init();
    let cfg = Config::from_env()?;
    let port: u16 = std::env::var("CMP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let mut cfg = cfg;
    if cfg.bucket.is_empty() {
        cfg.bucket = "cmp-local".into();
    }
    if cfg.gateway_url.is_none() {
        // The local stack's carrier gateway: the fake, speaking the real protocol.
        let port: u16 = std::env::var("CMP_FAKE_GATEWAY_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        cfg.gateway_app_id = "cmp-local".into();
        cfg.gateway_app_secret = "cmp-local-gateway-secret".into();
        let crypto = std::sync::Arc::new(shared::integrations::gateway::crypto::AesEcbMd5::new(
            &cfg.gateway_app_secret,
        )?);
        let fake = shared::integrations::gateway::fake::FakeGateway::start(
            &cfg.gateway_app_id,
            crypto,
            port,
        )
        .await?;
        fake.auto_register(true);
        tracing::info!(url = %fake.url, "fake carrier gateway listening");
        cfg.gateway_url = Some(fake.url.clone());
    }
    // The local stack's payment providers: fakes speaking the real protocols,
    // described (config bodies, the fakes' keys) in .dev/payment-fakes.json.
    let env_port = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    };
    let fakes = shared::local::payment_fakes::start(
        &format!("http://127.0.0.1:{port}"),
        env_port("CMP_FAKE_WECHAT_PAY_PORT"),
        env_port("CMP_FAKE_FUIOU_PORT"),
    )
    .await?;
    cfg.wechat_pay_url = fakes.wechat.url.clone();
    let dev_dir = std::env::var("CMP_DEV_DIR").unwrap_or_else(|_| ".dev".into());
    let info_path = std::path::Path::new(&dev_dir).join("payment-fakes.json");
    std::fs::create_dir_all(&dev_dir)?;
    std::fs::write(&info_path, serde_json::to_string_pretty(&fakes.info)?)?;
    tracing::info!(wechat = %fakes.wechat.url, fuiou = %fakes.fuiou.url, info = %info_path.display(), "fake payment providers listening");
    let endpoint = cfg
        .aws_endpoint
        .clone()
        .ok_or("the dev server needs CMP_AWS_ENDPOINT (the local emulator)")?;
    // Secrets live in the emulator's Secrets Manager and are read as on AWS.
    let cfg = shared::local::seed_secrets(cfg, &endpoint, "cmp").await?;
    let state = shared::local::ensure(cfg, &endpoint, "cmp-import.fifo").await?;
    tokio::spawn(import_consumer(state.clone()));
    tokio::spawn(import_events_consumer(state.clone()));
    tokio::spawn(bulk_consumer(state.clone()));
    tokio::spawn(grant_sweeper(state.clone()));
    tokio::spawn(audit_consumer(state.clone()));
    tokio::spawn(payment_expiry(state.clone()));
    // Polling alert notifications.
    tokio::spawn(alert_webhooks_consumer(state.clone()));
    tokio::spawn(polling_dispatcher(state.clone()));
    tokio::spawn(polling_alert_check(state.clone()));
    for q in shared::domain::polling::TaskType::ALL {
        tokio::spawn(polling_consumer(state.clone(), q.queue()));
    }
    // ---- admin-polling: run-now tasks (data cleanup); no daily cleanup timer locally
    // (POST /api/admin/data-cleanup/run runs it through this consumer).
    tokio::spawn(tasks_consumer(state.clone()));
    // Package lifecycle: J10 and J13 every 10 s, the J11/J12 consumer.
    tokio::spawn(package_lifecycle(state.clone()));
    tokio::spawn(package_activation_consumer(state.clone()));
    // Commissions (J14): the calculation queue's consumer and the sweeper.
    tokio::spawn(commission_consumer(state.clone()));
    tokio::spawn(commission_sweeper(state.clone()));
    if let Some(id) = shared::services::auth::bootstrap(&state).await? {
        tracing::info!(account_id = id, "seeded super admin");
    }
    let router = app(state).layer(middleware::from_fn(peer_ip));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(url = %format!("http://127.0.0.1:{port}"), "dev server listening");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

async fn peer_ip(mut req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}

/// Feeds the import queue to the import handler, as Lambda's SQS trigger would.
async fn import_consumer(state: AppState) {
    loop {
        if let Err(e) = shared::local::pump_import_queue(&state, 5).await {
            tracing::warn!(error = %e, "import queue poll failed");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }
}

/// Feeds the import events queue (the bucket's notifications of uploaded import
/// files) to the import handler, as Lambda's second SQS trigger would.
async fn import_events_consumer(state: AppState) {
    loop {
        if let Err(e) = shared::local::pump_import_events(&state, 5).await {
            tracing::warn!(error = %e, "import events queue poll failed");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }
}

/// Feeds the audit-log queue to its writer, as Lambda's SQS trigger would.
async fn audit_consumer(state: AppState) {
    loop {
        if let Err(e) = shared::local::pump_audit_queue(&state, 5).await {
            tracing::warn!(error = %e, "audit queue poll failed");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }
}

/// Runs the payment expiry job every minute, as its EventBridge schedule would.
async fn payment_expiry(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every.tick().await;
        if let Err(e) = shared::jobs::payment_expiry::run(&state).await {
            tracing::warn!(error = %e, "payment expiry run failed");
        }
    }
}

/// Runs the polling dispatcher every minute, as its EventBridge schedule would.
async fn polling_dispatcher(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every.tick().await;
        if let Err(e) = shared::jobs::polling::dispatch(&state).await {
            tracing::warn!(error = %e, "polling dispatch failed");
        }
    }
}

/// Feeds a polling queue to the check handler, as Lambda's SQS trigger would.
async fn polling_consumer(state: AppState, q: shared::config::JobQueue) {
    loop {
        let pumped = shared::local::pump_job_queue(&state, q, 5, |event| {
            shared::jobs::polling::handle(&state, event)
        })
        .await;
        if let Err(e) = pumped {
            tracing::warn!(error = %e, queue = q.name(), "polling queue poll failed");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }
}

/// Feeds the bulk-move queue to the bulk worker, as Lambda's SQS trigger would.
async fn bulk_consumer(state: AppState) {
    loop {
        if let Err(e) = shared::local::pump_bulk_queue(&state, 5).await {
            tracing::warn!(error = %e, "bulk queue poll failed");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }
}

/// Runs the grant sweeper's sweeps (unsettled grants, pending imports and bulk
/// tasks) on a timer, as its EventBridge schedule would.
async fn grant_sweeper(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(30));
    loop {
        every.tick().await;
        match shared::jobs::grant_sweeper::sweep(&state.store, state.clock.now()).await {
            Ok(done) if !done.unsettled.is_empty() => {
                tracing::warn!(unsettled = ?done.unsettled, "grants left unsettled")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "grant sweep failed"),
        }
        if let Err(e) = shared::jobs::import_sweeper::sweep(&state, state.clock.now()).await {
            tracing::warn!(error = %e, "pending import sweep failed");
        }
        if let Err(e) = shared::jobs::bulk_sweeper::sweep(&state, state.clock.now()).await {
            tracing::warn!(error = %e, "pending bulk task sweep failed");
        }
    }
}

/// Feeds the tasks queue (run-now requests: data cleanup) to its consumer, as
/// Lambda's SQS trigger would.
async fn tasks_consumer(state: AppState) {
    loop {
        let pumped =
            shared::local::pump_job_queue(&state, shared::config::JobQueue::Tasks, 5, |event| {
                shared::jobs::tasks::handle(&state, event)
            })
            .await;
        if let Err(e) = pumped {
            tracing::warn!(error = %e, "tasks queue poll failed");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }
}

// ---- package lifecycle (jobs.md J10–J13)

/// Runs the package activation check (J10) and the data reset (J13) every 10 s, as
/// their per-minute schedules' inner passes would.
async fn package_lifecycle(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(10));
    loop {
        every.tick().await;
        let now = state.clock.now();
        if let Err(e) = shared::jobs::package_activation_check::run_pass(&state, now).await {
            tracing::warn!(error = %e, "package activation check failed");
        }
        let batch = shared::jobs::data_reset::BATCH;
        if let Err(e) = shared::jobs::data_reset::run_pass(&state, now, batch).await {
            tracing::warn!(error = %e, "data reset pass failed");
        }
    }
}

/// Feeds the package-activation queue (J11, J12) to its handler, as Lambda's SQS
/// trigger would.
async fn package_activation_consumer(state: AppState) {
    use shared::config::JobQueue;
    loop {
        let pumped = shared::local::pump_job_queue(&state, JobQueue::PackageActivation, 5, |e| {
            shared::jobs::package_activation::handle(&state, e)
        })
        .await;
        if let Err(e) = pumped {
            tracing::warn!(error = %e, "package activation queue poll failed");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }
}

/// Feeds the commission-calculation queue (J14) to its handler, as Lambda's SQS
/// trigger would.
async fn commission_consumer(state: AppState) {
    use shared::config::JobQueue;
    loop {
        let pumped =
            shared::local::pump_job_queue(&state, JobQueue::CommissionCalculation, 5, |e| {
                shared::jobs::commission::handle(&state, e)
            })
            .await;
        if let Err(e) = pumped {
            tracing::warn!(error = %e, "commission queue poll failed");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }
}

/// Runs the commission sweeper every minute (every 5 on AWS): lost calculations
/// re-sent, due commissions unfrozen.
async fn commission_sweeper(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every.tick().await;
        if let Err(e) = shared::jobs::commission_sweeper::sweep(&state).await {
            tracing::warn!(error = %e, "commission sweep failed");
        }
    }
}

/// Feeds the alert webhook queue to its deliverer, as Lambda's SQS trigger would
/// (a failed delivery comes back after its back-off).
async fn alert_webhooks_consumer(state: AppState) {
    use shared::config::JobQueue;
    loop {
        let handled = shared::local::pump_job_queue(&state, JobQueue::AlertWebhooks, 5, |e| {
            shared::jobs::alert_webhooks::handle(&state, e)
        })
        .await;
        if let Err(e) = handled {
            tracing::warn!(error = %e, "alert webhook queue poll failed");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }
}

/// Evaluates the polling alert rules every minute (J2), as its schedule would.
async fn polling_alert_check(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every.tick().await;
        let snapshot = match shared::services::polling::admin::metrics_snapshot(&state).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "polling metrics unavailable");
                continue;
            }
        };
        let now = state.clock.now();
        if let Err(e) = shared::jobs::polling_alerts::run(&state, now, &snapshot).await {
            tracing::warn!(error = %e, "polling alert check failed");
        }
        if let Err(e) = shared::services::usage_rules::fire::sweep(&state).await {
            tracing::warn!(error = %e, "usage rule sweep failed");
        }
    }
}
