//! Scale benchmark against the local stack (run by `scripts/bench-scale.sh`): seeds a
//! tenant of 2 000 shops, 2 000 accounts and 5 000 cards (`shared::local::scale`) and
//! prints, for every request of `local::scale::PAGES` (every list route unfiltered and
//! with one filter, resolve, who-am-I), the DynamoDB calls and read units of its first
//! and next page next to its call budget. Calls transfer to DynamoDB as they are; the
//! emulator's read units are its own estimate (DynamoDB reports exact ones).

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use shared::api::app;
use shared::api::extract::ClientIp;
use shared::app::AppState;
use shared::config::Config;
use shared::local::scale::{seed_tenant, Reader, Size, PAGES};
use shared::local::LocalError;
use shared::services::auth::{self, LoginRequest};
use shared::store::{keys, num_attr};
use tower::ServiceExt;

/// What one request cost.
struct Cost {
    status: u16,
    calls: String,
    units: String,
    next: Option<String>,
}

async fn get(router: &axum::Router, path: &str, token: &str) -> Result<Cost, LocalError> {
    let mut req = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())?;
    req.extensions_mut().insert(ClientIp("127.0.0.1".into()));
    let res = router.clone().oneshot(req).await?;
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?")
            .to_string()
    };
    let (status, calls, units) = (
        res.status().as_u16(),
        header("x-ddb-calls"),
        header("x-ddb-read-units"),
    );
    let body = res.into_body().collect().await?.to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body)?;
    let next = json
        .pointer("/data/next_cursor")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    Ok(Cost {
        status,
        calls,
        units,
        next,
    })
}

async fn token(state: &AppState, username: &str, password: &str) -> Result<String, LocalError> {
    let req = LoginRequest {
        username: username.into(),
        password: password.into(),
    };
    Ok(auth::login(state, req, "127.0.0.1").await?.access_token)
}

#[tokio::main]
async fn main() -> Result<(), LocalError> {
    let endpoint = std::env::var("CMP_AWS_ENDPOINT")?;
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let mut cfg = Config::for_local(&format!("scale-{run}"), &endpoint);
    cfg.bucket = format!("scale-{run}");
    cfg.expose_ddb_calls = true;
    let admin_password = "Bench#2026admin".to_string();
    cfg.super_admin_password = Some(admin_password.clone());
    let state = shared::local::ensure(cfg, &endpoint, &format!("scale-{run}.fifo")).await?;
    auth::bootstrap(&state).await?;
    let carrier = shared::local::scale::bench_carrier(&state.store).await?;
    let role = state
        .store
        .get(&keys::unique("role_name", "代理商管理员"))
        .await?
        .and_then(|item| num_attr(&item, "target_id"))
        .ok_or("the built-in agent role is missing")? as u64;
    let size = Size {
        shops: 2000,
        accounts: 2000,
        cards: 5000,
    };
    let started = std::time::Instant::now();
    let seeded = seed_tenant(&state.store, 0, "SC", size, role, &carrier).await?;
    eprintln!(
        "seeded {} shops, {} accounts, {} cards in {:.0} s",
        size.shops,
        size.accounts,
        size.cards,
        started.elapsed().as_secs_f64()
    );
    let sa = token(&state, &state.cfg.super_admin_username, &admin_password).await?;
    let top = token(&state, &seeded.top_username, &seeded.password).await?;
    let deep = token(&state, &seeded.deep_username, &seeded.password).await?;
    let router = app(state.clone());
    let iccid = format!("8986{:016}", 7_000_000_000_000u64 + 1);

    println!("| reader | request | calls (page 1) | read units (page 1) | calls (page 2) | read units (page 2) | budget |");
    println!("|---|---|---|---|---|---|---|");
    for page in PAGES {
        let (who, token) = match page.reader {
            Reader::Platform => ("platform", &sa),
            Reader::TopAgent => ("level-1 agent", &top),
            Reader::DeepAgent => ("level-3 agent", &deep),
        };
        let path = page.path.replace("{iccid}", &iccid);
        let first = get(&router, &path, token).await?;
        let second = match &first.next {
            Some(cursor) => {
                let sep = if path.contains('?') { '&' } else { '?' };
                let c = get(&router, &format!("{path}{sep}cursor={cursor}"), token).await?;
                (c.calls, c.units)
            }
            None => ("—".into(), "—".into()),
        };
        let budget = match page.budget {
            usize::MAX => "shard merge".to_string(),
            b => b.to_string(),
        };
        let status = if first.status == 200 {
            String::new()
        } else {
            format!(" (HTTP {})", first.status)
        };
        println!(
            "| {who} | `{path}`{status} | {} | {} | {} | {} | {budget} |",
            first.calls, first.units, second.0, second.1
        );
    }
    Ok(())
}
