//! Enterprise authorisations (api.md §6, docs/authorizations.md): per-item results,
//! a device carrying its cards, revocation taking back only what came with it,
//! grants ending when the asset leaves the granting branch, records, bulk tasks
//! and races.

use serde_json::{json, Value};

use crate::helpers::actors::Actors;
use crate::helpers::assets::{
    all, cards_csv, carrier, drain_bulk as drain, iccid, import_cards, import_devices,
};
use crate::helpers::{spawn_app, TestApp};

/// The cast, cards 1..=8 and device DV-1 holding cards 1 and 2, all held by shop B
/// (under A); enterprise EA is A's.
async fn setup(app: &TestApp) -> Actors {
    let cast = Actors::new(app).await;
    carrier(app, &cast.sa).await;
    import_cards(app, &cast.sa, &cards_csv(1, 9), json!({})).await;
    let csv = format!(
        "virtual_no,max_sim_slots,iccid_1,iccid_2\nDV-1,2,{},{}\n",
        iccid(1),
        iccid(2)
    );
    import_devices(app, &cast.sa, &csv).await;
    let standalone: Vec<String> = (3..=8).map(iccid).collect();
    for (token, to) in [(&cast.sa, cast.a), (&cast.l1, cast.b)] {
        let r = app
            .post(
                "/api/admin/iot-cards/allocate",
                token,
                json!({"to_shop_id": to, "iccids": standalone}),
            )
            .await;
        assert_eq!(r.ok()["failed"], json!([]));
        let r = app
            .post(
                "/api/admin/devices/allocate",
                token,
                json!({"to_shop_id": to, "virtual_nos": ["DV-1"]}),
            )
            .await;
        assert_eq!(r.ok()["failed"], json!([]));
    }
    cast
}

fn path(ent: u64, what: &str) -> String {
    format!("/api/admin/enterprises/{ent}/{what}")
}

/// `(identifier, result)` of each item of an authorise or revoke answer.
fn results(answer: &Value) -> Vec<(String, String)> {
    answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["identifier"].as_str().unwrap().to_string(),
                i["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(list: &[(String, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.clone(), b.to_string()))
        .collect()
}

fn identifiers(list: &[Value], field: &str) -> Vec<String> {
    let mut v: Vec<String> = list
        .iter()
        .map(|c| c[field].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

async fn card_id(app: &TestApp, token: &str, n: u64) -> u64 {
    app.get(&format!("/api/admin/iot-cards?iccid={}", iccid(n)), token)
        .await
        .ok()["list"][0]["id"]
        .as_u64()
        .unwrap()
}

async fn device_id(app: &TestApp, token: &str, vno: &str) -> u64 {
    app.get(&format!("/api/admin/devices?virtual_no={vno}"), token)
        .await
        .ok()["list"][0]["id"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn a_device_carries_its_cards_and_revoking_it_takes_back_only_those() {
    let app = spawn_app().await;
    let cast = setup(&app).await;
    let (l1, ent, ea) = (&cast.l1, &cast.enterprise, cast.ea);

    // Nothing authorised yet: the enterprise's lists are empty.
    assert!(all(&app, ent, "/api/admin/iot-cards/standalone")
        .await
        .is_empty());
    assert!(all(&app, ent, "/api/admin/devices").await.is_empty());

    let r = app
        .post(
            &path(ea, "devices/authorize"),
            l1,
            json!({"virtual_nos": ["DV-1"]}),
        )
        .await;
    let item = &r.ok()["items"][0];
    assert_eq!(item["result"], "authorized");
    assert_eq!(item["cards"], json!([iccid(1), iccid(2)]));

    // Card 2 also on its own; card 3; an unknown ICCID; card 3 named twice.
    let body = json!({"iccids": [iccid(2), iccid(3), iccid(3), iccid(99)]});
    let r = app
        .post(&path(ea, "cards/authorize"), l1, body.clone())
        .await;
    assert_eq!(
        results(r.ok()),
        pairs(&[
            (iccid(2), "authorized"),
            (iccid(3), "authorized"),
            (iccid(99), "refused")
        ])
    );
    assert_eq!(r.ok()["success_count"], 2);
    assert_eq!(r.ok()["refused_count"], 1);
    // Replayed: nothing new.
    let r = app.post(&path(ea, "cards/authorize"), l1, body).await;
    assert_eq!(r.ok()["already_count"], 2);
    assert_eq!(r.ok()["success_count"], 0);

    // What the enterprise sees.
    let standalone = all(&app, ent, "/api/admin/iot-cards/standalone").await;
    assert_eq!(identifiers(&standalone, "iccid"), vec![iccid(3)]);
    let devices = all(&app, ent, "/api/admin/devices").await;
    assert_eq!(
        identifiers(&devices, "virtual_no"),
        vec!["DV-1".to_string()]
    );
    let cards = all(&app, ent, &path(ea, "cards")).await;
    assert_eq!(
        identifiers(&cards, "iccid"),
        vec![iccid(1), iccid(2), iccid(3)]
    );
    let card2 = cards.iter().find(|c| c["iccid"] == iccid(2)).unwrap();
    assert_eq!(
        card2["authorization"]["grants"].as_array().unwrap().len(),
        2
    );
    let c1 = card_id(&app, l1, 1).await;
    let c2 = card_id(&app, l1, 2).await;
    let status = |id: u64| format!("/api/admin/assets/card/{id}/realtime-status");
    let r = app.get(&status(c1), ent).await;
    r.ok();
    assert_eq!(r.ddb_calls(), 2, "auth, the card: its grants are on it");
    // One Query of the enterprise index per page, whatever else the tree holds.
    let r = app.get("/api/admin/iot-cards/standalone", ent).await;
    assert_eq!(r.ok()["list"].as_array().unwrap().len(), 1);
    assert_eq!(r.ddb_calls(), 3, "auth, the index Query, the shop names");
    let r = app.get(&path(ea, "cards"), l1).await;
    assert_eq!(r.ok()["list"].as_array().unwrap().len(), 3);
    assert_eq!(
        r.ddb_calls(),
        4,
        "auth, the enterprise, the index Query, the shop names"
    );
    let resolved = app
        .get(&format!("/api/admin/assets/resolve/{}", "DV-1"), ent)
        .await;
    assert_eq!(resolved.ok()["bound_card_count"], 2);

    // A card that came with its device goes with its device.
    let r = app
        .post(&path(ea, "cards/revoke"), l1, json!({"card_ids": [c1]}))
        .await;
    assert_eq!(r.ok()["items"][0]["result"], "refused");
    assert!(r.ok()["items"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("device"));

    let r = app
        .post(
            &path(ea, "devices/revoke"),
            l1,
            json!({"virtual_nos": ["DV-1"]}),
        )
        .await;
    assert_eq!(r.ok()["items"][0]["result"], "revoked", "{:?}", r.body);
    assert_eq!(r.ok()["items"][0]["cards"], json!([iccid(1), iccid(2)]));
    let cards = all(&app, ent, &path(ea, "cards")).await;
    assert_eq!(
        identifiers(&cards, "iccid"),
        vec![iccid(2), iccid(3)],
        "card 2 stays: it was authorised on its own"
    );
    app.get(&status(c1), ent).await.err(404, 1180);
    app.get(&status(c2), ent).await.ok();
    assert!(all(&app, ent, "/api/admin/devices").await.is_empty());

    // The records: who and when, filters.
    let records = all(
        &app,
        l1,
        &format!("/api/admin/authorizations?enterprise_id={ea}"),
    )
    .await;
    assert_eq!(records.len(), 5, "{records:#?}");
    for r in &records {
        assert!(r["authorized_by"].as_u64().is_some() && r["authorized_at"].is_string());
    }
    let ended: Vec<&Value> = records
        .iter()
        .filter(|r| r["revoked_at"].is_string())
        .collect();
    assert_eq!(ended.len(), 3);
    assert!(ended.iter().all(|r| r["revoked_by"].as_u64().is_some()));
    let reasons: Vec<&str> = ended
        .iter()
        .map(|r| r["end_reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons.iter().filter(|r| **r == "device_revoked").count(),
        2
    );
    let active = all(&app, l1, "/api/admin/authorizations?status=active").await;
    assert_eq!(active.len(), 2);
    let of_card2 = all(
        &app,
        &cast.platform,
        &format!(
            "/api/admin/authorizations?identifier={}",
            iccid(2).to_lowercase()
        ),
    )
    .await;
    assert_eq!(of_card2.len(), 2);
    let devices = all(&app, l1, "/api/admin/authorizations?asset_type=device").await;
    assert_eq!(devices.len(), 1);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let dated = all(
        &app,
        &cast.sa,
        &format!("/api/admin/authorizations?start_time=2000-01-01&end_time={today}T23:59:59Z"),
    )
    .await;
    assert_eq!(dated.len(), 5);
    let none = all(
        &app,
        &cast.sa,
        "/api/admin/authorizations?end_time=2000-01-01",
    )
    .await;
    assert!(none.is_empty());
    app.get("/api/admin/authorizations?status=maybe", l1)
        .await
        .err(400, 1001);
    assert!(all(&app, &cast.sibling, "/api/admin/authorizations")
        .await
        .is_empty());
    app.get(
        &format!("/api/admin/authorizations?enterprise_id={ea}"),
        &cast.sibling,
    )
    .await
    .err(404, 1002);
}

#[tokio::test]
async fn scope_and_exclusivity_of_grants() {
    let app = spawn_app().await;
    let cast = setup(&app).await;
    let ea = cast.ea;
    let eb = app
        .post(
            "/api/admin/enterprises",
            &cast.sa,
            json!({"enterprise_name": "EB", "enterprise_code": "EB", "owner_shop_id": cast.d}),
        )
        .await
        .ok()["id"]
        .as_u64()
        .unwrap();
    let body = json!({"iccids": [iccid(4)]});
    // The sibling agent does not see EA; in its own enterprise, B's card is unknown.
    app.post(&path(ea, "cards/authorize"), &cast.sibling, body.clone())
        .await
        .err(404, 1002);
    let r = app
        .post(&path(eb, "cards/authorize"), &cast.sibling, body.clone())
        .await;
    assert_eq!(results(r.ok()), pairs(&[(iccid(4), "refused")]));
    assert_eq!(r.ok()["items"][0]["reason"], "not found");
    // The agent of C (below B) does not reach B's cards.
    app.post(&path(ea, "cards/authorize"), &cast.l3, body.clone())
        .await
        .err(404, 1002);
    // Enterprise accounts authorise nothing.
    app.post(&path(ea, "cards/authorize"), &cast.enterprise, body.clone())
        .await
        .err(403, 1005);
    // One enterprise at a time: the platform may grant across branches, not twice.
    let r = app
        .post(&path(eb, "cards/authorize"), &cast.platform, body.clone())
        .await;
    assert_eq!(r.ok()["items"][0]["result"], "authorized");
    let r = app
        .post(&path(ea, "cards/authorize"), &cast.l1, body.clone())
        .await;
    assert_eq!(r.ok()["items"][0]["result"], "refused");
    assert!(r.ok()["items"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("another enterprise"));
    // Revoking from an enterprise it is not authorised to: already so.
    let r = app
        .post(&path(ea, "cards/revoke"), &cast.l1, body.clone())
        .await;
    assert_eq!(r.ok()["items"][0]["result"], "already");
    // A device whose bound card belongs to another enterprise is refused whole.
    let r = app
        .post(
            &path(eb, "cards/authorize"),
            &cast.platform,
            json!({"iccids": [iccid(1)]}),
        )
        .await;
    assert_eq!(r.ok()["items"][0]["result"], "authorized");
    let r = app
        .post(
            &path(ea, "devices/authorize"),
            &cast.l1,
            json!({"virtual_nos": ["DV-1"]}),
        )
        .await;
    assert_eq!(r.ok()["items"][0]["result"], "refused");
    assert!(all(&app, &cast.enterprise, "/api/admin/devices")
        .await
        .is_empty());
    // Bad bodies.
    for bad in [
        json!({}),
        json!({"card_ids": []}),
        json!({"card_ids": [1], "iccids": ["x"]}),
        json!({"iccids": [" "]}),
        json!({"virtual_nos": ["x".repeat(65)]}),
    ] {
        app.post(&path(ea, "cards/authorize"), &cast.l1, bad)
            .await
            .err(400, 1001);
    }
    // Racing grants of one card to two enterprises: exactly one holds it, with one
    // live record.
    let c5 = card_id(&app, &cast.sa, 5).await;
    let race = |ent: u64| {
        let app = &app;
        let token = cast.platform.clone();
        async move {
            app.post(
                &path(ent, "cards/authorize"),
                &token,
                json!({"card_ids": [c5]}),
            )
            .await
            .ok()["items"][0]["result"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let (a1, b1, a2, b2, a3, b3) =
        tokio::join!(race(ea), race(eb), race(ea), race(eb), race(ea), race(eb));
    let outcomes = [a1, b1, a2, b2, a3, b3];
    assert_eq!(
        outcomes.iter().filter(|o| *o == "authorized").count(),
        1,
        "{outcomes:?}"
    );
    let live = all(
        &app,
        &cast.sa,
        &format!(
            "/api/admin/authorizations?identifier={}&status=active",
            iccid(5)
        ),
    )
    .await;
    assert_eq!(live.len(), 1);
}

#[tokio::test]
async fn grants_end_when_the_asset_leaves_the_granting_branch() {
    let app = spawn_app().await;
    let cast = setup(&app).await;
    let (l1, ea) = (&cast.l1, cast.ea);
    let agent_b = app.agent("B").await;
    let ebb = app
        .post(
            "/api/admin/enterprises",
            &cast.sa,
            json!({"enterprise_name": "EBB", "enterprise_code": "EBB", "owner_shop_id": cast.b}),
        )
        .await
        .ok()["id"]
        .as_u64()
        .unwrap();
    let ebb_account =
        json!({"username": "ebb", "password": "password-b", "user_type": 4, "enterprise_id": ebb});
    app.account_with_roles(&cast.sa, &cast.sa, ebb_account, &[cast.role])
        .await;
    let ebb_token = app.login("ebb", "password-b").await;
    let r = app
        .post(
            &path(ea, "cards/authorize"),
            l1,
            json!({"iccids": [iccid(3), iccid(4), iccid(5)]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 3);
    let r = app
        .post(
            &path(ebb, "cards/authorize"),
            &agent_b,
            json!({"iccids": [iccid(6)]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 1);
    let r = app
        .post(
            &path(ea, "devices/authorize"),
            l1,
            json!({"virtual_nos": ["DV-1"]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 1);

    // Recalled from B to A: B's grant ends, A's survives (still in A's branch).
    let r = app
        .post(
            "/api/admin/iot-cards/recall",
            l1,
            json!({"iccids": [iccid(3), iccid(6)]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 2);
    assert!(all(&app, &ebb_token, "/api/admin/iot-cards")
        .await
        .is_empty());
    // Recalled by the platform to its stock: out of A's branch.
    let r = app
        .post(
            "/api/admin/iot-cards/recall",
            &cast.platform,
            json!({"iccids": [iccid(4)]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 1);
    // Deactivated.
    let c5 = card_id(&app, l1, 5).await;
    app.call(
        "PATCH",
        &format!("/api/admin/iot-cards/{c5}/deactivate"),
        Some(l1),
        None,
    )
    .await
    .ok();
    // Unbound from its device: card 2 loses the grant it had through it.
    let dv = device_id(&app, l1, "DV-1").await;
    let c2 = card_id(&app, l1, 2).await;
    app.delete(&format!("/api/admin/devices/{dv}/cards/{c2}"), l1)
        .await
        .ok();
    let cards = all(&app, &cast.enterprise, &path(ea, "cards")).await;
    assert_eq!(identifiers(&cards, "iccid"), vec![iccid(1), iccid(3)]);
    // Bound again: the device's grant carries to it.
    app.post(
        &format!("/api/admin/devices/{dv}/cards"),
        l1,
        json!({"iot_card_id": c2, "slot_position": 2}),
    )
    .await
    .ok();
    let cards = all(&app, &cast.enterprise, &path(ea, "cards")).await;
    assert_eq!(
        identifiers(&cards, "iccid"),
        vec![iccid(1), iccid(2), iccid(3)]
    );
    let carried = all(
        &app,
        l1,
        &format!(
            "/api/admin/authorizations?identifier={}&status=active",
            iccid(2)
        ),
    )
    .await;
    assert_eq!(carried.len(), 1);
    assert_eq!(carried[0]["via_device_id"], dv);
    // A card of another enterprise cannot join an authorised device.
    let c7 = card_id(&app, l1, 7).await;
    let r = app
        .post(
            &path(ebb, "cards/authorize"),
            &agent_b,
            json!({"card_ids": [c7]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 1);
    app.post(
        &format!("/api/admin/devices/{dv}/cards"),
        l1,
        json!({"iot_card_id": c7, "slot_position": 2}),
    )
    .await
    .err(400, 1001);
    // The device deleted: it and cards 1 and 2 (through it) end.
    app.delete(&format!("/api/admin/devices/{dv}"), &cast.platform)
        .await
        .ok();
    let cards = all(&app, &cast.enterprise, &path(ea, "cards")).await;
    assert_eq!(identifiers(&cards, "iccid"), vec![iccid(3)]);
    assert!(all(&app, &cast.enterprise, "/api/admin/devices")
        .await
        .is_empty());
    let c4 = card_id(&app, &cast.sa, 4).await;
    app.get(
        &format!("/api/admin/assets/card/{c4}/realtime-status"),
        &cast.enterprise,
    )
    .await
    .err(404, 1180);

    // Every end is recorded with its reason.
    let records = all(&app, &cast.sa, "/api/admin/authorizations?status=revoked").await;
    let mut reasons: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["identifier"].as_str().unwrap().to_string(),
                r["end_reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        pairs(&[
            (iccid(1), "device_deleted"),
            (iccid(2), "device_deleted"),
            (iccid(2), "unbound"),
            (iccid(4), "left_branch"),
            (iccid(5), "deactivated"),
            (iccid(6), "left_branch"),
            ("DV-1".into(), "device_deleted"),
        ])
    );
    let live = all(&app, &cast.sa, "/api/admin/authorizations?status=active").await;
    assert_eq!(identifiers(&live, "identifier"), vec![iccid(3), iccid(7)]);
}

#[tokio::test]
async fn more_than_500_assets_become_a_bulk_task() {
    let app = spawn_app().await;
    let cast = Actors::new(&app).await;
    carrier(&app, &cast.sa).await;
    import_cards(&app, &cast.sa, &cards_csv(1, 507), json!({})).await;
    let ids: Vec<u64> = all(&app, &cast.sa, "/api/admin/iot-cards")
        .await
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 506);
    let mut named = ids.clone();
    named.push(999_999);
    let r = app
        .post(
            &path(cast.ea, "cards/authorize"),
            &cast.platform,
            json!({"card_ids": named}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 202);
    assert_eq!(r.data()["operation"], "authorize");
    assert_eq!(r.data()["enterprise_id"], cast.ea);
    let task = drain(&app, &cast.platform, r.data()["task_id"].as_u64().unwrap()).await;
    assert_eq!(task["status"], "done");
    assert_eq!(task["moved_count"], 506);
    assert_eq!(task["failed_count"], 1);
    let seen = all(&app, &cast.enterprise, "/api/admin/iot-cards/standalone").await;
    assert_eq!(seen.len(), 506);

    let iccids: Vec<String> = (1..507).map(iccid).collect();
    let r = app
        .post(
            &path(cast.ea, "cards/revoke"),
            &cast.platform,
            json!({"iccids": iccids}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 202);
    let task = drain(&app, &cast.platform, r.data()["task_id"].as_u64().unwrap()).await;
    assert_eq!(
        (task["moved_count"].clone(), task["failed_count"].clone()),
        (json!(506), json!(0))
    );
    assert!(all(&app, &cast.enterprise, "/api/admin/iot-cards")
        .await
        .is_empty());
    // Card virtual numbers are taken up to 500 per request.
    let vnos: Vec<String> = (0..501).map(|i| format!("V{i}")).collect();
    app.post(
        &path(cast.ea, "cards/authorize"),
        &cast.platform,
        json!({"virtual_nos": vnos}),
    )
    .await
    .err(400, 1001);
}
