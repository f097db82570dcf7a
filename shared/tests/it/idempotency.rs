//! `Idempotency-Key` on admin writes (`api::idempotency`): a keyed write runs once per
//! account and key, repeats answer the stored response flagged `Idempotent-Replayed`,
//! the key on another request answers `1008`/422, a repeat while the first is in
//! flight `1009`/409; requests without the key are untouched.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, Uri};
use serde_json::{json, Value};
use shared::api::idempotency::{request_hash, TTL};
use shared::store::idempotency::{account_key, Claim};
use shared::store::str_attr;

use crate::helpers::{spawn_app, whole, Resp, TestApp};

const CARRIERS: &str = "/api/admin/carriers";

/// Sends `method path` as `token` with `Idempotency-Key: key` (raw bytes).
async fn keyed(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    key: &[u8],
    body: Option<&Value>,
) -> Resp {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("idempotency-key", HeaderValue::from_bytes(key).unwrap());
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    app.send(req.body(body).unwrap()).await
}

fn replayed(r: &Resp) -> bool {
    match r.headers.get("idempotent-replayed") {
        Some(v) => {
            assert_eq!(v, "true");
            true
        }
        None => false,
    }
}

async fn carrier_count(app: &TestApp, token: &str) -> usize {
    let r = app.get(&format!("{CARRIERS}?page_size=100"), token).await;
    whole(r.ok()).len()
}

/// Idempotency records in the table.
async fn records(app: &TestApp) -> usize {
    app.table
        .scan()
        .await
        .iter()
        .filter(|i| str_attr(i, "pk").is_some_and(|pk| pk.starts_with("IDEMP#")))
        .count()
}

async fn account_id(app: &TestApp, token: &str) -> u64 {
    let me = app.get("/api/admin/me", token).await;
    me.ok()["account"]["id"].as_u64().unwrap()
}

fn carrier(name: &str) -> Value {
    json!({"carrier_name": name, "carrier_type": "CMCC"})
}

#[tokio::test]
async fn concurrent_and_sequential_repeats_create_one_carrier() {
    let app = Arc::new(spawn_app().await);
    let sa = app.admin().await;
    let body = carrier("Once");

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (app, sa, body) = (app.clone(), sa.clone(), body.clone());
        tasks.spawn(
            async move { keyed(&app, "POST", CARRIERS, &sa, b"create-1", Some(&body)).await },
        );
    }
    let mut done = Vec::new();
    while let Some(r) = tasks.join_next().await {
        done.push(r.unwrap());
    }
    let (ok, busy): (Vec<Resp>, Vec<Resp>) = done.into_iter().partition(|r| r.code() == 0);
    for r in &busy {
        r.err(409, 1009);
    }
    assert_eq!(ok.iter().filter(|r| !replayed(r)).count(), 1, "{ok:?}");
    let first = ok.iter().find(|r| !replayed(r)).unwrap().body.clone();
    for r in &ok {
        assert_eq!(r.body, first);
    }
    assert_eq!(carrier_count(&app, &sa).await, 1);

    for _ in 0..10 {
        let r = keyed(&app, "POST", CARRIERS, &sa, b"create-1", Some(&body)).await;
        assert_eq!(r.status, 200);
        assert!(replayed(&r));
        assert_eq!(r.body, first);
    }
    assert_eq!(carrier_count(&app, &sa).await, 1);

    // A keyed delete replays its success instead of answering "not found".
    let item = format!("{CARRIERS}/{}", first["data"]["id"]);
    let deleted = keyed(&app, "DELETE", &item, &sa, b"delete-1", None).await;
    deleted.ok();
    assert!(!replayed(&deleted));
    let again = keyed(&app, "DELETE", &item, &sa, b"delete-1", None).await;
    assert!(replayed(&again));
    assert_eq!(again.body, deleted.body);
    assert_eq!(app.delete(&item, &sa).await.code(), 1002);

    // After 24 hours the key is free again.
    app.state.clock.advance(TTL.completed + 1);
    let sa = app.admin().await;
    let later = keyed(&app, "POST", CARRIERS, &sa, b"create-1", Some(&body)).await;
    later.ok();
    assert!(!replayed(&later));
    assert_ne!(later.data()["id"], first["data"]["id"]);
}

#[tokio::test]
async fn the_key_on_another_request_is_refused() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let first = keyed(&app, "POST", CARRIERS, &sa, b"k", Some(&carrier("A"))).await;
    first.ok();

    let other_body = keyed(&app, "POST", CARRIERS, &sa, b"k", Some(&carrier("B"))).await;
    other_body.err(422, 1008);
    assert!(other_body.body["msg"]
        .as_str()
        .unwrap()
        .contains("Idempotency-Key"));
    let query = format!("{CARRIERS}?x=1");
    let other_query = keyed(&app, "POST", &query, &sa, b"k", Some(&carrier("A"))).await;
    other_query.err(422, 1008);
    let item = format!("{CARRIERS}/{}", first.data()["id"]);
    let other_route = keyed(&app, "PUT", &item, &sa, b"k", Some(&carrier("A"))).await;
    other_route.err(422, 1008);
    assert_eq!(carrier_count(&app, &sa).await, 1);

    // Still the first request's answer.
    let r = keyed(&app, "POST", CARRIERS, &sa, b"k", Some(&carrier("A"))).await;
    assert!(replayed(&r));
    assert_eq!(r.body, first.body);
}

#[tokio::test]
async fn keys_are_per_account() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    app.platform_account(&sa, "ops", "password-ops").await;
    let ops = app.login("ops", "password-ops").await;
    let body = carrier("Shared key");
    let a = keyed(&app, "POST", CARRIERS, &sa, b"same", Some(&body)).await;
    let b = keyed(&app, "POST", CARRIERS, &ops, b"same", Some(&body)).await;
    assert!(!replayed(&a) && !replayed(&b));
    assert_ne!(a.ok()["id"], b.ok()["id"]);
    assert_eq!(carrier_count(&app, &sa).await, 2);
}

#[tokio::test]
async fn a_repeat_while_the_first_runs_is_refused_until_its_claim_lapses() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let body = carrier("In flight");
    let hash = request_hash(
        &Method::POST,
        &Uri::from_static(CARRIERS),
        body.to_string().as_bytes(),
    );
    let record = account_key(account_id(&app, &sa).await, "busy");
    let now = app.state.clock.now();
    let claim = app
        .state
        .store
        .idempotency_claim(&record, &hash, now, TTL)
        .await
        .unwrap();
    assert!(matches!(claim, Claim::Proceed(_)));

    let r = keyed(&app, "POST", CARRIERS, &sa, b"busy", Some(&body)).await;
    r.err(409, 1009);
    assert!(!replayed(&r));
    let other = keyed(&app, "POST", CARRIERS, &sa, b"busy", Some(&carrier("X"))).await;
    other.err(422, 1008);
    assert_eq!(carrier_count(&app, &sa).await, 0);

    // The first attempt died: once its in-progress time passes, a repeat runs.
    app.state.clock.advance(TTL.in_progress + 1);
    let r = keyed(&app, "POST", CARRIERS, &sa, b"busy", Some(&body)).await;
    r.ok();
    assert!(!replayed(&r));
    assert_eq!(carrier_count(&app, &sa).await, 1);
}

#[tokio::test]
async fn client_errors_are_replayed_not_rerun() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let coded = json!({"carrier_name": "Coded", "carrier_type": "CUCC", "carrier_code": "CU-1"});
    let existing = app.post(CARRIERS, &sa, coded.clone()).await;
    existing.ok();

    let dup = keyed(&app, "POST", CARRIERS, &sa, b"dup", Some(&coded)).await;
    dup.err(409, 1030);
    assert!(!replayed(&dup));
    // The conflict is gone, yet the key answers what it answered.
    let item = format!("{CARRIERS}/{}", existing.data()["id"]);
    app.delete(&item, &sa).await.ok();
    let again = keyed(&app, "POST", CARRIERS, &sa, b"dup", Some(&coded)).await;
    assert!(replayed(&again));
    assert_eq!(again.body, dup.body);
    assert_eq!(again.status, 409);
    assert_eq!(carrier_count(&app, &sa).await, 0);

    // An invalid body too.
    let bad = json!({"carrier_name": "No type"});
    let first = keyed(&app, "POST", CARRIERS, &sa, b"bad", Some(&bad)).await;
    first.err(400, 1001);
    let second = keyed(&app, "POST", CARRIERS, &sa, b"bad", Some(&bad)).await;
    assert!(replayed(&second));
    assert_eq!(second.body, first.body);
}

#[tokio::test]
async fn without_the_key_nothing_changes() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let plain = app.post(CARRIERS, &sa, carrier("Plain")).await;
    plain.ok();
    let plain_again = app.post(CARRIERS, &sa, carrier("Plain")).await;
    plain_again.ok();
    assert_ne!(plain.data()["id"], plain_again.data()["id"]);
    // Reads, public routes and unauthenticated requests ignore the key.
    let list = keyed(&app, "GET", CARRIERS, &sa, b"read", None).await;
    list.ok();
    let login = json!({"username": "admin", "password": crate::helpers::ADMIN_PASSWORD});
    let r = keyed(&app, "POST", "/api/admin/login", "", b"login", Some(&login)).await;
    r.ok();
    let r = keyed(&app, "POST", CARRIERS, "nope", b"anon", Some(&carrier("N"))).await;
    r.err(401, 1004);
    assert_eq!(records(&app).await, 0);

    // The same request keyed: the claim and its completion, two calls more; a replay
    // costs one call beyond the access check.
    let keyed_once = keyed(
        &app,
        "POST",
        CARRIERS,
        &sa,
        b"calls",
        Some(&carrier("Plain")),
    )
    .await;
    keyed_once.ok();
    assert_eq!(keyed_once.ddb_calls(), plain_again.ddb_calls() + 2);
    let replay = keyed(
        &app,
        "POST",
        CARRIERS,
        &sa,
        b"calls",
        Some(&carrier("Plain")),
    )
    .await;
    assert!(replayed(&replay));
    let me = app.get("/api/admin/me", &sa).await;
    assert!(
        replay.ddb_calls() <= me.ddb_calls() + 1,
        "{}",
        replay.ddb_calls()
    );
    assert_eq!(records(&app).await, 1);
}

#[tokio::test]
async fn invalid_keys_are_refused() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let long = vec![b'k'; 256];
    for key in [&b""[..], b"has space", b"caf\xc3\xa9", &long] {
        let r = keyed(&app, "POST", CARRIERS, &sa, key, Some(&carrier("K"))).await;
        r.err(400, 1001);
        assert!(r.body["msg"].as_str().unwrap().contains("Idempotency-Key"));
    }
    let req = Request::builder()
        .method("POST")
        .uri(CARRIERS)
        .header("authorization", format!("Bearer {sa}"))
        .header("content-type", "application/json")
        .header("idempotency-key", "a")
        .header("idempotency-key", "b")
        .body(Body::from(carrier("K").to_string()))
        .unwrap();
    app.send(req).await.err(400, 1001);
    let longest = vec![b'k'; 255];
    keyed(&app, "POST", CARRIERS, &sa, &longest, Some(&carrier("K")))
        .await
        .ok();
    assert_eq!(carrier_count(&app, &sa).await, 1);
}
