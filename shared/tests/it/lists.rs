//! Organisation, catalogue, log and import-task lists read one page by key: paging
//! with `cursor` returns every item exactly once, `total` comes from counters the
//! writes keep (platform and agent subtree) and is absent from filtered lists, which
//! answer `has_more`; a page costs a fixed number of DynamoDB calls (at most two
//! Queries besides the auth read and one batch read for names and the count); `page`
//! > 1 and cursors that are not a position of the list answer 1001.

use std::collections::HashSet;

use serde_json::{json, Value};
use shared::store::calls::counted;
use shared::store::cursor::{Cursor, Source};
use shared::store::lists::Filter;
use shared::store::{n, s, On, SkCond};

use crate::catalog::{chain, grant_body, package};
use crate::helpers::assets::upload;
use crate::helpers::{spawn_app, TestApp, TestTable};

/// Every item of the list at `path`, read `size` at a time by cursor, and the
/// `total` every page answered (the same on each). Checks the shape of each page.
async fn walk(app: &TestApp, path: &str, token: &str, size: usize) -> (Vec<Value>, Value) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let mut total: Option<Value> = None;
    for _ in 0..200 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}page_size={size}&cursor={c}"),
            None => format!("{path}{sep}page_size={size}"),
        };
        let r = app.get(&url, token).await;
        let page = r.ok().clone();
        let list = page["list"].as_array().unwrap();
        assert!(list.len() <= size, "{url}: {page}");
        assert_eq!(page["page_size"], size);
        assert_eq!(page["has_more"], page["next_cursor"].is_string(), "{page}");
        match &total {
            None => total = Some(page["total"].clone()),
            Some(t) => assert_eq!(&page["total"], t, "{url}: total changes between pages"),
        }
        out.extend(list.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (out, total.unwrap_or(Value::Null)),
        }
    }
    panic!("{path}: no last page");
}

/// The ids of `list`, each exactly once.
fn once(list: &[Value]) -> HashSet<u64> {
    let ids: Vec<u64> = list.iter().map(|v| v["id"].as_u64().unwrap()).collect();
    let set: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(set.len(), ids.len(), "an item came twice: {ids:?}");
    set
}

/// Walks an unfiltered list: every item once, and `total` is their number.
async fn counted_walk(app: &TestApp, path: &str, token: &str) -> HashSet<u64> {
    let (list, total) = walk(app, path, token, 2).await;
    let ids = once(&list);
    assert_eq!(total, json!(ids.len()), "{path}: total is the count");
    ids
}

/// Shops A → B → C, A → E, A → F and D; extra accounts; enterprises owned by B, D
/// and the platform, with an enterprise account of B's.
struct Org {
    admin: String,
    shops: [u64; 6],
    c_staff: u64,
    e_account: u64,
    platform_staff: u64,
    ents: [u64; 3],
}

async fn org(app: &TestApp) -> Org {
    let admin = app.admin().await;
    let role = app.customer_role(&admin, "agent").await;
    let a = app.shop(&admin, "A", None, role).await;
    let b = app.shop(&admin, "B", Some(a), role).await;
    let c = app.shop(&admin, "C", Some(b), role).await;
    let d = app.shop(&admin, "D", None, role).await;
    let e = app.shop(&admin, "E", Some(a), role).await;
    let f = app.shop(&admin, "F", Some(a), role).await;
    let account = |body: Value| {
        let app = &app;
        let admin = &admin;
        async move {
            app.post("/api/admin/accounts", admin, body).await.ok()["id"]
                .as_u64()
                .unwrap()
        }
    };
    let c_staff = account(
        json!({"username": "c-staff", "password": "password-1", "user_type": 3, "shop_id": c}),
    )
    .await;
    let platform_staff =
        account(json!({"username": "pl-staff", "password": "password-1", "user_type": 2})).await;
    let enterprise = |code: &str, owner: Option<u64>| {
        let body = json!({"enterprise_name": format!("Ent {code}"), "enterprise_code": code, "owner_shop_id": owner});
        let app = &app;
        let admin = &admin;
        async move {
            app.post("/api/admin/enterprises", admin, body).await.ok()["id"]
                .as_u64()
                .unwrap()
        }
    };
    let ents = [
        enterprise("EB", Some(b)).await,
        enterprise("ED", Some(d)).await,
        enterprise("EP", None).await,
    ];
    let e_account = account(json!({"username": "eb-staff", "password": "password-1", "user_type": 4, "enterprise_id": ents[0]})).await;
    Org {
        admin,
        shops: [a, b, c, d, e, f],
        c_staff,
        e_account,
        platform_staff,
        ents,
    }
}

#[tokio::test]
async fn cursor_pages_hold_every_item_once_and_totals_follow_creates_and_deletes() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let [a, b, c, d, e, f] = o.shops;
    let set = |ids: &[u64]| ids.iter().copied().collect::<HashSet<u64>>();

    // The platform: everything; shops in tree order (by path).
    let (shops, total) = walk(&app, "/api/admin/shops", &o.admin, 2).await;
    assert_eq!(once(&shops), set(&o.shops));
    assert_eq!(total, 6);
    let paths: Vec<&str> = shops.iter().map(|s| s["path"].as_str().unwrap()).collect();
    let mut sorted = paths.clone();
    sorted.sort_unstable();
    assert_eq!(paths, sorted, "shops come in tree order");
    // The super admin, six initial agents, C's staff, the platform staff and B's
    // enterprise account.
    let accounts = counted_walk(&app, "/api/admin/accounts", &o.admin).await;
    assert_eq!(accounts.len(), 10);
    assert!(accounts.contains(&o.c_staff) && accounts.contains(&o.e_account));
    let ents = counted_walk(&app, "/api/admin/enterprises", &o.admin).await;
    assert_eq!(ents, set(&o.ents));

    // Agents: their subtree, counted on their shop.
    let agent_a = app.agent("A").await;
    let agent_b = app.agent("B").await;
    let agent_d = app.agent("D").await;
    for (token, shops, accounts, ents) in [
        (&agent_a, vec![a, b, c, e, f], 7, vec![o.ents[0]]),
        (&agent_b, vec![b, c], 4, vec![o.ents[0]]),
        (&agent_d, vec![d], 1, vec![o.ents[1]]),
    ] {
        assert_eq!(
            counted_walk(&app, "/api/admin/shops", token).await,
            set(&shops)
        );
        assert_eq!(
            counted_walk(&app, "/api/admin/accounts", token).await.len(),
            accounts
        );
        assert_eq!(
            counted_walk(&app, "/api/admin/enterprises", token).await,
            set(&ents)
        );
    }

    // Deletes move the same counts: C's staff, B's enterprise (account first), shop F
    // (its initial account stays, as before).
    for path in [
        format!("/api/admin/accounts/{}", o.c_staff),
        format!("/api/admin/accounts/{}", o.e_account),
        format!("/api/admin/enterprises/{}", o.ents[0]),
        format!("/api/admin/shops/{f}"),
        format!("/api/admin/accounts/{}", o.platform_staff),
    ] {
        app.delete(&path, &o.admin).await.ok();
    }
    let shops = counted_walk(&app, "/api/admin/shops", &o.admin).await;
    assert_eq!(shops, set(&[a, b, c, d, e]));
    assert_eq!(
        counted_walk(&app, "/api/admin/accounts", &o.admin)
            .await
            .len(),
        7
    );
    assert_eq!(
        counted_walk(&app, "/api/admin/enterprises", &o.admin).await,
        set(&o.ents[1..])
    );
    for (token, shops, accounts, ents) in [
        (&agent_a, vec![a, b, c, e], 5, 0),
        (&agent_b, vec![b, c], 2, 0),
        (&agent_d, vec![d], 1, 1),
    ] {
        assert_eq!(
            counted_walk(&app, "/api/admin/shops", token).await,
            set(&shops)
        );
        assert_eq!(
            counted_walk(&app, "/api/admin/accounts", token).await.len(),
            accounts
        );
        assert_eq!(
            counted_walk(&app, "/api/admin/enterprises", token)
                .await
                .len(),
            ents
        );
    }
    // A refused delete (shop with sub-shops) counts nothing.
    app.delete(&format!("/api/admin/shops/{b}"), &o.admin)
        .await
        .err(409, 1019);
    assert_eq!(
        counted_walk(&app, "/api/admin/shops", &agent_a).await.len(),
        4
    );
}

#[tokio::test]
async fn concurrent_creates_and_deletes_keep_the_counts() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let c = o.shops[2];
    let body = |i: u32| json!({"username": format!("race-{i}"), "password": "password-1", "user_type": 3, "shop_id": c});
    let accounts = "/api/admin/accounts";
    let gone = format!("/api/admin/accounts/{}", o.c_staff);
    let (r1, r2, r3, r4, r5) = tokio::join!(
        app.post(accounts, &o.admin, body(1)),
        app.post(accounts, &o.admin, body(2)),
        app.post(accounts, &o.admin, body(3)),
        app.post(accounts, &o.admin, body(4)),
        app.delete(&gone, &o.admin),
    );
    let created = [&r1, &r2, &r3, &r4]
        .iter()
        .filter(|r| r.code() == 0)
        .count();
    let deleted = usize::from(r5.code() == 0);
    assert!(created > 0, "{r1:?}");
    // Whatever committed is counted, on the platform and on every shop above C.
    let agent_b = app.agent("B").await;
    let agent_c = app.agent("C").await;
    for (token, before) in [(&o.admin, 10), (&agent_b, 4), (&agent_c, 2)] {
        let ids = counted_walk(&app, accounts, token).await;
        assert_eq!(ids.len(), before + created - deleted);
    }
}

#[tokio::test]
async fn filtered_lists_answer_has_more_and_no_total() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let agent_a = app.agent("A").await;
    for (path, token, expected) in [
        ("/api/admin/shops?status=1", &o.admin, 6),
        ("/api/admin/shops?shop_name=Shop", &agent_a, 5),
        (
            &*format!("/api/admin/shops?parent_id={}", o.shops[0]),
            &o.admin,
            3,
        ),
        ("/api/admin/accounts?user_type=3", &o.admin, 7),
        ("/api/admin/accounts?username=staff", &agent_a, 2),
        ("/api/admin/enterprises?status=1", &o.admin, 3),
        ("/api/admin/roles?role_type=2", &o.admin, 0),
        ("/api/admin/roles?status=1", &agent_a, 1),
    ] {
        let first = app.get(&format!("{path}&page_size=1"), token).await;
        assert!(first.ok()["total"].is_null(), "{path}: {}", first.body);
        let (list, total) = walk(&app, path, token, 1).await;
        assert!(total.is_null(), "{path}");
        let ids = once(&list);
        if expected > 0 {
            assert_eq!(ids.len(), expected, "{path}");
            assert_eq!(first.data()["has_more"], expected > 1, "{path}");
        } else {
            assert!(!ids.is_empty(), "{path}: customer roles exist");
        }
    }
}

#[tokio::test]
async fn a_page_costs_a_fixed_number_of_calls() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let agent_a = app.agent("A").await;
    // Auth read + one Query + one batch read (parents' or owners' names with the
    // count) or one count read; filtered lists read no count.
    for (path, token, calls) in [
        ("/api/admin/shops?page_size=2", &o.admin, 3),
        ("/api/admin/shops?page_size=2", &agent_a, 3),
        ("/api/admin/shops?page_size=2&status=1", &o.admin, 3),
        ("/api/admin/accounts?page_size=2", &o.admin, 3),
        ("/api/admin/accounts?page_size=2", &agent_a, 3),
        ("/api/admin/accounts?page_size=2&user_type=3", &o.admin, 2),
        ("/api/admin/enterprises?page_size=2", &o.admin, 3),
        ("/api/admin/enterprises?page_size=2", &agent_a, 3),
        ("/api/admin/roles?page_size=2", &o.admin, 3),
        ("/api/admin/carriers?page_size=2", &o.admin, 3),
        ("/api/admin/package-series?page_size=2", &o.admin, 3),
        ("/api/admin/packages?page_size=2", &o.admin, 3),
        ("/api/admin/shop-series-grants?page_size=2", &o.admin, 3),
        ("/api/admin/iot-cards/import/tasks?page_size=2", &o.admin, 3),
        ("/api/admin/devices/import/tasks?page_size=2", &o.admin, 2),
    ] {
        let r = app.get(path, token).await;
        r.ok();
        assert_eq!(r.ddb_calls(), calls, "{path}");
        // The next page costs the same.
        if let Some(c) = r.data()["next_cursor"].as_str() {
            let next = app.get(&format!("{path}&cursor={c}"), token).await;
            next.ok();
            assert_eq!(next.ddb_calls(), calls, "{path} (next page)");
        }
    }
    // The log: the account read and one Query.
    let logs = format!("/api/admin/accounts/{}/operation-logs", o.c_staff);
    let r = app.get(&logs, &o.admin).await;
    assert_eq!(r.ok()["list"].as_array().unwrap().len(), 1);
    assert_eq!(r.ddb_calls(), 3, "{logs}");
}

#[tokio::test]
async fn a_filtered_page_spends_at_most_two_queries() {
    let table = TestTable::new().await;
    let store = &table.store;
    let items: Vec<_> = (0..30)
        .map(|i| {
            let mut item = shared::store::Key::new(format!("X#{i}"), "#").item();
            item.insert("gsi1pk".into(), s("LISTTEST"));
            item.insert("gsi1sk".into(), s(format!("{i:04}")));
            item.insert("kept".into(), n(i64::from(i == 29)));
            item
        })
        .collect();
    store.put_all(items).await.unwrap();
    let mut source = Source::scope(On::Gsi1, "LISTTEST".into(), SkCond::Prefix(String::new()));
    source.filtered_batch = 5;
    let filter = Filter::new().eq("kept", Some(1));
    let mut cursor = Cursor::default();
    let mut pages = 0;
    let mut found = Vec::new();
    loop {
        let (page, calls) =
            counted(store.read_page::<Value>(&source, filter.cond(), 2, cursor.clone(), |_| true))
                .await;
        let page = page.unwrap();
        assert!(calls <= 2, "a page spent {calls} Queries");
        pages += 1;
        found.extend(page.list);
        match page.next_cursor {
            Some(c) => cursor = Cursor::decode(&c).unwrap(),
            None => break,
        }
    }
    // 30 items, 10 read per page (two Queries of 5): two empty pages, the match on
    // the third. DynamoDB answers a `LastEvaluatedKey` when a Query stops at its
    // `Limit` even on the last item, so there one more, empty page says the list is
    // done; the emulator does not.
    assert!((3..=4).contains(&pages), "{pages} pages");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["gsi1sk"], "0029");
}

#[tokio::test]
async fn page_two_and_foreign_cursors_answer_1001() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let role = app.customer_role(&admin, "agent").await;
    let a = app.shop(&admin, "A", None, role).await;
    app.shop(&admin, "B", Some(a), role).await;
    let shops = app.get("/api/admin/shops?page_size=1", &admin).await;
    let shop_cursor = shops.ok()["next_cursor"].as_str().unwrap().to_string();
    let lists = [
        "/api/admin/shops".to_string(),
        "/api/admin/accounts".into(),
        "/api/admin/enterprises".into(),
        "/api/admin/roles".into(),
        "/api/admin/carriers".into(),
        "/api/admin/package-series".into(),
        "/api/admin/packages".into(),
        "/api/admin/shop-series-grants".into(),
        "/api/admin/iot-cards/import/tasks".into(),
        "/api/admin/devices/import/tasks".into(),
        "/api/admin/accounts/1/operation-logs".into(),
    ];
    for path in &lists {
        app.get(&format!("{path}?page=1"), &admin).await.ok();
        for bad in [
            "page=2",
            "page=0",
            "cursor=zz",
            "cursor=7b7d",
            "page_size=101",
        ] {
            let r = app.get(&format!("{path}?{bad}"), &admin).await;
            r.err(400, 1001);
        }
        if path != "/api/admin/shops" {
            // A cursor of the shop list is no position of another list.
            let r = app
                .get(&format!("{path}?cursor={shop_cursor}"), &admin)
                .await;
            r.err(400, 1001);
        }
    }
    let page2 = app.get("/api/admin/shops?page=2", &admin).await;
    assert!(page2.body["msg"].as_str().unwrap().contains("cursor"));
    // An agent's cursor cannot reach outside its subtree either.
    let agent = app.agent("A").await;
    let other = Cursor {
        shard: 0,
        key: Some(
            [
                ("pk", "SHOP#1"),
                ("sk", "#"),
                ("gsi1pk", "SHOPS"),
                ("gsi1sk", "/999/"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ),
    };
    app.get(
        &format!("/api/admin/shops?cursor={}", other.encode()),
        &agent,
    )
    .await
    .err(400, 1001);
}

#[tokio::test]
async fn grant_lists_count_packages_on_the_grant_and_grants_in_counters() {
    let app = spawn_app().await;
    let ch = chain(&app).await;
    let ps: Vec<u64> = {
        let mut ps = Vec::new();
        for code in ["P1", "P2", "P3"] {
            ps.push(package(&app, &ch.sa, code, ch.series).await);
        }
        ps
    };
    let g1 = app
        .post(
            "/api/admin/shop-series-grants",
            &ch.sa,
            grant_body(ch.a, ch.series, 500, &[(ps[0], 8000), (ps[1], 8000)]),
        )
        .await;
    let g1 = g1.ok()["id"].as_u64().unwrap();
    let g2 = app
        .post(
            "/api/admin/shop-series-grants",
            &ch.l1,
            grant_body(ch.b, ch.series, 400, &[(ps[0], 9000)]),
        )
        .await;
    let g2 = g2.ok()["id"].as_u64().unwrap();
    let counts = |page: &Value| -> Vec<(u64, u64)> {
        let mut v: Vec<(u64, u64)> = page["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["id"].as_u64().unwrap(),
                    g["package_count"].as_u64().unwrap(),
                )
            })
            .collect();
        v.sort_unstable();
        v
    };
    let all = app.get("/api/admin/shop-series-grants", &ch.sa).await;
    assert_eq!(counts(all.ok()), vec![(g1, 2), (g2, 1)]);
    assert_eq!(all.data()["total"], 2);
    // No read per grant: the page costs the auth read, one Query and one batch read
    // (series, shops and the count) however many grants it holds.
    assert_eq!(all.ddb_calls(), 3);
    let one = app
        .get("/api/admin/shop-series-grants?page_size=1", &ch.sa)
        .await;
    assert_eq!(one.ddb_calls(), 3);
    let mine = app.get("/api/admin/shop-series-grants", &ch.l1).await;
    assert_eq!(counts(mine.ok()), vec![(g2, 1)]);
    assert_eq!(mine.data()["total"], 1);
    // An agent's catalogue: one Query of its claims or allocations, one batch read.
    for (path, items) in [("/api/admin/package-series", 1), ("/api/admin/packages", 2)] {
        let r = app.get(path, &ch.l1).await;
        assert_eq!(r.ok()["list"].as_array().unwrap().len(), items, "{path}");
        assert_eq!(r.ddb_calls(), 3, "{path}");
    }

    // Managing packages and batch allocation move the count with the allocations.
    let r = app
        .put(
            &format!("/api/admin/shop-series-grants/{g1}/packages"),
            &ch.sa,
            json!({"packages": [{"package_id": ps[1], "remove": true}]}),
        )
        .await;
    r.ok();
    app.post(
        "/api/admin/shop-package-batch-allocations",
        &ch.sa,
        json!({"shop_id": ch.a, "package_ids": [ps[1], ps[2]], "cost_price": 8500}),
    )
    .await
    .ok();
    let all = app.get("/api/admin/shop-series-grants", &ch.sa).await;
    assert_eq!(counts(all.ok()), vec![(g1, 3), (g2, 1)]);
    let detail = app
        .get(&format!("/api/admin/shop-series-grants/{g1}"), &ch.sa)
        .await;
    assert_eq!(detail.ok()["package_count"], 3, "the detail agrees");

    // Deleting a grant leaves the counts.
    app.delete(&format!("/api/admin/shop-series-grants/{g2}"), &ch.l1)
        .await
        .ok();
    let all = app.get("/api/admin/shop-series-grants", &ch.sa).await;
    assert_eq!(counts(all.ok()), vec![(g1, 3)]);
    assert_eq!(all.data()["total"], 1);
    let mine = app.get("/api/admin/shop-series-grants", &ch.l1).await;
    assert_eq!(mine.ok()["total"], 0);
    // Filtered: no total.
    let filtered = app
        .get(
            &format!("/api/admin/shop-series-grants?series_id={}", ch.series),
            &ch.sa,
        )
        .await;
    assert!(filtered.ok()["total"].is_null());
    assert_eq!(counts(filtered.data()), vec![(g1, 3)]);
    // The catalogue's own counts.
    let (series, total) = walk(&app, "/api/admin/package-series", &ch.sa, 1).await;
    assert_eq!((once(&series).len(), total), (1, json!(1)));
    let (packages, total) = walk(&app, "/api/admin/packages", &ch.sa, 2).await;
    assert_eq!((once(&packages).len(), total), (3, json!(3)));
    let (own, total) = walk(&app, "/api/admin/packages", &ch.l1, 2).await;
    assert_eq!((once(&own).len(), total), (3, Value::Null));
}

#[tokio::test]
async fn import_tasks_page_newest_first_across_their_types() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mut ids = Vec::new();
    for (purpose, route, extra) in [
        ("iot_card_import", "/api/admin/iot-cards/import", json!({})),
        (
            "iot_card_import",
            "/api/admin/iot-cards/import",
            json!({"import_type": "virtual_no"}),
        ),
        ("device_import", "/api/admin/devices/import", json!({})),
        ("iot_card_import", "/api/admin/iot-cards/import", json!({})),
        (
            "iot_card_import",
            "/api/admin/iot-cards/import",
            json!({"import_type": "virtual_no"}),
        ),
    ] {
        let key = upload(&app, &admin, purpose, "iccid,virtual_no\n").await;
        let mut body = json!({"file_key": key});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let r = app.post(route, &admin, body).await;
        ids.push((route, r.ok()["task_id"].as_u64().unwrap()));
    }
    let (cards, total) = walk(&app, "/api/admin/iot-cards/import/tasks", &admin, 1).await;
    assert!(total.is_null(), "tasks keep no count");
    let got: Vec<u64> = cards.iter().map(|t| t["id"].as_u64().unwrap()).collect();
    let mut want: Vec<u64> = ids
        .iter()
        .filter(|(r, _)| r.contains("iot-cards"))
        .map(|(_, id)| *id)
        .collect();
    want.sort_unstable_by(|x, y| y.cmp(x));
    assert_eq!(got, want, "card and virtual-number tasks, newest first");
    let (devices, _) = walk(&app, "/api/admin/devices/import/tasks", &admin, 1).await;
    assert_eq!(devices.len(), 1);
}
