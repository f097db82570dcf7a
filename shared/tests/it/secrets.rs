//! Secrets read from Secrets Manager (here the emulator's) on first use, never from
//! environment variables: the JWT key, the gateway secret and the bootstrap password.
//! A cold start reads nothing; a failed read answers `2001` and the next use retries.

use shared::app::{AppState, Clients};
use shared::config::Config;
use shared::local::seed_secrets;

use crate::helpers::{endpoint, TestTable, ADMIN_PASSWORD};

fn prefix() -> String {
    format!("t-{}", uuid::Uuid::new_v4().simple())
}

const JWT: &str = "a-jwt-key-from-secrets-manager-0123456789";

#[tokio::test]
async fn a_function_reads_the_secrets_it_needs_on_first_use() {
    let table = TestTable::new().await;
    let mut cfg = Config::for_local(table.store.table(), &endpoint());
    cfg.jwt_secret = JWT.into();
    cfg.gateway_app_secret = "gateway-secret-16b".into();
    cfg.gateway_url = Some("http://127.0.0.1:9".into());
    cfg.super_admin_password = Some(ADMIN_PASSWORD.into());
    let prefix = prefix();
    let cfg = seed_secrets(cfg, &endpoint(), &prefix).await.unwrap();
    assert!(cfg.jwt_secret.is_empty() && cfg.gateway_app_secret.is_empty());
    assert!(cfg.super_admin_password.is_none());

    // An HTTP group signs with the JWT key from Secrets Manager.
    let api = AppState::connect_local(cfg.clone(), &endpoint(), Clients::API).unwrap();
    let token = shared::auth::TokenKeys::new(JWT)
        .issue(&sample_claims())
        .unwrap();
    let keys = api.tokens().await.unwrap();
    assert!(keys
        .verify(&token, shared::auth::TokenKind::Access, 1)
        .is_ok());
    assert!(
        api.gateway().await.unwrap().is_none(),
        "not a gateway function"
    );
    // A gateway group builds its client from the gateway secret.
    let gw = AppState::connect_local(cfg.clone(), &endpoint(), Clients::API.gateway()).unwrap();
    assert!(gw.gateway().await.unwrap().is_some());
    // A job has no token keys and builds only the clients it names.
    let job = AppState::connect_local(cfg.clone(), &endpoint(), Clients::TABLE).unwrap();
    assert!(job.tokens().await.is_err());
    assert!(job.s3().is_err() && job.import_queue().is_err());
    assert!(job.gateway().await.unwrap().is_none());
    assert!(api.s3().is_err() && api.import_queue().is_err());
    let worker =
        AppState::connect_local(cfg.clone(), &endpoint(), Clients::TABLE.s3().import_queue())
            .unwrap();
    assert!(worker.s3().is_ok() && worker.import_queue().is_ok());

    // The bootstrap password is read only while no super admin exists.
    let id = shared::services::auth::ensure_super_admin(&api)
        .await
        .unwrap();
    assert!(id.is_some());
    let mut gone = cfg.clone();
    gone.super_admin_secret_id = Some(format!("{prefix}/no-such-secret"));
    let later = AppState::connect_local(gone, &endpoint(), Clients::API).unwrap();
    assert_eq!(
        shared::services::auth::ensure_super_admin(&later)
            .await
            .unwrap(),
        None
    );
}

fn sample_claims() -> shared::auth::Claims {
    shared::auth::Claims {
        sub: 1,
        sid: "s".into(),
        jti: "j".into(),
        typ: shared::auth::TokenKind::Access,
        uty: 1,
        shop: None,
        ent: None,
        owners: Vec::new(),
        rol: Vec::new(),
        iat: 0,
        exp: 100,
    }
}

#[tokio::test]
async fn missing_or_weak_secrets_refuse_their_use_and_are_read_again() {
    let table = TestTable::new().await;
    // A key given in the configuration is checked at cold start (no I/O needed).
    let mut short = Config::for_local(table.store.table(), &endpoint());
    short.jwt_secret = "short".into();
    let e = AppState::connect_local(short, &endpoint(), Clients::API).unwrap_err();
    assert!(e.to_string().contains("at least 32 bytes"), "{e}");

    // A named secret that does not exist yet: its use fails, the cold start did not.
    let name = format!("{}/jwt-secret", prefix());
    let mut cfg = Config::for_local(table.store.table(), &endpoint());
    cfg.jwt_secret = String::new();
    cfg.jwt_secret_id = Some(name.clone());
    let state = AppState::connect_local(cfg.clone(), &endpoint(), Clients::API).unwrap();
    let e = state.tokens().await.unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");
    // Once it exists, the next use reads it (the failure was not kept).
    let secrets = AppState::local(cfg.clone(), &endpoint());
    let secrets = secrets.secrets().unwrap();
    secrets.put(&name, JWT).await.unwrap();
    assert!(state.tokens().await.is_ok());

    // A weak key in Secrets Manager is refused at its use.
    let mut weak = Config::for_local(table.store.table(), &endpoint());
    weak.jwt_secret = "short".into();
    let weak = seed_secrets(weak, &endpoint(), &prefix()).await.unwrap();
    let weak = AppState::connect_local(weak, &endpoint(), Clients::API).unwrap();
    let e = weak.tokens().await.unwrap_err();
    assert!(e.to_string().contains("at least 32 bytes"), "{e}");

    // A weak bootstrap password creates no super admin.
    let mut cfg = Config::for_local(table.store.table(), &endpoint());
    cfg.super_admin_password = Some("short".into());
    let cfg = seed_secrets(cfg, &endpoint(), &prefix()).await.unwrap();
    let state = AppState::connect_local(cfg, &endpoint(), Clients::API).unwrap();
    assert_eq!(
        shared::services::auth::ensure_super_admin(&state)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn the_auth_function_bootstraps_before_its_first_login() {
    let table = TestTable::new().await;
    let mut cfg = Config::for_local(table.store.table(), &endpoint());
    cfg.super_admin_password = Some(ADMIN_PASSWORD.into());
    let cfg = seed_secrets(cfg, &endpoint(), &prefix()).await.unwrap();
    let login = || shared::services::auth::LoginRequest {
        username: cfg.super_admin_username.clone(),
        password: ADMIN_PASSWORD.into(),
    };
    // Another function's login does not bootstrap: no super admin yet.
    let other = AppState::connect_local(cfg.clone(), &endpoint(), Clients::API).unwrap();
    assert!(shared::services::auth::login(&other, login(), "10.0.0.1")
        .await
        .is_err());
    // The auth function creates it, then logs in.
    let auth = AppState::connect_local(cfg.clone(), &endpoint(), Clients::API.bootstrap()).unwrap();
    let pair = shared::services::auth::login(&auth, login(), "10.0.0.2")
        .await
        .unwrap();
    assert!(!pair.access_token.is_empty());
    // The permission catalogue was seeded with it.
    assert_eq!(
        shared::services::auth::seed_permissions(&auth.store, 0)
            .await
            .unwrap(),
        0
    );
}
