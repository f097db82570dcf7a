//! Permission matrix over every wallet and agent-recharge route: super admin,
//! platform, an agent at L1 (shop A), an agent at L3 (shop C, below B below A), a
//! sibling L1 agent (shop D) and an enterprise account.

use serde_json::{json, Value};

use crate::helpers::actors::Actors;
use crate::helpers::{spawn_app, TestApp, ADMIN_PASSWORD};
use crate::matrix::{
    none, row_of, run, Allow, Code, Deny, Exp, Hidden, Row, ALL_ADMIN_BUT_ENT, PLATFORM_ONLY,
    SCOPED,
};

const NO_CONFIG: Exp = Code(400, 1175);
const NOT_FOUND: Exp = Code(404, 1121);

/// Each actor's own password, in the order of the cast.
const PASSWORDS: [&str; 6] = [
    ADMIN_PASSWORD,
    "password-ops",
    "password-A",
    "password-C",
    "password-D",
    "password-e",
];

struct F {
    a: u64,
    b: u64,
    /// An offline recharge of A.
    recharge_a: u64,
    /// One pending offline recharge per actor, to confirm.
    fresh: Vec<u64>,
}

fn row(
    method: &'static str,
    path: impl Fn(&F, usize) -> String + 'static,
    body: impl Fn(&F, usize) -> Option<Value> + 'static,
    expect: [Exp; 6],
) -> Row<F> {
    row_of(method, path, body, expect)
}

async fn recharge(app: &TestApp, token: &str, shop: u64) -> u64 {
    let body = json!({"shop_id": shop, "amount": 10_000, "payment_method": "offline"});
    app.post("/api/admin/agent-recharges", token, body)
        .await
        .ok()["id"]
        .as_u64()
        .unwrap()
}

fn rows() -> Vec<Row<F>> {
    let create = |shop: fn(&F) -> u64, method: &'static str| {
        move |f: &F, _: usize| {
            Some(json!({"shop_id": shop(f), "amount": 10_000, "payment_method": method}))
        }
    };
    vec![
        row(
            "GET",
            |f, _| format!("/api/admin/shops/{}/wallets", f.b),
            none,
            SCOPED,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/wallets/{}/transactions", f.b * 2),
            none,
            SCOPED,
        ),
        row(
            "GET",
            |_, _| "/api/admin/agent-recharges".into(),
            none,
            ALL_ADMIN_BUT_ENT,
        ),
        // Offline: the platform only.
        row(
            "POST",
            |_, _| "/api/admin/agent-recharges".into(),
            create(|f| f.a, "offline"),
            PLATFORM_ONLY,
        ),
        // Online for shop A: A's agent and the platform pass every check but the
        // missing payment configuration; other agents may not recharge A.
        row(
            "POST",
            |_, _| "/api/admin/agent-recharges".into(),
            create(|f| f.a, "wechat"),
            [NO_CONFIG, NO_CONFIG, NO_CONFIG, Deny, Deny, Deny],
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/agent-recharges/{}", f.recharge_a),
            none,
            [Allow, Allow, Allow, NOT_FOUND, NOT_FOUND, Deny],
        ),
        row(
            "POST",
            |f, i| format!("/api/admin/agent-recharges/{}/offline-pay", f.fresh[i]),
            |_, i| Some(json!({"operation_password": PASSWORDS[i]})),
            PLATFORM_ONLY,
        ),
    ]
}

#[tokio::test]
async fn every_money_route_for_every_kind_of_caller() {
    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    let recharge_a = recharge(&app, &cast.sa, cast.a).await;
    let mut fresh = Vec::new();
    for _ in 0..6 {
        fresh.push(recharge(&app, &cast.sa, cast.a).await);
    }
    let f = F {
        a: cast.a,
        b: cast.b,
        recharge_a,
        fresh,
    };
    let tokens = cast.tokens();
    let failures = run(&app, &tokens, &f, &rows()).await;
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Hidden is the shop's 1002; a recharge outside the scope is 1121.
    assert_ne!(Hidden, NOT_FOUND);
    for r in rows() {
        let res = app
            .call(r.method, &(r.path)(&f, 0), None, (r.body)(&f, 0))
            .await;
        res.err(401, 1004);
    }
}
