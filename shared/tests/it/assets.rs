//! Asset inventory: lists, allocation and recall, deactivation, device bindings,
//! resolve (imports are in `imports.rs`, uploads in `uploads.rs`).

use std::collections::HashSet;

use serde_json::json;

use crate::helpers::assets::{
    admin_with_cards, all, iccid, iccids, import_devices, tree_with_cards,
};
use crate::helpers::spawn_app;

#[tokio::test]
async fn allocation_and_recall_keep_every_view_correct() {
    let app = spawn_app().await;
    let t = tree_with_cards(&app, 10).await;
    let agent_a = app.agent("A").await;
    let agent_b = app.agent("B").await;
    let agent_c = app.agent("C").await;
    let agent_d = app.agent("D").await;

    // Platform → A by ICCID range (cards 1..=6).
    let r = app
        .post(
            "/api/admin/iot-cards/allocate",
            &t.admin,
            json!({"to_shop_id": t.a, "iccid_start": iccid(1), "iccid_end": iccid(6)}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 6, "{}", r.body);
    // Platform may only allocate to level-1 shops; agents only to direct children.
    app.post(
        "/api/admin/iot-cards/allocate",
        &t.admin,
        json!({"to_shop_id": t.b, "iccids": [iccid(7)]}),
    )
    .await
    .err(400, 1035);
    app.post(
        "/api/admin/iot-cards/allocate",
        &agent_a,
        json!({"to_shop_id": t.c, "iccids": [iccid(1)]}),
    )
    .await
    .err(400, 1035);
    app.post(
        "/api/admin/iot-cards/allocate",
        &agent_a,
        json!({"to_shop_id": t.d, "iccids": [iccid(1)]}),
    )
    .await
    .err(404, 1002);
    // A → B by iccid list (cards 1..=3) plus one in platform stock, outside A's reach:
    // refused exactly like an unknown ICCID.
    let r = app
        .post(
            "/api/admin/iot-cards/allocate",
            &agent_a,
            json!({"to_shop_id": t.b, "iccids": [iccid(1), iccid(2), iccid(3), iccid(9)]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 3);
    assert_eq!(
        r.data()["failed"],
        json!([{"iccid": iccid(9), "reason": "not found"}]),
        "card failures name the ICCID"
    );
    // B → C (card 1).
    app.post(
        "/api/admin/iot-cards/allocate",
        &agent_b,
        json!({"to_shop_id": t.c, "iccids": [iccid(1)]}),
    )
    .await
    .ok();

    let set = |v: &[u64]| v.iter().map(|i| iccid(*i)).collect::<HashSet<_>>();
    let all_cards = |tok: String| {
        let app = &app;
        async move { iccids(&all(app, &tok, "/api/admin/iot-cards").await) }
    };
    assert_eq!(all_cards(t.admin.clone()).await.len(), 10);
    assert_eq!(all_cards(agent_a.clone()).await, set(&[1, 2, 3, 4, 5, 6]));
    assert_eq!(all_cards(agent_b.clone()).await, set(&[1, 2, 3]));
    assert_eq!(all_cards(agent_c.clone()).await, set(&[1]));
    assert!(all_cards(agent_d.clone()).await.is_empty());
    // A shop's own stock, and platform stock.
    let own_b = iccids(
        &all(
            &app,
            &agent_a,
            &format!("/api/admin/iot-cards?shop_id={}", t.b),
        )
        .await,
    );
    assert_eq!(own_b, set(&[2, 3]));
    let stock = iccids(&all(&app, &t.admin, "/api/admin/iot-cards?shop_id=0").await);
    assert_eq!(stock, set(&[7, 8, 9, 10]));
    let list = app
        .get(
            &format!("/api/admin/iot-cards?iccid={}", iccid(1)),
            &agent_a,
        )
        .await;
    assert_eq!(list.ok()["list"][0]["shop_name"], "Shop C");
    let prefix = iccids(
        &all(
            &app,
            &agent_a,
            &format!("/api/admin/iot-cards?iccid_prefix={}", iccid(5)),
        )
        .await,
    );
    assert_eq!(prefix, set(&[5]));
    let prefix = iccids(
        &all(
            &app,
            &agent_a,
            &format!("/api/admin/iot-cards?iccid_prefix={}", &iccid(5)[..19]),
        )
        .await,
    );
    assert_eq!(prefix, set(&[1, 2, 3, 4, 5, 6]));
    let prefix = iccids(
        &all(
            &app,
            &t.admin,
            &format!("/api/admin/iot-cards?iccid_prefix={}", iccid(10)),
        )
        .await,
    );
    assert_eq!(prefix, set(&[10]));

    // Resolve follows the card for the new owner and its ancestors, not for others.
    let resolve = |tok: String| {
        let app = &app;
        async move {
            app.get(&format!("/api/admin/assets/resolve/{}", iccid(1)), &tok)
                .await
        }
    };
    assert_eq!(resolve(agent_c.clone()).await.ok()["shop_name"], "Shop C");
    resolve(agent_a.clone()).await.ok();
    resolve(agent_d.clone()).await.err(403, 1005);

    // Recall: agents only from direct subordinates (the source is detected per card).
    let r = app
        .post(
            "/api/admin/iot-cards/recall",
            &agent_a,
            json!({"iccids": [iccid(1), iccid(2), iccid(4)]}),
        )
        .await;
    assert_eq!(
        r.ok()["success_count"],
        1,
        "only card 2 is held by a direct subordinate: {}",
        r.body
    );
    let failed: HashSet<String> = r.data()["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["iccid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed, set(&[1, 4]));
    // By range: the agent's subtree is searched; only direct subordinates' cards move.
    let r = app
        .post(
            "/api/admin/iot-cards/recall",
            &agent_b,
            json!({"iccid_start": iccid(1), "iccid_end": iccid(9)}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 1, "{}", r.body);
    assert_eq!(
        r.data()["failed"][0]["iccid"],
        iccid(3),
        "B's own card stays"
    );
    assert_eq!(all_cards(agent_c.clone()).await.len(), 0);
    assert_eq!(all_cards(agent_b.clone()).await, set(&[1, 3]));
    // Platform recalls from any shop back to platform stock.
    let r = app
        .post(
            "/api/admin/iot-cards/recall",
            &t.admin,
            json!({"iccids": [iccid(3), iccid(5)]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 2);
    let stock = iccids(&all(&app, &t.admin, "/api/admin/iot-cards?shop_id=0").await);
    assert_eq!(stock, set(&[3, 5, 7, 8, 9, 10]));
    assert_eq!(all_cards(agent_a.clone()).await, set(&[1, 2, 4, 6]));

    // Records: every move, each visible to the subordinate shop's line.
    let records = all(&app, &t.admin, "/api/admin/asset-allocation-records").await;
    assert_eq!(records.len(), 6 + 3 + 1 + 1 + 1 + 2);
    let seen_c = all(&app, &agent_c, "/api/admin/asset-allocation-records").await;
    assert_eq!(seen_c.len(), 2, "B→C allocation and the recall from C");
    assert!(seen_c.iter().all(|r| r["identifier"] == iccid(1)));
    assert!(all(&app, &agent_d, "/api/admin/asset-allocation-records")
        .await
        .is_empty());
    let one = seen_c[0]["id"].as_str().unwrap();
    app.get(
        &format!("/api/admin/asset-allocation-records/{one}"),
        &agent_c,
    )
    .await
    .ok();
    app.get(
        &format!("/api/admin/asset-allocation-records/{one}"),
        &agent_d,
    )
    .await
    .err(404, 1002);
}

#[tokio::test]
async fn deactivation_is_idempotent_and_status_guarded() {
    let app = spawn_app().await;
    let admin = admin_with_cards(&app, 1).await;
    let id = all(&app, &admin, "/api/admin/iot-cards").await[0]["id"]
        .as_u64()
        .unwrap();
    app.call(
        "PATCH",
        &format!("/api/admin/iot-cards/{id}/deactivate"),
        Some(&admin),
        None,
    )
    .await
    .ok();
    app.call(
        "PATCH",
        &format!("/api/admin/iot-cards/{id}/deactivate"),
        Some(&admin),
        None,
    )
    .await
    .ok();
    let card = &all(&app, &admin, "/api/admin/iot-cards").await[0];
    assert_eq!(card["asset_status"], 4);
    // Exchanged (3) cannot be deactivated.
    let key = shared::store::keys::card(id);
    let mut item = app.state.store.get(&key).await.unwrap().unwrap();
    item.insert("asset_status".into(), shared::store::n(3));
    app.state.store.put(item).await.unwrap();
    app.call(
        "PATCH",
        &format!("/api/admin/iot-cards/{id}/deactivate"),
        Some(&admin),
        None,
    )
    .await
    .err(409, 1031);
    app.call(
        "PATCH",
        "/api/admin/iot-cards/999/deactivate",
        Some(&admin),
        None,
    )
    .await
    .err(404, 1180);
}

#[tokio::test]
async fn resolve_prefers_devices_and_stays_within_budget() {
    let app = spawn_app().await;
    let t = tree_with_cards(&app, 3).await;
    // Card 1 gets virtual number "SHARED"; a device also uses "SHARED" as its virtual number.
    app.put(
        &format!("/api/admin/iot-cards/{}", 1),
        &t.admin,
        json!({"virtual_no": "SHARED"}),
    )
    .await
    .ok();
    let csv = format!(
        "virtual_no,imei,sn,max_sim_slots,iccid_1\nSHARED,490154203237518,SN-9,2,{}\n",
        iccid(2)
    );
    import_devices(&app, &t.admin, &csv).await;

    let r = app.get("/api/admin/assets/resolve/SHARED", &t.admin).await;
    assert_eq!(r.ok()["asset_type"], "device", "devices first");
    assert_eq!(r.data()["cards"][0]["iccid"], iccid(2));
    assert_eq!(
        r.ddb_calls(),
        5,
        "device: auth with the lookups, device, bindings, cards+shop beside its usages"
    );
    assert!(r.ddb_read_units() > 0.0, "reads report their capacity");
    for ident in ["490154203237518", "SN-9"] {
        assert_eq!(
            app.get(&format!("/api/admin/assets/resolve/{ident}"), &t.admin)
                .await
                .ok()["asset_type"],
            "device"
        );
    }
    let r = app
        .get(&format!("/api/admin/assets/resolve/{}", iccid(2)), &t.admin)
        .await;
    assert_eq!(r.ok()["asset_type"], "card");
    assert_eq!(r.data()["bound_device_no"], "SHARED");
    assert_eq!(
        r.ddb_calls(),
        4,
        "card: auth with the lookups, card, shop+device beside its usages"
    );
    let r = app
        .get(
            &format!("/api/admin/assets/resolve/{}", 13_800_000_003u64),
            &t.admin,
        )
        .await;
    assert_eq!(r.ok()["iccid"], iccid(3), "by msisdn");
    assert!(r.ddb_calls() <= 4);
    app.get("/api/admin/assets/resolve/NOTHING", &t.admin)
        .await
        .err(404, 1180);
    app.get("/api/admin/assets/resolve/%20", &t.admin)
        .await
        .err(400, 1001);
    // Out of scope: 403, not 404.
    let agent_d = app.agent("D").await;
    app.get("/api/admin/assets/resolve/SHARED", &agent_d)
        .await
        .err(403, 1005);
    // Enterprise accounts: 403.
    let e = app
        .post(
            "/api/admin/enterprises",
            &t.admin,
            json!({"enterprise_name": "E", "enterprise_code": "E"}),
        )
        .await;
    let eid = e.ok()["id"].as_u64().unwrap();
    let ent_role = app.customer_role(&t.admin, "ent").await;
    app.account_with_roles(
        &t.admin,
        &t.admin,
        json!({"username": "ent", "password": "password-e", "user_type": 4, "enterprise_id": eid}),
        &[ent_role],
    )
    .await;
    let ent = app.login("ent", "password-e").await;
    app.get("/api/admin/assets/resolve/SHARED", &ent)
        .await
        .err(403, 1005);
}
