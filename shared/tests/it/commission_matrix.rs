//! Permission matrix over every commission route: super admin, platform, an agent
//! at L1 (shop A), an agent at L3 (shop C, below B below A), a sibling L1 agent
//! (shop D) and an enterprise account.

use serde_json::{json, Value};

use shared::domain::wallet::{LedgerEntry, Movement, TxType, WalletKind};

use crate::helpers::actors::Actors;
use crate::helpers::spawn_app;
use crate::matrix::{
    none, row_of, run, Allow, Code, Deny, Exp, Hidden, Row, ALL_ADMIN_BUT_ENT, PLATFORM_ONLY,
    SCOPED,
};

/// Agents only (the `my-…` routes): the platform has no shop of its own.
const AGENTS: [Exp; 6] = [Deny, Deny, Allow, Allow, Allow, Deny];
const NEED_SHOP: Exp = Code(400, 1001);

struct F {
    b: u64,
    c: u64,
    month: String,
    /// One pending withdrawal of C per actor, to approve; another to reject.
    approve: Vec<u64>,
    reject: Vec<u64>,
}

fn row(
    method: &'static str,
    path: impl Fn(&F, usize) -> String + 'static,
    body: impl Fn(&F, usize) -> Option<Value> + 'static,
    expect: [Exp; 6],
) -> Row<F> {
    row_of(method, path, body, expect)
}

fn ask_body() -> Value {
    json!({"amount": 1000, "payee": {"payee_type": "bank", "account_name": "x", "account_no": "1", "bank_name": "b"}})
}

fn ask(_: &F, _: usize) -> Option<Value> {
    Some(ask_body())
}

fn empty(_: &F, _: usize) -> Option<Value> {
    Some(json!({}))
}

fn rows() -> Vec<Row<F>> {
    vec![
        row(
            "GET",
            |_, _| "/api/admin/shop-commission/summary".into(),
            none,
            ALL_ADMIN_BUT_ENT,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/shop-commission/records?shop_id={}", f.b),
            none,
            SCOPED,
        ),
        row(
            "GET",
            |_, _| "/api/admin/shop-commission/records".into(),
            none,
            [Allow, Allow, NEED_SHOP, NEED_SHOP, NEED_SHOP, Deny],
        ),
        row(
            "GET",
            |f, _| {
                format!(
                    "/api/admin/shop-commission/withdrawal-requests?shop_id={}",
                    f.b
                )
            },
            none,
            SCOPED,
        ),
        row(
            "GET",
            |f, _| {
                format!(
                    "/api/admin/shop-commission/statement?shop_id={}&month={}",
                    f.b, f.month
                )
            },
            none,
            SCOPED,
        ),
        // C's own: visible to C and the shops above it, not to the sibling.
        row(
            "GET",
            |f, _| format!("/api/admin/shop-commission/records?shop_id={}", f.c),
            none,
            [Allow, Allow, Allow, Allow, Hidden, Deny],
        ),
        row(
            "GET",
            |_, _| "/api/admin/my-commission/summary".into(),
            none,
            AGENTS,
        ),
        row(
            "GET",
            |_, _| "/api/admin/my-commission/records".into(),
            none,
            AGENTS,
        ),
        row(
            "GET",
            |_, _| "/api/admin/my-commission/withdrawal-requests".into(),
            none,
            AGENTS,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/my-commission/statement?month={}", f.month),
            none,
            AGENTS,
        ),
        // A and D hold no commission: refused for the balance; C has some.
        row(
            "POST",
            |_, _| "/api/admin/my-commission/withdrawal-requests".into(),
            ask,
            [Deny, Deny, Code(400, 1123), Allow, Code(400, 1123), Deny],
        ),
        row(
            "GET",
            |_, _| "/api/admin/commission/withdrawal-requests".into(),
            none,
            PLATFORM_ONLY,
        ),
        row(
            "POST",
            |f, i| {
                format!(
                    "/api/admin/commission/withdrawal-requests/{}/approve",
                    f.approve[i]
                )
            },
            empty,
            PLATFORM_ONLY,
        ),
        row(
            "POST",
            |f, i| {
                format!(
                    "/api/admin/commission/withdrawal-requests/{}/reject",
                    f.reject[i]
                )
            },
            empty,
            PLATFORM_ONLY,
        ),
        row(
            "POST",
            |_, _| "/api/admin/commission/withdrawal-requests/999999/approve".into(),
            empty,
            [Code(404, 1140), Code(404, 1140), Deny, Deny, Deny, Deny],
        ),
        row(
            "GET",
            |_, _| "/api/admin/commission/withdrawal-settings".into(),
            none,
            ALL_ADMIN_BUT_ENT,
        ),
        // A stale version: the platform passes every check but the version.
        row(
            "POST",
            |_, _| "/api/admin/commission/withdrawal-settings".into(),
            |_, _| {
                Some(
                    json!({"enabled": true, "min_amount": 100, "max_amount": 5000, "daily_max_amount": 9000,
                    "fee_rate_bp": 0, "allowed_payee_types": ["bank"], "unfreeze_days": 7, "version": 99}),
                )
            },
            [Code(409, 1007), Code(409, 1007), Deny, Deny, Deny, Deny],
        ),
        row(
            "GET",
            |_, _| "/api/admin/commission/failed-calculations".into(),
            none,
            PLATFORM_ONLY,
        ),
        row(
            "POST",
            |_, _| "/api/admin/commission/failed-calculations/999999/retry".into(),
            empty,
            [Code(404, 1134), Code(404, 1134), Deny, Deny, Deny, Deny],
        ),
    ]
}

#[tokio::test]
async fn every_commission_route_for_every_kind_of_caller() {
    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    // C holds 1000.00 CNY of available commission.
    let now = app.state.clock.now();
    let credit = LedgerEntry::new(
        "test-commission:c",
        cast.c,
        WalletKind::Commission,
        Movement::Credit(100_000),
        TxType::Commission,
        now,
    );
    app.state.store.ledger(&credit).await.unwrap();
    let mut pending = Vec::new();
    for _ in 0..12 {
        let w = app
            .post(
                "/api/admin/my-commission/withdrawal-requests",
                &cast.l3,
                ask_body(),
            )
            .await;
        pending.push(w.ok()["id"].as_u64().unwrap());
    }
    let month = chrono::DateTime::from_timestamp(now, 0)
        .unwrap()
        .with_timezone(&shared::clock::cst())
        .format("%Y-%m")
        .to_string();
    let f = F {
        b: cast.b,
        c: cast.c,
        month,
        approve: pending[..6].to_vec(),
        reject: pending[6..].to_vec(),
    };
    let failures = run(&app, &cast.tokens(), &f, &rows()).await;
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for r in rows() {
        let res = app
            .call(r.method, &(r.path)(&f, 0), None, (r.body)(&f, 0))
            .await;
        res.err(401, 1004);
    }
}
