//! Permission matrix over every route of the package-series, packages and
//! shop-series-grants groups: super admin, platform, an agent at L1 (shop A, holding
//! the platform's grant of series S and granting it on to B), an agent at L3 (shop C,
//! below B, no grant), a sibling L1 agent (shop D, no grant) and an enterprise account.

use serde_json::{json, Value};

use crate::helpers::actors::Actors;
use crate::helpers::{spawn_app, TestApp};
use crate::matrix::{
    none, row_of, run, Allow, Code, Deny, Exp, Hidden, Row, ALL_ADMIN_BUT_ENT, PLATFORM_ONLY,
};

/// Only the platform may act; everybody else gets 403 `1005`.
const SA_PL: [Exp; 6] = PLATFORM_ONLY;
/// Agent-only routes on the caller's own allocation of P1: A holds one, C and D do not.
const OWN_ALLOCATION: [Exp; 6] = [Deny, Deny, Allow, NO_ALLOC, NO_ALLOC, Deny];
/// Objects granted or allocated to A: the platform and A see them, C and D do not.
const HELD_BY_A: [Exp; 6] = [Allow, Allow, Allow, Hidden, Hidden, Deny];
/// A grant issued by the platform: agents see only grants they issued.
const PLATFORM_GRANT: [Exp; 6] = [Allow, Allow, Hidden, Hidden, Hidden, Deny];
/// Changes to a grant issued by agent A: only A; the platform may not change it.
const A_GRANT_CHANGE: [Exp; 6] = [Deny, Deny, Allow, Hidden, Hidden, Deny];

const NO_ALLOC: Exp = Code(400, 1048);
const GRANTOR_LACKS_GRANT: Exp = Code(403, 1043);
const NO_GRANT: Exp = Code(400, 1057);
const NOT_DIRECT: Exp = Code(400, 1035);

struct F {
    a: u64,
    b: u64,
    c: u64,
    d: u64,
    /// Series S (fixed commission) and its packages P1 (granted to A and B) and P2
    /// (granted to A only).
    s: u64,
    p1: u64,
    p2: u64,
    /// The platform's grant of S to A, and A's grant of S to B.
    grant_a: u64,
    grant_b: u64,
    /// One per actor: series and packages to delete.
    fresh_series: Vec<u64>,
    fresh_packages: Vec<u64>,
    /// One per actor: packages of S nobody holds (batch allocation, grant packages).
    spare_alloc: Vec<u64>,
    spare_grant: Vec<u64>,
    /// One per actor: the shop a new grant of S goes to (L1 for the platform, under A
    /// for the agents).
    grant_targets: Vec<u64>,
    /// One per actor: grants of S issued by the platform / by A, to delete.
    platform_grants: Vec<u64>,
    agent_grants: Vec<u64>,
}

fn row(
    method: &'static str,
    path: impl Fn(&F, usize) -> String + 'static,
    body: impl Fn(&F, usize) -> Option<Value> + 'static,
    expect: [Exp; 6],
) -> Row<F> {
    row_of(method, path, body, expect)
}

fn package_body(code: &str, series: u64) -> Value {
    json!({
        "package_code": code,
        "package_name": code,
        "package_series_id": series,
        "package_type": "formal",
        "real_data_mb": 1024,
        "calendar_type": "natural_month",
        "duration_months": 1,
        "data_reset_cycle": "monthly",
        "suggested_retail_price": 15000,
        "cost_price": 5000
    })
}

fn series_body(code: &str) -> Value {
    json!({
        "series_name": code,
        "series_code": code,
        "commission_type": "fixed",
        "commission_amount": 1000
    })
}

async fn id(r: crate::helpers::Resp) -> u64 {
    r.ok()["id"].as_u64().unwrap()
}

async fn setup(app: &TestApp) -> (Vec<String>, F) {
    let cast = Actors::new(app).await;
    let (sa, role) = (cast.sa.clone(), cast.role);
    let (a, b, c, d) = (cast.a, cast.b, cast.c, cast.d);
    let tokens = cast.tokens();
    let agent_a = &tokens[2];
    let admin: &str = &sa;

    let s = id(app
        .post("/api/admin/package-series", &sa, series_body("S"))
        .await)
    .await;
    let pkg = |code: String| async move {
        id(app
            .post("/api/admin/packages", admin, package_body(&code, s))
            .await)
        .await
    };
    let p1 = pkg("P1".into()).await;
    let p2 = pkg("P2".into()).await;
    let grant = |token: &str, shop: u64, amount: i64, packages: Value| {
        let token = token.to_string();
        async move {
            id(app
                .post(
                    "/api/admin/shop-series-grants",
                    &token,
                    json!({"shop_id": shop, "series_id": s, "one_time_commission_amount": amount, "packages": packages}),
                )
                .await)
            .await
        }
    };
    let grant_a = grant(
        &sa,
        a,
        500,
        json!([{"package_id": p1, "cost_price": 8000}, {"package_id": p2, "cost_price": 8000}]),
    )
    .await;
    let grant_b = grant(
        agent_a,
        b,
        400,
        json!([{"package_id": p1, "cost_price": 10000}]),
    )
    .await;

    let mut f = F {
        a,
        b,
        c,
        d,
        s,
        p1,
        p2,
        grant_a,
        grant_b,
        fresh_series: vec![],
        fresh_packages: vec![],
        spare_alloc: vec![],
        spare_grant: vec![],
        grant_targets: vec![],
        platform_grants: vec![],
        agent_grants: vec![],
    };
    for i in 0..tokens.len() {
        f.fresh_series.push(
            id(app
                .post(
                    "/api/admin/package-series",
                    &sa,
                    series_body(&format!("FS{i}")),
                )
                .await)
            .await,
        );
        f.fresh_packages.push(pkg(format!("FP{i}")).await);
        f.spare_alloc.push(pkg(format!("AL{i}")).await);
        f.spare_grant.push(pkg(format!("GP{i}")).await);
        // A target nobody holds a grant of S for: L1 for the platform, under A for the
        // agents (C and D are refused before the shop matters).
        let parent = if i < 2 { None } else { Some(a) };
        f.grant_targets
            .push(app.shop(&sa, &format!("T{i}"), parent, role).await);
        let l1 = app.shop(&sa, &format!("PG{i}"), None, role).await;
        f.platform_grants.push(
            grant(
                &sa,
                l1,
                500,
                json!([{"package_id": p1, "cost_price": 8000}]),
            )
            .await,
        );
        let under_a = app.shop(&sa, &format!("AG{i}"), Some(a), role).await;
        f.agent_grants.push(
            grant(
                agent_a,
                under_a,
                300,
                json!([{"package_id": p1, "cost_price": 10000}]),
            )
            .await,
        );
    }
    (tokens, f)
}

fn rows() -> Vec<Row<F>> {
    vec![
        // admin-package-series
        row(
            "GET",
            |_, _| "/api/admin/package-series".into(),
            none,
            ALL_ADMIN_BUT_ENT,
        ),
        row(
            "POST",
            |_, _| "/api/admin/package-series".into(),
            |_, i| Some(series_body(&format!("NS{i}"))),
            SA_PL,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/package-series/{}", f.s),
            none,
            HELD_BY_A,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/package-series/{}", f.s),
            |_, i| Some(json!({"series_name": format!("S by {i}")})),
            SA_PL,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/package-series/{}/status", f.s),
            |_, _| Some(json!({"status": 1})),
            SA_PL,
        ),
        row(
            "DELETE",
            |f, i| format!("/api/admin/package-series/{}", f.fresh_series[i]),
            none,
            SA_PL,
        ),
        // admin-packages
        row(
            "GET",
            |_, _| "/api/admin/packages".into(),
            none,
            ALL_ADMIN_BUT_ENT,
        ),
        row(
            "POST",
            |_, _| "/api/admin/packages".into(),
            |f, i| Some(package_body(&format!("NP{i}"), f.s)),
            SA_PL,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/packages/{}", f.p1),
            none,
            HELD_BY_A,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/packages/{}", f.p1),
            |_, i| Some(json!({"package_name": format!("P1 by {i}")})),
            SA_PL,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/packages/{}/status", f.p1),
            |_, _| Some(json!({"status": 1})),
            SA_PL,
        ),
        row(
            "DELETE",
            |f, i| format!("/api/admin/packages/{}", f.fresh_packages[i]),
            none,
            SA_PL,
        ),
        row(
            "PATCH",
            |f, _| format!("/api/admin/packages/{}/retail-price", f.p1),
            |_, _| Some(json!({"retail_price": 20000})),
            OWN_ALLOCATION,
        ),
        row(
            "PATCH",
            |f, _| format!("/api/admin/packages/{}/shelf-status", f.p1),
            |_, _| Some(json!({"shelf_status": 1})),
            OWN_ALLOCATION,
        ),
        // The platform allocates a spare package to A (under its grant); agent A
        // allocates P2, which it holds, to B (under its grant); C and D hold nothing.
        row(
            "POST",
            |_, _| "/api/admin/shop-package-batch-allocations".into(),
            |f, i| {
                Some(match i {
                    0 | 1 => {
                        json!({"shop_id": f.a, "package_ids": [f.spare_alloc[i]], "cost_price": 8000})
                    }
                    _ => json!({"shop_id": f.b, "package_ids": [f.p2], "cost_price": 10000}),
                })
            },
            // B is the L3 agent's ancestor and the sibling's cousin, not their sub-shop.
            [Allow, Allow, Allow, Hidden, Hidden, Deny],
        ),
        // D holds no grant of S from anybody: the platform can allocate nothing to it;
        // to every agent it is not a direct sub-shop, so it looks missing.
        row(
            "POST",
            |_, _| "/api/admin/shop-package-batch-allocations".into(),
            |f, _| Some(json!({"shop_id": f.d, "package_ids": [f.p1], "cost_price": 10000})),
            [NO_GRANT, NO_GRANT, Hidden, Hidden, Hidden, Deny],
        ),
        // A's allocation of P1 was made by the platform: only the platform prices it;
        // A is no agent's direct sub-shop.
        row(
            "POST",
            |_, _| "/api/admin/shop-package-batch-pricing".into(),
            |f, _| Some(json!({"shop_id": f.a, "package_ids": [f.p1], "cost_price": 8000})),
            [Allow, Allow, Hidden, Hidden, Hidden, Deny],
        ),
        // B's allocation of P1 was made by A: only A, whose direct sub-shop B is, may
        // price it; to everyone else B is out of reach.
        row(
            "POST",
            |_, _| "/api/admin/shop-package-batch-pricing".into(),
            |f, _| Some(json!({"shop_id": f.b, "package_ids": [f.p1], "cost_price": 10000})),
            [Hidden, Hidden, Allow, Hidden, Hidden, Deny],
        ),
        // admin-shop-series-grants
        row(
            "GET",
            |_, _| "/api/admin/shop-series-grants".into(),
            none,
            ALL_ADMIN_BUT_ENT,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/shop-series-grants/{}", f.grant_a),
            none,
            PLATFORM_GRANT,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/shop-series-grants/{}", f.grant_b),
            none,
            HELD_BY_A,
        ),
        row(
            "POST",
            |_, _| "/api/admin/shop-series-grants".into(),
            |f, i| {
                let cost = if i < 2 { 8000 } else { 10000 };
                Some(json!({
                    "shop_id": f.grant_targets[i],
                    "series_id": f.s,
                    "one_time_commission_amount": 300,
                    "packages": [{"package_id": f.p1, "cost_price": cost}]
                }))
            },
            [
                Allow,
                Allow,
                Allow,
                GRANTOR_LACKS_GRANT,
                GRANTOR_LACKS_GRANT,
                Deny,
            ],
        ),
        // C (L3) is no level-1 shop for the platform and no direct subordinate of A.
        row(
            "POST",
            |_, _| "/api/admin/shop-series-grants".into(),
            |f, _| {
                Some(json!({
                    "shop_id": f.c,
                    "series_id": f.s,
                    "one_time_commission_amount": 100,
                    "packages": []
                }))
            },
            [
                NOT_DIRECT,
                NOT_DIRECT,
                NOT_DIRECT,
                GRANTOR_LACKS_GRANT,
                GRANTOR_LACKS_GRANT,
                Deny,
            ],
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/shop-series-grants/{}", f.grant_a),
            |_, _| Some(json!({"one_time_commission_amount": 600})),
            PLATFORM_GRANT,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/shop-series-grants/{}", f.grant_b),
            |_, _| Some(json!({"one_time_commission_amount": 450})),
            A_GRANT_CHANGE,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/shop-series-grants/{}/packages", f.grant_a),
            |f, i| {
                Some(json!({"packages": [{"package_id": f.spare_grant[i], "cost_price": 8000}]}))
            },
            PLATFORM_GRANT,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/shop-series-grants/{}/packages", f.grant_b),
            |f, _| Some(json!({"packages": [{"package_id": f.p1, "cost_price": 10500}]})),
            A_GRANT_CHANGE,
        ),
        row(
            "DELETE",
            |f, i| format!("/api/admin/shop-series-grants/{}", f.platform_grants[i]),
            none,
            PLATFORM_GRANT,
        ),
        row(
            "DELETE",
            |f, i| format!("/api/admin/shop-series-grants/{}", f.agent_grants[i]),
            none,
            A_GRANT_CHANGE,
        ),
    ]
}

/// The ids in a list response.
fn ids(r: &crate::helpers::Resp) -> Vec<u64> {
    r.ok()["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn every_catalog_route_for_every_kind_of_caller() {
    let app = spawn_app().await;
    let (tokens, f) = setup(&app).await;
    let failures = run(&app, &tokens, &f, &rows()).await;
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Unauthenticated calls to any of these routes answer 1004.
    for r in rows() {
        let res = app
            .call(r.method, &(r.path)(&f, 0), None, (r.body)(&f, 0))
            .await;
        res.err(401, 1004);
    }

    // Lists are scoped: agents see the series granted to their shop, the packages
    // allocated to it and the grants they issued.
    let series = |i: usize| app.get("/api/admin/package-series?page_size=100", &tokens[i]);
    assert_eq!(ids(&series(2).await), vec![f.s]);
    assert!(ids(&series(3).await).is_empty());
    assert!(ids(&series(4).await).is_empty());
    assert!(ids(&series(0).await).contains(&f.s));

    let packages = |i: usize| app.get("/api/admin/packages?page_size=100", &tokens[i]);
    let own = ids(&packages(2).await);
    assert!(own.contains(&f.p1) && own.contains(&f.p2));
    assert!(own.contains(&f.spare_alloc[0]) && own.contains(&f.spare_alloc[1]));
    assert!(ids(&packages(3).await).is_empty());
    assert!(ids(&packages(4).await).is_empty());
    let r = app
        .get(&format!("/api/admin/packages/{}", f.p1), &tokens[2])
        .await;
    assert_eq!(r.ok()["retail_price"], json!(20000));
    assert_eq!(r.ok()["cost_price"], json!(8000));

    let grants = |i: usize| app.get("/api/admin/shop-series-grants?page_size=100", &tokens[i]);
    let issued_by_a = ids(&grants(2).await);
    assert!(issued_by_a.contains(&f.grant_b));
    assert!(!issued_by_a.contains(&f.grant_a));
    assert!(!issued_by_a.contains(&f.agent_grants[2]), "deleted by A");
    assert!(issued_by_a.contains(&f.agent_grants[0]), "platform refused");
    assert!(ids(&grants(3).await).is_empty());
    assert!(ids(&grants(4).await).is_empty());
    let all = ids(&grants(0).await);
    assert!(all.contains(&f.grant_a) && all.contains(&f.grant_b));
    assert!(!all.contains(&f.platform_grants[0]) && !all.contains(&f.platform_grants[1]));
    assert!(
        all.contains(&f.platform_grants[2]),
        "agents cannot delete it"
    );

    // The refused change by the platform left A's grant to B as A set it.
    let r = app
        .get(
            &format!("/api/admin/shop-series-grants/{}", f.grant_b),
            &tokens[2],
        )
        .await;
    let g = r.ok();
    assert_eq!(g["one_time_commission_amount"], json!(450));
    let costs: Vec<(u64, i64)> = g["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["package_id"].as_u64().unwrap(),
                p["cost_price"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(costs.contains(&(f.p1, 10500)) && costs.contains(&(f.p2, 10000)));
}
