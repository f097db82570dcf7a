//! Secrets read from Secrets Manager at cold start (here the emulator's), never from
//! environment variables: the JWT key, the gateway secret and the bootstrap password.

use shared::app::{AppState, Clients};
use shared::config::Config;
use shared::local::seed_secrets;

use crate::helpers::{endpoint, TestTable, ADMIN_PASSWORD};

fn prefix() -> String {
    format!("t-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn a_function_reads_the_secrets_it_needs_once_at_cold_start() {
    let table = TestTable::new().await;
    let mut cfg = Config::for_local(table.store.table(), &endpoint());
    cfg.jwt_secret = "a-jwt-key-from-secrets-manager-0123456789".into();
    cfg.gateway_app_secret = "gateway-secret-16b".into();
    cfg.super_admin_password = Some(ADMIN_PASSWORD.into());
    let prefix = prefix();
    let cfg = seed_secrets(cfg, &endpoint(), &prefix).await.unwrap();
    assert!(cfg.jwt_secret.is_empty() && cfg.gateway_app_secret.is_empty());
    assert!(cfg.super_admin_password.is_none());

    // An HTTP group reads the JWT key; a gateway group also the gateway secret.
    let api = AppState::connect_local(cfg.clone(), &endpoint(), Clients::API)
        .await
        .unwrap();
    assert_eq!(
        api.cfg.jwt_secret,
        "a-jwt-key-from-secrets-manager-0123456789"
    );
    assert!(
        api.cfg.gateway_app_secret.is_empty(),
        "not a gateway function"
    );
    let gw = AppState::connect_local(cfg.clone(), &endpoint(), Clients::API.gateway())
        .await
        .unwrap();
    assert_eq!(gw.cfg.gateway_app_secret, "gateway-secret-16b");
    // A job reads none.
    let job = AppState::connect_local(cfg.clone(), &endpoint(), Clients::TABLE)
        .await
        .unwrap();
    assert!(job.cfg.jwt_secret.is_empty());
    // Each function builds only the clients it names.
    assert!(job.s3().is_err() && job.import_queue().is_err() && job.gateway().is_none());
    assert!(api.s3().is_err() && api.import_queue().is_err());
    let worker =
        AppState::connect_local(cfg.clone(), &endpoint(), Clients::TABLE.s3().import_queue())
            .await
            .unwrap();
    assert!(worker.s3().is_ok() && worker.import_queue().is_ok() && worker.gateway().is_none());

    // The bootstrap password is read only while no super admin exists.
    let id = shared::services::auth::ensure_super_admin(&api)
        .await
        .unwrap();
    assert!(id.is_some());
    let mut gone = cfg.clone();
    gone.super_admin_secret_id = Some(format!("{prefix}/no-such-secret"));
    let later = AppState::connect_local(gone, &endpoint(), Clients::API)
        .await
        .unwrap();
    assert_eq!(
        shared::services::auth::ensure_super_admin(&later)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn missing_or_weak_secrets_stop_the_cold_start() {
    let table = TestTable::new().await;
    let mut cfg = Config::for_local(table.store.table(), &endpoint());
    cfg.jwt_secret = String::new();
    cfg.jwt_secret_id = Some(format!("{}/missing", prefix()));
    let e = AppState::connect_local(cfg.clone(), &endpoint(), Clients::API)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");

    let mut weak = Config::for_local(table.store.table(), &endpoint());
    weak.jwt_secret = "short".into();
    let weak = seed_secrets(weak, &endpoint(), &prefix()).await.unwrap();
    let e = AppState::connect_local(weak, &endpoint(), Clients::API)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at least 32 bytes"), "{e}");

    // A weak bootstrap password creates no super admin.
    let mut cfg = Config::for_local(table.store.table(), &endpoint());
    cfg.super_admin_password = Some("short".into());
    let cfg = seed_secrets(cfg, &endpoint(), &prefix()).await.unwrap();
    let state = AppState::connect_local(cfg, &endpoint(), Clients::API)
        .await
        .unwrap();
    assert_eq!(
        shared::services::auth::ensure_super_admin(&state)
            .await
            .unwrap(),
        None
    );
}
