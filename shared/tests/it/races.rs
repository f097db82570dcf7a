//! Writes that relied on an earlier read carry that read's condition inside the
//! write: racing them against a move never loses the move.

use serde_json::json;
use shared::domain::assets::{Device, IotCard};
use shared::store::keys;

use crate::helpers::assets::{all, import_devices, tree_with_cards};
use crate::helpers::spawn_app;

async fn card(app: &crate::helpers::TestApp, id: u64) -> IotCard {
    app.state
        .store
        .entity(&keys::card(id))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn deactivating_never_undoes_an_allocation_made_meanwhile() {
    let app = spawn_app().await;
    let t = tree_with_cards(&app, 8).await;
    let cards = all(&app, &t.admin, "/api/admin/iot-cards").await;
    for c in &cards {
        let id = c["id"].as_u64().unwrap();
        let iccid = c["iccid"].as_str().unwrap();
        let allocate = app.post(
            "/api/admin/iot-cards/allocate",
            &t.admin,
            json!({"to_shop_id": t.a, "iccids": [iccid]}),
        );
        let path = format!("/api/admin/iot-cards/{id}/deactivate");
        let deactivate = app.call("PATCH", &path, Some(&t.admin), None);
        let (allocated, deactivated) = tokio::join!(allocate, deactivate);
        let moved =
            allocated.code() == 0 && allocated.data()["success_count"].as_u64().unwrap_or(0) == 1;
        let now = card(&app, id).await;
        if moved {
            assert_eq!(now.shop_id, Some(t.a), "card {id}: the allocation was lost");
        } else {
            assert_eq!(now.shop_id, None, "card {id}");
        }
        if deactivated.code() == 0 {
            assert_eq!(i64::from(now.asset_status), 4, "card {id}");
        }
    }
}

#[tokio::test]
async fn binding_never_joins_a_card_that_moved_meanwhile() {
    let app = spawn_app().await;
    let t = tree_with_cards(&app, 8).await;
    let csv: String = (0..8).fold("virtual_no,max_sim_slots\n".to_string(), |s, i| {
        s + &format!("RACE-{i},1\n")
    });
    import_devices(&app, &t.admin, &csv).await;
    let devices = all(&app, &t.admin, "/api/admin/devices").await;
    let cards = all(&app, &t.admin, "/api/admin/iot-cards").await;
    assert_eq!((devices.len(), cards.len()), (8, 8));
    for (d, c) in devices.iter().zip(&cards) {
        let (device, id) = (d["id"].as_u64().unwrap(), c["id"].as_u64().unwrap());
        let allocate = app.post(
            "/api/admin/iot-cards/allocate",
            &t.admin,
            json!({"to_shop_id": t.a, "iccids": [c["iccid"]]}),
        );
        let path = format!("/api/admin/devices/{device}/cards");
        let bind = app.post(
            &path,
            &t.admin,
            json!({"iot_card_id": id, "slot_position": 1}),
        );
        let (allocated, bound) = tokio::join!(allocate, bind);
        let now = card(&app, id).await;
        let stored: Device = app
            .state
            .store
            .entity(&keys::device(device))
            .await
            .unwrap()
            .unwrap();
        if now.bound_device_id == Some(device) {
            assert_eq!(bound.code(), 0);
            assert_eq!(now.shop_id, stored.shop_id, "card {id} bound across owners");
        }
        if allocated.code() == 0 && allocated.data()["success_count"] == 1 {
            assert_eq!(now.shop_id, Some(t.a));
            assert!(
                now.bound_device_id.is_none() || stored.shop_id == Some(t.a),
                "card {id}: moved to A but bound to a platform device"
            );
        }
    }
}

#[tokio::test]
async fn a_redelivered_import_chunk_keeps_a_move_made_meanwhile() {
    use crate::helpers::assets::{cards_csv, drain, iccid, import_cards};
    use shared::store::{n, s};
    let app = spawn_app().await;
    let t = tree_with_cards(&app, 2).await;
    let task = import_cards(&app, &t.admin, &cards_csv(100, 104), json!({})).await;
    assert_eq!(task["success_count"], 4);
    let task_id = task["id"].as_u64().unwrap();
    app.post(
        "/api/admin/iot-cards/allocate",
        &t.admin,
        json!({"to_shop_id": t.a, "iccids": [iccid(100)]}),
    )
    .await
    .ok();
    // The worker "died" after writing the chunk but before recording progress: the
    // task is back at the chunk and its message is delivered again.
    let store = &app.state.store;
    let mut item = store.get(&keys::import(task_id)).await.unwrap().unwrap();
    item.insert("status".into(), s("processing"));
    item.insert("next_offset".into(), n(0));
    item.insert("next_row".into(), n(0));
    store.put(item).await.unwrap();
    // Delivered straight to the worker (the queue would deduplicate a copy sent
    // within five minutes; SQS redelivers the original instead).
    let message = aws_sdk_sqs::types::Message::builder()
        .message_id("redelivered")
        .body(json!({"task_id": task_id, "offset": 0}).to_string())
        .build();
    let response =
        shared::jobs::import::handle(&app.state, shared::local::sqs_event(&[message])).await;
    assert!(response.batch_item_failures.is_empty());
    drain(&app).await;
    let cards = all(&app, &t.admin, "/api/admin/iot-cards").await;
    let moved = cards.iter().find(|c| c["iccid"] == iccid(100)).unwrap();
    assert_eq!(moved["shop_id"], t.a, "the allocation survived the replay");
    assert_eq!(
        cards.iter().filter(|c| c["iccid"] == iccid(101)).count(),
        1,
        "replayed rows are written once"
    );
}

#[tokio::test]
async fn lowering_a_grant_while_its_child_is_raised_never_leaves_the_child_above() {
    use crate::catalog::{chain, grant_body, package};
    let app = spawn_app().await;
    let ch = chain(&app).await;
    let p = package(&app, &ch.sa, "P1", ch.series).await;
    let grants = "/api/admin/shop-series-grants";
    let id = |r: crate::helpers::Resp| r.ok()["id"].as_u64().unwrap();
    let ga = id(app
        .post(
            grants,
            &ch.sa,
            grant_body(ch.a, ch.series, 800, &[(p, 6000)]),
        )
        .await);
    let gb = id(app
        .post(
            grants,
            &ch.l1,
            grant_body(ch.b, ch.series, 300, &[(p, 7000)]),
        )
        .await);
    let (a_path, b_path) = (format!("{grants}/{ga}"), format!("{grants}/{gb}"));
    let amount = |v: i64| json!({ "one_time_commission_amount": v });
    for round in 0..4 {
        app.put(&a_path, &ch.sa, amount(800)).await.ok();
        app.put(&b_path, &ch.l1, amount(300)).await.ok();
        // Each change passes its check against what it read; both cannot commit.
        let lower = app.put(&a_path, &ch.sa, amount(400));
        let raise = app.put(&b_path, &ch.l1, amount(700));
        let (lowered, raised) = tokio::join!(lower, raise);
        let a = app.get(&a_path, &ch.sa).await.ok()["one_time_commission_amount"].clone();
        let b = app.get(&b_path, &ch.sa).await.ok()["one_time_commission_amount"].clone();
        assert!(
            b.as_i64() <= a.as_i64(),
            "round {round}: child {b} above parent {a} ({:?} / {:?})",
            lowered.body,
            raised.body
        );
    }
}

#[tokio::test]
async fn deleting_a_package_while_it_is_granted_never_leaves_a_dangling_allocation() {
    use crate::catalog::{chain, grant_body, package};
    let app = spawn_app().await;
    let ch = chain(&app).await;
    for round in 0..4 {
        let p = package(&app, &ch.sa, &format!("R{round}"), ch.series).await;
        let path = format!("/api/admin/packages/{p}");
        let grant = app.post(
            "/api/admin/shop-series-grants",
            &ch.sa,
            grant_body(ch.a, ch.series, 100, &[(p, 6000)]),
        );
        let delete = app.delete(&path, &ch.sa);
        let (granted, deleted) = tokio::join!(grant, delete);
        assert!(
            !(granted.code() == 0 && deleted.code() == 0),
            "round {round}: both the grant and the deletion won"
        );
        if granted.code() == 0 {
            // The package is held: deleting it now is refused, whatever the order.
            app.delete(&path, &ch.sa).await.err(409, 1051);
            let id = granted.data()["id"].as_u64().unwrap();
            app.delete(&format!("/api/admin/shop-series-grants/{id}"), &ch.sa)
                .await
                .ok();
            // Released by the grant's deletion.
            app.delete(&path, &ch.sa).await.ok();
        }
    }
}

#[tokio::test]
async fn deleting_a_permission_while_a_role_is_given_it_never_leaves_a_dangling_grant() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let role = app.customer_role(&sa, "granting").await;
    let role_perms = format!("/api/admin/roles/{role}/permissions");
    for round in 0..4 {
        let p = app
            .post(
                "/api/admin/permissions",
                &sa,
                json!({"perm_name": "Extra", "perm_code": format!("extra:r{round}"), "perm_type": 2}),
            )
            .await;
        let p = p.ok()["id"].as_u64().unwrap();
        let path = format!("/api/admin/permissions/{p}");
        let give = app.put(&role_perms, &sa, json!({ "permission_ids": [p] }));
        let delete = app.delete(&path, &sa);
        let (given, deleted) = tokio::join!(give, delete);
        assert!(
            !(given.code() == 0 && deleted.code() == 0),
            "round {round}: both the grant and the deletion won"
        );
        if given.code() == 0 {
            // Granted: deleting it is refused until the role gives it up.
            app.delete(&path, &sa).await.err(409, 1059);
            app.put(&role_perms, &sa, json!({ "permission_ids": [] }))
                .await
                .ok();
            app.delete(&path, &sa).await.ok();
        }
    }
    // A deleted role stops counting: its permission can go.
    let p = app
        .post(
            "/api/admin/permissions",
            &sa,
            json!({"perm_name": "Last", "perm_code": "extra:last", "perm_type": 2}),
        )
        .await;
    let p = p.ok()["id"].as_u64().unwrap();
    app.put(&role_perms, &sa, json!({ "permission_ids": [p] }))
        .await
        .ok();
    app.delete(&format!("/api/admin/permissions/{p}"), &sa)
        .await
        .err(409, 1059);
    app.delete(&format!("/api/admin/roles/{role}"), &sa)
        .await
        .ok();
    app.delete(&format!("/api/admin/permissions/{p}"), &sa)
        .await
        .ok();
}
