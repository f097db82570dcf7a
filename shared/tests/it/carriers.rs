//! Telecom carriers (`admin-carriers`): CRUD, unique codes, real-name link rules,
//! optimistic locking and who may call what.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use shared::store::str_attr;

use crate::helpers::{spawn_app, whole, Resp, TestApp};

const BASE: &str = "/api/admin/carriers";

fn path(id: u64) -> String {
    format!("{BASE}/{id}")
}

/// Creates a carrier as `token`; returns its id.
async fn carrier(app: &TestApp, token: &str, body: Value) -> u64 {
    app.post(BASE, token, body).await.ok()["id"]
        .as_u64()
        .unwrap()
}

/// Asserts `400/1001` with a message naming `field`.
#[track_caller]
fn invalid(r: &Resp, field: &str) {
    r.err(400, 1001);
    let msg = r.body["msg"].as_str().unwrap();
    assert!(msg.contains(field), "message {msg:?} should name {field}");
}

/// Codes held by the live uniqueness items of carriers.
async fn claimed_codes(app: &TestApp) -> BTreeSet<String> {
    app.table
        .scan()
        .await
        .iter()
        .filter_map(|i| str_attr(i, "pk"))
        .filter_map(|pk| pk.strip_prefix("UNIQUE#carrier_code#"))
        .map(str::to_string)
        .collect()
}

fn names(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["carrier_name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn crud_round_trip() {
    let app = spawn_app().await;
    let admin = app.admin().await;

    // Defaults of a minimal carrier.
    let r = app
        .post(
            BASE,
            &admin,
            json!({"carrier_name": " China Mobile ", "carrier_type": "CMCC"}),
        )
        .await;
    let cmcc = r.ok()["id"].as_u64().unwrap();
    let d = r.data();
    assert_eq!(d["carrier_name"], "China Mobile");
    assert_eq!(d["carrier_code"], Value::Null);
    assert_eq!(d["billing_day"], 1);
    assert_eq!(d["realname_link_type"], "none");
    assert_eq!(d["realname_link_template"], Value::Null);
    assert_eq!(d["status"], 1);
    assert_eq!(d["version"], 1);
    assert!(d.get("deleted_at").is_none());

    // Every field given.
    let template = "https://rn.example.com/v?iccid={iccid}&m={msisdn}";
    let r = app
        .post(
            BASE,
            &admin,
            json!({
                "carrier_name": "China Unicom",
                "carrier_type": "CUCC",
                "carrier_code": "CU-01",
                "billing_day": 27,
                "realname_link_type": "template",
                "realname_link_template": template,
                "status": 0
            }),
        )
        .await;
    let cucc = r.ok()["id"].as_u64().unwrap();
    let got = app.get(&path(cucc), &admin).await;
    assert_eq!(got.ok(), r.data(), "read back as created");
    assert_eq!(got.data()["billing_day"], 27);
    assert_eq!(got.data()["realname_link_type"], "template");
    assert_eq!(got.data()["realname_link_template"], template);
    assert_eq!(got.data()["status"], 0);
    let ctcc = carrier(
        &app,
        &admin,
        json!({"carrier_name": "China Telecom", "carrier_type": "CTCC", "realname_link_type": "gateway"}),
    )
    .await;

    // List, filters and paging.
    let all = app.get(BASE, &admin).await;
    assert_eq!(all.ok()["total"], 3);
    assert_eq!(
        names(&all.data()["list"]),
        BTreeSet::from([
            "China Mobile".into(),
            "China Unicom".into(),
            "China Telecom".into()
        ])
    );
    let by_name = app.get(&format!("{BASE}?carrier_name=Uni"), &admin).await;
    assert_eq!(
        names(&by_name.ok()["list"]),
        BTreeSet::from(["China Unicom".into()])
    );
    let by_type = app.get(&format!("{BASE}?carrier_type=CTCC"), &admin).await;
    assert_eq!(by_type.ok()["list"][0]["id"], ctcc);
    assert_eq!(whole(by_type.data()).len(), 1);
    assert!(
        by_type.data()["total"].is_null(),
        "a filtered list has no total"
    );
    let partial_type = app.get(&format!("{BASE}?carrier_type=CT"), &admin).await;
    assert_eq!(
        whole(partial_type.ok()).len(),
        0,
        "the type filter is exact"
    );
    let disabled = app.get(&format!("{BASE}?status=0"), &admin).await;
    assert_eq!(whole(disabled.ok()).len(), 1);
    assert_eq!(disabled.data()["list"][0]["id"], cucc);
    let first = app.get(&format!("{BASE}?page=1&page_size=2"), &admin).await;
    assert_eq!(first.ok()["list"].as_array().unwrap().len(), 2);
    assert_eq!(first.data()["total"], 3);
    let cursor = first.data()["next_cursor"].as_str().unwrap();
    let page = app
        .get(&format!("{BASE}?page_size=2&cursor={cursor}"), &admin)
        .await;
    assert_eq!(whole(page.ok()).len(), 1);
    assert_eq!(page.data()["total"], 3);
    app.get(&format!("{BASE}?page_size=101"), &admin)
        .await
        .err(400, 1001);
    app.get(&format!("{BASE}?page=2&page_size=2"), &admin)
        .await
        .err(400, 1001);

    // Partial update keeps what is not sent.
    let r = app
        .put(
            &path(cmcc),
            &admin,
            json!({"carrier_name": "CMCC IoT", "billing_day": 15}),
        )
        .await;
    assert_eq!(r.ok()["carrier_name"], "CMCC IoT");
    assert_eq!(r.data()["billing_day"], 15);
    assert_eq!(r.data()["carrier_type"], "CMCC");
    assert_eq!(r.data()["version"], 2);

    // Status.
    let r = app
        .put(
            &format!("{}/status", path(cmcc)),
            &admin,
            json!({"status": 0}),
        )
        .await;
    assert_eq!(r.ok()["status"], 0);
    assert_eq!(r.data()["version"], 3);
    app.put(
        &format!("{}/status", path(cmcc)),
        &admin,
        json!({"status": 7}),
    )
    .await
    .err(400, 1001);
    let disabled = app.get(&format!("{BASE}?status=0"), &admin).await;
    assert_eq!(whole(disabled.ok()).len(), 2);

    // Delete: gone from reads and lists, a second delete is 404.
    app.delete(&path(cmcc), &admin).await.ok();
    app.get(&path(cmcc), &admin).await.err(404, 1002);
    app.put(&path(cmcc), &admin, json!({"billing_day": 2}))
        .await
        .err(404, 1002);
    app.delete(&path(cmcc), &admin).await.err(404, 1002);
    let all = app.get(BASE, &admin).await;
    assert_eq!(all.ok()["total"], 2);
    app.get(&path(9999), &admin).await.err(404, 1002);
}

#[tokio::test]
async fn carrier_codes_are_unique_among_live_carriers() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let body = |name: &str, code: Option<&str>| json!({"carrier_name": name, "carrier_type": "T", "carrier_code": code});
    let first = carrier(&app, &admin, body("first", Some("CMCC"))).await;
    let before = app.table.entity_keys().await;
    app.post(BASE, &admin, body("dup", Some("CMCC")))
        .await
        .err(409, 1030);
    app.post(BASE, &admin, body("dup", Some(" CMCC ")))
        .await
        .err(409, 1030);
    assert_eq!(app.table.entity_keys().await, before, "nothing written");
    invalid(
        &app.post(BASE, &admin, body("bad", Some("has space"))).await,
        "carrier_code",
    );

    // Carriers without a code (absent, null or empty) claim nothing.
    let second = carrier(&app, &admin, body("second", None)).await;
    carrier(
        &app,
        &admin,
        json!({"carrier_name": "third", "carrier_type": "T", "carrier_code": ""}),
    )
    .await;
    assert_eq!(claimed_codes(&app).await, BTreeSet::from(["CMCC".into()]));

    // None → taken value is refused and changes nothing; None → free value claims it.
    app.put(&path(second), &admin, json!({"carrier_code": "CMCC"}))
        .await
        .err(409, 1030);
    assert_eq!(app.get(&path(second), &admin).await.ok()["version"], 1);
    let r = app
        .put(&path(second), &admin, json!({"carrier_code": "CUCC"}))
        .await;
    assert_eq!(r.ok()["carrier_code"], "CUCC");
    assert_eq!(
        claimed_codes(&app).await,
        BTreeSet::from(["CMCC".into(), "CUCC".into()])
    );

    // Value → taken value is refused; value → value moves the claim.
    app.put(&path(first), &admin, json!({"carrier_code": "CUCC"}))
        .await
        .err(409, 1030);
    app.put(&path(first), &admin, json!({"carrier_code": "CMCC-2"}))
        .await
        .ok();
    assert_eq!(
        claimed_codes(&app).await,
        BTreeSet::from(["CMCC-2".into(), "CUCC".into()])
    );
    // An update that keeps the code (or sends it unchanged) keeps the claim.
    app.put(
        &path(first),
        &admin,
        json!({"carrier_code": "CMCC-2", "billing_day": 3}),
    )
    .await
    .ok();
    carrier(&app, &admin, body("reuse", Some("CMCC"))).await;

    // Value → None releases the claim.
    let r = app
        .put(&path(first), &admin, json!({"carrier_code": ""}))
        .await;
    assert_eq!(r.ok()["carrier_code"], Value::Null);
    assert_eq!(
        claimed_codes(&app).await,
        BTreeSet::from(["CMCC".into(), "CUCC".into()])
    );
    carrier(&app, &admin, body("reuse-2", Some("CMCC-2"))).await;

    // Deleting releases the code; deleting a carrier without a code is fine too.
    app.delete(&path(second), &admin).await.ok();
    app.delete(&path(first), &admin).await.ok();
    assert!(!claimed_codes(&app).await.contains("CUCC"));
    let r = app.post(BASE, &admin, body("again", Some("CUCC"))).await;
    assert_eq!(r.ok()["carrier_code"], "CUCC");
}

#[tokio::test]
async fn realname_link_template_rules() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let before = app.table.entity_keys().await;
    let with = |t: Option<Value>| {
        let mut b =
            json!({"carrier_name": "C", "carrier_type": "T", "realname_link_type": "template"});
        if let Some(t) = t {
            b["realname_link_template"] = t;
        }
        b
    };
    // On create: missing, null, empty, unknown placeholder, unclosed, too long, bad type.
    for bad in [
        with(None),
        with(Some(Value::Null)),
        with(Some(json!("   "))),
        with(Some(json!("https://x/?imei={imei}"))),
        with(Some(json!("https://x/?i={iccid"))),
        with(Some(json!(format!("https://x/{}", "a".repeat(500))))),
        json!({"carrier_name": "C", "carrier_type": "T", "realname_link_template": "https://x/{ICCID}"}),
    ] {
        invalid(&app.post(BASE, &admin, bad).await, "realname_link_template");
    }
    let r = app
        .post(
            BASE,
            &admin,
            json!({"carrier_name": "C", "carrier_type": "T", "realname_link_type": "sms"}),
        )
        .await;
    invalid(&r, "realname_link_type");
    assert_eq!(app.table.entity_keys().await, before, "nothing written");

    let ok = app
        .post(
            BASE,
            &admin,
            with(Some(json!(
                "https://x/?i={iccid}&m={msisdn}&v={virtual_no}"
            ))),
        )
        .await;
    let templated = ok.ok()["id"].as_u64().unwrap();

    // On update the resulting state is checked.
    let plain = carrier(
        &app,
        &admin,
        json!({"carrier_name": "P", "carrier_type": "T"}),
    )
    .await;
    for bad in [
        json!({"realname_link_type": "template"}),
        json!({"realname_link_type": "template", "realname_link_template": ""}),
        json!({"realname_link_type": "template", "realname_link_template": "https://x/{imsi}"}),
        json!({"realname_link_template": "https://x/{iccid}}"}),
    ] {
        invalid(
            &app.put(&path(plain), &admin, bad).await,
            "realname_link_template",
        );
    }
    // Clearing the template of a templated carrier is refused too.
    invalid(
        &app.put(
            &path(templated),
            &admin,
            json!({"realname_link_template": ""}),
        )
        .await,
        "realname_link_template",
    );
    assert_eq!(app.get(&path(plain), &admin).await.ok()["version"], 1);
    assert_eq!(app.get(&path(templated), &admin).await.ok()["version"], 1);

    // Type and template together, or the template first and the type later.
    let r = app
        .put(
            &path(plain),
            &admin,
            json!({"realname_link_template": "https://x/{virtual_no}"}),
        )
        .await;
    assert_eq!(r.ok()["realname_link_type"], "none");
    let r = app
        .put(
            &path(plain),
            &admin,
            json!({"realname_link_type": "template"}),
        )
        .await;
    assert_eq!(r.ok()["realname_link_template"], "https://x/{virtual_no}");
    // Switching away keeps (and then ignores) the template; clearing it is allowed.
    let r = app
        .put(
            &path(templated),
            &admin,
            json!({"realname_link_type": "gateway"}),
        )
        .await;
    assert_eq!(r.ok()["realname_link_type"], "gateway");
    assert!(r.data()["realname_link_template"].is_string());
    let r = app
        .put(
            &path(templated),
            &admin,
            json!({"realname_link_template": ""}),
        )
        .await;
    assert_eq!(r.ok()["realname_link_template"], Value::Null);
}

#[tokio::test]
async fn billing_day_and_other_field_bounds() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let body = |field: &str, value: Value| {
        let mut b = json!({"carrier_name": "C", "carrier_type": "T"});
        b[field] = value;
        b
    };
    for (field, value) in [
        ("billing_day", json!(0)),
        ("billing_day", json!(32)),
        ("billing_day", json!(-1)),
        ("billing_day", json!("first")),
        ("carrier_name", json!("  ")),
        ("carrier_name", json!("n".repeat(51))),
        ("carrier_type", json!("")),
        ("carrier_type", json!("t".repeat(21))),
        ("status", json!(2)),
    ] {
        invalid(&app.post(BASE, &admin, body(field, value)).await, field);
    }
    for day in [1, 31] {
        let r = app
            .post(BASE, &admin, body("billing_day", json!(day)))
            .await;
        assert_eq!(r.ok()["billing_day"], day);
    }
    let id = carrier(&app, &admin, body("carrier_name", json!("名".repeat(50)))).await;
    for day in [0, 32] {
        invalid(
            &app.put(&path(id), &admin, json!({"billing_day": day}))
                .await,
            "billing_day",
        );
    }
    invalid(
        &app.put(&path(id), &admin, json!({"carrier_name": ""}))
            .await,
        "carrier_name",
    );
    let r = app.put(&path(id), &admin, json!({"billing_day": 27})).await;
    assert_eq!(r.ok()["billing_day"], 27);
    assert_eq!(r.data()["version"], 2);
}

#[tokio::test]
async fn updates_use_optimistic_locking() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = carrier(
        &app,
        &admin,
        json!({"carrier_name": "C", "carrier_type": "T", "carrier_code": "C1"}),
    )
    .await;
    let r = app
        .put(
            &path(id),
            &admin,
            json!({"carrier_name": "Renamed", "version": 1}),
        )
        .await;
    assert_eq!(r.ok()["version"], 2);
    app.put(
        &path(id),
        &admin,
        json!({"carrier_name": "Stale", "carrier_code": "C2", "version": 1}),
    )
    .await
    .err(409, 1007);
    let now = app.get(&path(id), &admin).await;
    assert_eq!(now.ok()["carrier_name"], "Renamed");
    assert_eq!(now.data()["carrier_code"], "C1");
    assert_eq!(claimed_codes(&app).await, BTreeSet::from(["C1".into()]));
    let r = app
        .put(
            &path(id),
            &admin,
            json!({"carrier_name": "Fresh", "version": 2}),
        )
        .await;
    assert_eq!(r.ok()["version"], 3);
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Exp {
    /// 200, code 0.
    Allow,
    /// 403, `1005`.
    Deny,
    /// Anything else.
    Other(u16, i64),
}
use Exp::*;

#[tokio::test]
async fn permission_matrix() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    app.platform_account(&sa, "ops", "password-ops").await;
    let role = app.customer_role(&sa, "default").await;
    let shop = app.shop(&sa, "A", None, role).await;
    let ent = app
        .post(
            "/api/admin/enterprises",
            &sa,
            json!({"enterprise_name": "E", "enterprise_code": "E", "owner_shop_id": shop}),
        )
        .await;
    let ent = ent.ok()["id"].as_u64().unwrap();
    app.account_with_roles(&sa, &sa, json!({"username": "e-user", "password": "password-e", "user_type": 4, "enterprise_id": ent}), &[role])
        .await;
    let actors = ["super admin", "platform", "agent", "enterprise"];
    let tokens = [
        sa.clone(),
        app.login("ops", "password-ops").await,
        app.agent("A").await,
        app.login("e-user", "password-e").await,
    ];
    let shared_id = carrier(
        &app,
        &sa,
        json!({"carrier_name": "Shared", "carrier_type": "T"}),
    )
    .await;
    let mut fresh = Vec::new();
    for i in 0..actors.len() {
        fresh.push(
            carrier(
                &app,
                &sa,
                json!({"carrier_name": format!("fresh{i}"), "carrier_type": "T"}),
            )
            .await,
        );
    }

    const READ: [Exp; 4] = [Allow; 4];
    const WRITE: [Exp; 4] = [Allow, Allow, Deny, Deny];
    let item = path(shared_id);
    let rows: Vec<(&str, String, Option<Value>, [Exp; 4])> = vec![
        ("GET", BASE.into(), None, READ),
        (
            "POST",
            BASE.into(),
            Some(json!({"carrier_name": "New", "carrier_type": "T"})),
            WRITE,
        ),
        ("GET", item.clone(), None, READ),
        ("PUT", item.clone(), Some(json!({"billing_day": 5})), WRITE),
        (
            "PUT",
            format!("{item}/status"),
            Some(json!({"status": 1})),
            WRITE,
        ),
        ("DELETE", String::new(), None, WRITE),
    ];
    let mut failures = Vec::new();
    for (method, p, body, expect) in &rows {
        for (i, token) in tokens.iter().enumerate() {
            let p = if *method == "DELETE" {
                path(fresh[i])
            } else {
                p.clone()
            };
            let before = app.table.entity_keys().await;
            let r = app.call(method, &p, Some(token), body.clone()).await;
            let got = match (r.status.as_u16(), r.code()) {
                (200, 0) => Allow,
                (403, 1005) => Deny,
                (s, c) => Other(s, c),
            };
            if got != expect[i] {
                failures.push(format!(
                    "{method} {p} as {}: expected {:?}, got {got:?} {}",
                    actors[i], expect[i], r.body
                ));
            }
            if got == Deny && app.table.entity_keys().await != before {
                failures.push(format!("{method} {p} as {}: refused but wrote", actors[i]));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The refused deletes left their carriers alone.
    for (i, id) in fresh.iter().enumerate() {
        let r = app.get(&path(*id), &sa).await;
        if WRITE[i] == Deny {
            r.ok();
        } else {
            r.err(404, 1002);
        }
    }
    // Without a token every route answers 1004.
    for (method, p, body, _) in rows {
        let p = if p.is_empty() { path(fresh[2]) } else { p };
        app.call(method, &p, None, body).await.err(401, 1004);
    }
}
