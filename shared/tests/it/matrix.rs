//! Permission matrix: every route of the organisation and auth groups, called by
//! super admin, platform staff, an agent at L1, an agent at L3 below it, a sibling
//! L1 agent and an enterprise account, each allowed or refused with the exact code.

use serde_json::{json, Value};

use crate::helpers::actors::Actors;
use crate::helpers::{shop_body, spawn_app, TestApp};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Exp {
    /// 200, code 0.
    Allow,
    /// 403, `1005`.
    Deny,
    /// 404, `1002` (out of scope looks missing).
    Hidden,
    /// Refused with this status and code.
    Code(u16, i64),
}
pub use Exp::*;

pub use crate::helpers::actors::ACTORS;

/// Fixture ids; `fresh_*` hold one disposable object per actor for destructive routes.
struct F {
    b: u64,
    role: u64,
    perm: u64,
    staff: u64,
    eb: u64,
    ea: u64,
    fresh_accounts: Vec<u64>,
    fresh_roles: Vec<u64>,
    fresh_perms: Vec<u64>,
    fresh_shops: Vec<u64>,
    fresh_enterprises: Vec<u64>,
}

async fn id(r: crate::helpers::Resp) -> u64 {
    r.ok()["id"].as_u64().unwrap()
}

async fn setup(app: &TestApp) -> (Vec<String>, F) {
    let cast = Actors::new(app).await;
    let (sa, b, role, ea) = (cast.sa.clone(), cast.b, cast.role, cast.ea);
    let ent = |code: &str, owner: u64| json!({"enterprise_name": code, "enterprise_code": code, "owner_shop_id": owner});
    let eb = id(app.post("/api/admin/enterprises", &sa, ent("EB", b)).await).await;
    let staff_body = |name: String| json!({"username": name, "password": "password-x", "user_type": 3, "shop_id": b});
    let staff = id(app
        .post("/api/admin/accounts", &sa, staff_body("staff".into()))
        .await)
    .await;
    let perm = id(app
        .post(
            "/api/admin/permissions",
            &sa,
            json!({"perm_name": "P", "perm_code": "p", "perm_type": 1}),
        )
        .await)
    .await;
    let mut f = F {
        b,
        role,
        perm,
        staff,
        eb,
        ea,
        fresh_accounts: vec![],
        fresh_roles: vec![],
        fresh_perms: vec![],
        fresh_shops: vec![],
        fresh_enterprises: vec![],
    };
    for i in 0..ACTORS.len() {
        f.fresh_accounts.push(
            id(app
                .post("/api/admin/accounts", &sa, staff_body(format!("fresh{i}")))
                .await)
            .await,
        );
        f.fresh_roles
            .push(app.customer_role(&sa, &format!("fresh-role-{i}")).await);
        f.fresh_perms.push(
            id(app
                .post(
                    "/api/admin/permissions",
                    &sa,
                    json!({"perm_name": "F", "perm_code": format!("f{i}"), "perm_type": 2}),
                )
                .await)
            .await,
        );
        f.fresh_shops
            .push(app.shop(&sa, &format!("leaf{i}"), Some(b), role).await);
        f.fresh_enterprises.push(
            id(app
                .post("/api/admin/enterprises", &sa, ent(&format!("EF{i}"), b))
                .await)
            .await,
        );
    }
    (cast.tokens(), f)
}

type PathFn<X> = Box<dyn Fn(&X, usize) -> String>;
type BodyFn<X> = Box<dyn Fn(&X, usize) -> Option<Value>>;

/// One route of a matrix: how to build the request for actor `i` over fixture `X`,
/// and what each actor must get.
pub struct Row<X> {
    pub method: &'static str,
    pub path: PathFn<X>,
    pub body: BodyFn<X>,
    pub expect: [Exp; 6],
}

pub fn row_of<X>(
    method: &'static str,
    path: impl Fn(&X, usize) -> String + 'static,
    body: impl Fn(&X, usize) -> Option<Value> + 'static,
    expect: [Exp; 6],
) -> Row<X> {
    Row {
        method,
        path: Box::new(path),
        body: Box::new(body),
        expect,
    }
}

pub fn none<X>(_: &X, _: usize) -> Option<Value> {
    None
}

fn row(
    method: &'static str,
    path: impl Fn(&F, usize) -> String + 'static,
    body: impl Fn(&F, usize) -> Option<Value> + 'static,
    expect: [Exp; 6],
) -> Row<F> {
    row_of(method, path, body, expect)
}

/// Calls every row as every actor; returns the mismatches.
pub async fn run<X>(app: &TestApp, tokens: &[String], f: &X, rows: &[Row<X>]) -> Vec<String> {
    let mut failures = Vec::new();
    for r in rows {
        for (i, token) in tokens.iter().enumerate() {
            let path = (r.path)(f, i);
            let res = app.call(r.method, &path, Some(token), (r.body)(f, i)).await;
            let got = match (res.status.as_u16(), res.code()) {
                (200, 0) => Allow,
                (403, 1005) => Deny,
                (404, 1002) => Hidden,
                (s, c) => Code(s, c),
            };
            if got != r.expect[i] {
                let body: String = res.body.to_string().chars().take(200).collect();
                failures.push(format!(
                    "{} {path} as {}: expected {:?}, got {got:?} {body}",
                    r.method, ACTORS[i], r.expect[i]
                ));
            }
        }
    }
    failures
}

/// Platform and the L1 agent may act on shop B's objects; the L3 agent below B and
/// the sibling do not see them; enterprise accounts may not call the route.
pub const SCOPED: [Exp; 6] = [Allow, Allow, Allow, Hidden, Hidden, Deny];
pub const PLATFORM_ONLY: [Exp; 6] = [Allow, Allow, Deny, Deny, Deny, Deny];
pub const SUPER_ONLY: [Exp; 6] = [Allow, Deny, Deny, Deny, Deny, Deny];
pub const ALL_ADMIN_BUT_ENT: [Exp; 6] = [Allow, Allow, Allow, Allow, Allow, Deny];
pub const EVERYONE: [Exp; 6] = [Allow; 6];

fn rows() -> Vec<Row<F>> {
    vec![
        // admin-auth
        row("GET", |_, _| "/api/admin/me".into(), none, EVERYONE),
        row(
            "PUT",
            |_, _| "/api/admin/me/password".into(),
            |_, _| Some(json!({"old_password": "wrong-password", "new_password": "whatever-new"})),
            [Code(400, 1027); 6],
        ),
        // admin-accounts
        row(
            "GET",
            |_, _| "/api/admin/accounts".into(),
            none,
            ALL_ADMIN_BUT_ENT,
        ),
        row(
            "POST",
            |_, _| "/api/admin/accounts".into(),
            |f, i| {
                Some(
                    json!({"username": format!("new{i}"), "password": "password-n", "user_type": 3, "shop_id": f.b}),
                )
            },
            SCOPED,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/accounts/{}", f.staff),
            none,
            SCOPED,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/accounts/{}", f.staff),
            |_, _| Some(json!({"phone": "13700000000"})),
            SCOPED,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/accounts/{}/status", f.staff),
            |_, _| Some(json!({"status": 1})),
            SCOPED,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/accounts/{}/password", f.staff),
            |_, _| Some(json!({"password": "password-reset"})),
            SCOPED,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/accounts/{}/roles", f.staff),
            none,
            SCOPED,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/accounts/{}/roles", f.staff),
            |f, _| Some(json!({"role_ids": [f.role]})),
            SCOPED,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/accounts/{}/operation-logs", f.staff),
            none,
            PLATFORM_ONLY,
        ),
        row(
            "DELETE",
            |f, i| format!("/api/admin/accounts/{}", f.fresh_accounts[i]),
            none,
            SCOPED,
        ),
        // admin-roles
        row(
            "GET",
            |_, _| "/api/admin/roles".into(),
            none,
            ALL_ADMIN_BUT_ENT,
        ),
        row(
            "POST",
            |_, _| "/api/admin/roles".into(),
            |_, i| Some(json!({"role_name": format!("new-role-{i}"), "role_type": 2})),
            PLATFORM_ONLY,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/roles/{}", f.role),
            none,
            PLATFORM_ONLY,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/roles/{}", f.role),
            |_, _| Some(json!({"role_desc": "d"})),
            PLATFORM_ONLY,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/roles/{}/status", f.role),
            |_, _| Some(json!({"status": 1})),
            PLATFORM_ONLY,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/roles/{}/permissions", f.role),
            none,
            PLATFORM_ONLY,
        ),
        row(
            "PUT",
            |f, i| format!("/api/admin/roles/{}/permissions", f.fresh_roles[i]),
            |f, _| Some(json!({"permission_ids": [f.perm]})),
            PLATFORM_ONLY,
        ),
        row(
            "DELETE",
            |f, i| format!("/api/admin/roles/{}", f.fresh_roles[i]),
            none,
            PLATFORM_ONLY,
        ),
        row(
            "GET",
            |_, _| "/api/admin/permissions".into(),
            none,
            EVERYONE,
        ),
        row(
            "POST",
            |_, _| "/api/admin/permissions".into(),
            |_, i| Some(json!({"perm_name": "N", "perm_code": format!("new{i}"), "perm_type": 2})),
            SUPER_ONLY,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/permissions/{}", f.perm),
            |_, _| Some(json!({"sort": 3})),
            SUPER_ONLY,
        ),
        row(
            "DELETE",
            |f, i| format!("/api/admin/permissions/{}", f.fresh_perms[i]),
            none,
            SUPER_ONLY,
        ),
        // admin-shops
        row(
            "GET",
            |_, _| "/api/admin/shops".into(),
            none,
            ALL_ADMIN_BUT_ENT,
        ),
        row(
            "POST",
            |_, _| "/api/admin/shops".into(),
            |f, i| Some(shop_body(&format!("N{i}"), Some(f.b), f.role)),
            [Allow, Allow, Allow, Deny, Deny, Deny],
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/shops/{}", f.b),
            none,
            SCOPED,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/shops/{}", f.b),
            |_, _| Some(json!({"city": "Hangzhou"})),
            SCOPED,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/shops/{}/status", f.b),
            |_, _| Some(json!({"status": 1})),
            SCOPED,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/shops/{}/roles", f.b),
            none,
            SCOPED,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/shops/{}/roles", f.b),
            |f, _| Some(json!({"role_ids": [f.role]})),
            PLATFORM_ONLY,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/shops/{}/subordinate-ids", f.b),
            none,
            SCOPED,
        ),
        row(
            "DELETE",
            |f, i| format!("/api/admin/shops/{}", f.fresh_shops[i]),
            none,
            PLATFORM_ONLY,
        ),
        // admin-enterprises
        row(
            "GET",
            |_, _| "/api/admin/enterprises".into(),
            none,
            EVERYONE,
        ),
        row(
            "POST",
            |_, _| "/api/admin/enterprises".into(),
            |f, i| {
                Some(
                    json!({"enterprise_name": "N", "enterprise_code": format!("EN{i}"), "owner_shop_id": f.b}),
                )
            },
            [Allow, Allow, Allow, Code(400, 1026), Code(400, 1026), Deny],
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/enterprises/{}", f.eb),
            none,
            [Allow, Allow, Allow, Hidden, Hidden, Hidden],
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/enterprises/{}", f.ea),
            none,
            [Allow, Allow, Allow, Hidden, Hidden, Allow],
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/enterprises/{}", f.eb),
            |_, _| Some(json!({"city": "Suzhou"})),
            SCOPED,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/enterprises/{}/status", f.eb),
            |_, _| Some(json!({"status": 1})),
            SCOPED,
        ),
        row(
            "DELETE",
            |f, i| format!("/api/admin/enterprises/{}", f.fresh_enterprises[i]),
            none,
            SCOPED,
        ),
    ]
}

#[tokio::test]
async fn every_route_for_every_kind_of_caller() {
    let app = spawn_app().await;
    let (tokens, f) = setup(&app).await;
    let failures = run(&app, &tokens, &f, &rows()).await;
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Logout is open to every caller and ends only the caller's session.
    for token in &tokens {
        app.call("POST", "/api/admin/logout", Some(token), None)
            .await
            .ok();
        app.get("/api/admin/me", token).await.err(401, 1004);
    }
    // Unauthenticated calls to any protected route answer 1004.
    for r in rows() {
        let res = app
            .call(r.method, &(r.path)(&f, 0), None, (r.body)(&f, 0))
            .await;
        res.err(401, 1004);
    }
}
