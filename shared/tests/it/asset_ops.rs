//! Asset operations through the fake carrier gateway: refresh, card and device
//! stop/start, protect periods (simulated clock), refresh cooldown.

use std::sync::Arc;

use serde_json::json;
use shared::integrations::gateway::crypto::{AesEcbMd5, GatewayCrypto};
use shared::integrations::gateway::fake::{FakeCard, FakeDevice, FakeGateway, Fault};
use shared::store::keys;

use crate::helpers::assets::{admin_with_cards, iccid, import_devices};
use crate::helpers::{spawn_app_with, TestApp};

const SECRET: &str = "gateway-secret-0123456789";
const IMEI: &str = "490154203237518";

/// An app wired to a fake gateway; a device with cards 1 and 2 (verified at the
/// carrier) and card 3 (unverified) in its slots; card 4 standalone and verified.
pub(crate) async fn setup() -> (TestApp, FakeGateway, String, u64) {
    let crypto: Arc<dyn GatewayCrypto> = Arc::new(AesEcbMd5::new(SECRET).unwrap());
    let fake = FakeGateway::start("cmp", crypto, 0).await.unwrap();
    let url = fake.url.clone();
    let app = spawn_app_with(move |c| {
        c.gateway_url = Some(url);
        c.gateway_app_id = "cmp".into();
        c.gateway_app_secret = SECRET.into();
        c.gateway_timeout_ms = 2000;
    })
    .await;
    let admin = admin_with_cards(&app, 4).await;
    for i in 1..=4 {
        fake.set_card(
            &iccid(i),
            FakeCard {
                started: false,
                verified: i != 3,
                used_mb: 10.0 * i as f64,
            },
        );
    }
    fake.set_device(
        IMEI,
        FakeDevice {
            slots: vec![iccid(1), iccid(2), iccid(3)],
            ..Default::default()
        },
    );
    let csv = format!(
        "virtual_no,imei,max_sim_slots,iccid_1,iccid_2,iccid_3\nDEV,{IMEI},3,{},{},{}\n",
        iccid(1),
        iccid(2),
        iccid(3)
    );
    import_devices(&app, &admin, &csv).await;
    let device = app
        .get("/api/admin/devices?virtual_no=DEV", &admin)
        .await
        .ok()["list"][0]["id"]
        .as_u64()
        .unwrap();
    // Pull the carrier's view into the cards.
    app.call(
        "POST",
        &format!("/api/admin/assets/device/{device}/refresh"),
        Some(&admin),
        None,
    )
    .await
    .ok();
    (app, fake, admin, device)
}

#[tokio::test]
async fn agents_see_the_gateway_code_but_not_the_upstream_text() {
    let (app, fake, admin, device) = setup().await;
    let role = app.customer_role(&admin, "r").await;
    let shop = app.shop(&admin, "S1", None, role).await;
    app.post(
        "/api/admin/devices/allocate",
        &admin,
        json!({"to_shop_id": shop, "virtual_nos": ["DEV"]}),
    )
    .await
    .ok();
    let agent = app.agent("S1").await;
    let start = |token: &str| {
        let path = format!("/api/admin/assets/device/{device}/start");
        let token = token.to_string();
        let app = &app;
        async move { app.call("POST", &path, Some(&token), None).await }
    };
    let fault = || Fault::Business(500, "carrier down at http://10.9.8.7/internal".into());
    fake.fail_next(20, fault());
    let r = start(&agent).await;
    r.err(502, 1110);
    let body = r.body.to_string();
    assert!(body.contains("500"), "the gateway code is shown: {body}");
    assert!(
        !body.contains("carrier down") && !body.contains("10.9.8.7"),
        "{body}"
    );
    // Platform staff still see the upstream reason.
    fake.fail_next(20, fault());
    let r = start(&admin).await;
    r.err(502, 1110);
    assert!(r.body.to_string().contains("carrier down"), "{}", r.body);
}

#[tokio::test]
async fn a_card_refresh_cools_down_like_a_device_refresh() {
    let (app, fake, admin, _) = setup().await;
    let refresh = || {
        app.call(
            "POST",
            "/api/admin/assets/card/4/refresh",
            Some(&admin),
            None,
        )
    };
    refresh().await.ok();
    let calls = fake.calls().len();
    refresh().await.err(429, 1037);
    assert_eq!(
        fake.calls().len(),
        calls,
        "refused without touching the gateway"
    );
    app.state.clock.advance(30);
    refresh().await.ok();
}

#[tokio::test]
async fn refresh_persists_the_carrier_view_and_cools_down() {
    let (app, fake, admin, device) = setup().await;
    let status = app
        .get(
            &format!("/api/admin/assets/device/{device}/realtime-status"),
            &admin,
        )
        .await;
    let cards = status.ok()["cards"].as_array().unwrap().clone();
    assert_eq!(cards.len(), 3);
    let card1 = cards.iter().find(|c| c["iccid"] == iccid(1)).unwrap();
    assert_eq!(
        (
            card1["real_name_status"].as_i64(),
            card1["current_month_usage_mb"].as_f64()
        ),
        (Some(2), Some(10.0))
    );
    assert_eq!(status.data()["device_protect_status"], "none");
    let calls = fake.calls().len();
    // Within 30 s: refused without touching the gateway; afterwards allowed.
    app.call(
        "POST",
        &format!("/api/admin/assets/device/{device}/refresh"),
        Some(&admin),
        None,
    )
    .await
    .err(429, 1037);
    assert_eq!(fake.calls().len(), calls);
    app.state.clock.advance(30);
    app.call(
        "POST",
        &format!("/api/admin/assets/device/{device}/refresh"),
        Some(&admin),
        None,
    )
    .await
    .ok();
    // realtime-status never calls the gateway.
    let calls = fake.calls().len();
    app.get("/api/admin/assets/card/1/realtime-status", &admin)
        .await
        .ok();
    assert_eq!(fake.calls().len(), calls);
}

#[tokio::test]
async fn device_stop_sets_a_protect_period_that_blocks_opposite_card_operations() {
    let (app, fake, admin, device) = setup().await;
    // Both verified cards run; the carrier refuses the first card's stop.
    for i in [1, 2] {
        fake.set_card(
            &iccid(i),
            FakeCard {
                started: true,
                verified: true,
                used_mb: 0.0,
            },
        );
    }
    fake.fail_next(1, Fault::Business(500, "card locked".into()));
    let r = app
        .call(
            "POST",
            &format!("/api/admin/assets/device/{device}/stop"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (
            r.ok()["success_count"].as_u64(),
            r.data()["skipped_count"].as_u64()
        ),
        (Some(1), Some(1)),
        "{}",
        r.body
    );
    let mut fields: Vec<&str> = r
        .data()
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["failed_cards", "message", "skipped_count", "success_count"]
    );
    assert!(!r.data()["message"].as_str().unwrap().is_empty());
    assert_eq!(r.data()["failed_cards"][0]["iccid"], iccid(1));
    assert!(r.data()["failed_cards"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("card locked"));
    assert!(
        fake.card(&iccid(1)).unwrap().started,
        "the failed card keeps running"
    );
    assert!(!fake.card(&iccid(2)).unwrap().started);
    // The protect period is set even though one card failed.
    let status = app
        .get(
            &format!("/api/admin/assets/device/{device}/realtime-status"),
            &admin,
        )
        .await;
    assert_eq!(status.ok()["device_protect_status"], "stop");
    // Resolve reports it for the device and for its bound cards, not for others.
    for (ident, protect) in [
        ("DEV", "stop"),
        (&iccid(2)[..], "stop"),
        (&iccid(4)[..], "none"),
    ] {
        let r = app
            .get(&format!("/api/admin/assets/resolve/{ident}"), &admin)
            .await;
        assert_eq!(r.ok()["device_protect_status"], protect, "{ident}");
    }
    // Both directions of device operations are blocked; a card start is blocked, a card stop allowed.
    for dir in ["stop", "start"] {
        app.call(
            "POST",
            &format!("/api/admin/assets/device/{device}/{dir}"),
            Some(&admin),
            None,
        )
        .await
        .err(403, 1038);
    }
    app.call(
        "POST",
        &format!("/api/admin/assets/card/{}/start", iccid(1)),
        Some(&admin),
        None,
    )
    .await
    .err(403, 1038);
    app.call(
        "POST",
        &format!("/api/admin/assets/card/{}/stop", iccid(1)),
        Some(&admin),
        None,
    )
    .await
    .ok();
    // Unverified cards are refused; standalone cards are free.
    app.call(
        "POST",
        &format!("/api/admin/assets/card/{}/start", iccid(3)),
        Some(&admin),
        None,
    )
    .await
    .err(403, 1039);
    app.call(
        "POST",
        "/api/admin/assets/card/4/refresh",
        Some(&admin),
        None,
    )
    .await
    .ok();
    app.call(
        "POST",
        &format!("/api/admin/assets/card/{}/start", iccid(4)),
        Some(&admin),
        None,
    )
    .await
    .ok();
    assert!(fake.card(&iccid(4)).unwrap().started);

    // An hour later the protect item may still be stored (DynamoDB deletes late):
    // it no longer counts.
    app.state.clock.advance(3600);
    assert!(app
        .state
        .store
        .get(&keys::device_protect(device))
        .await
        .unwrap()
        .is_some());
    app.call(
        "POST",
        &format!("/api/admin/assets/card/{}/start", iccid(1)),
        Some(&admin),
        None,
    )
    .await
    .ok();
    let r = app
        .call(
            "POST",
            &format!("/api/admin/assets/device/{device}/start"),
            Some(&admin),
            None,
        )
        .await;
    assert!(
        r.ok().is_null(),
        "a device start answers no data: {}",
        r.body
    );
    assert!(fake.card(&iccid(1)).unwrap().started && fake.card(&iccid(2)).unwrap().started);
    let r = app.get("/api/admin/assets/resolve/DEV", &admin).await;
    assert_eq!(r.ok()["device_protect_status"], "start");
    app.call(
        "POST",
        &format!("/api/admin/assets/card/{}/stop", iccid(1)),
        Some(&admin),
        None,
    )
    .await
    .err(403, 1038);
}

#[tokio::test]
async fn a_start_failing_for_every_card_is_a_gateway_error_without_protect() {
    let (app, fake, admin, device) = setup().await;
    fake.fail_next(
        20,
        shared::integrations::gateway::fake::Fault::Business(500, "carrier down".into()),
    );
    let r = app
        .call(
            "POST",
            &format!("/api/admin/assets/device/{device}/start"),
            Some(&admin),
            None,
        )
        .await;
    r.err(502, 1110);
    assert!(
        r.body["msg"].as_str().unwrap().contains("carrier down"),
        "the upstream reason is shown: {}",
        r.body
    );
    let status = app
        .get(
            &format!("/api/admin/assets/device/{device}/realtime-status"),
            &admin,
        )
        .await;
    assert_eq!(status.ok()["device_protect_status"], "none");
    // Unknown ICCID / asset types.
    app.call(
        "POST",
        "/api/admin/assets/card/89860000000000009999/stop",
        Some(&admin),
        None,
    )
    .await
    .err(404, 1180);
    app.call("POST", "/api/admin/assets/sim/1/stop", Some(&admin), None)
        .await
        .err(404, 1002);
}

#[tokio::test]
async fn device_commands_map_snake_case_to_the_gateway_fields() {
    let (app, fake, admin, device) = setup().await;
    let post = |path: &str, body: serde_json::Value| {
        let app = &app;
        let admin = admin.clone();
        let path = format!("/api/admin/devices/{device}/{path}");
        async move { app.call("POST", &path, Some(&admin), Some(body)).await }
    };
    post("speed-limit", json!({"speed_limit": 512})).await.ok();
    post("speed-limit", json!({"speed_limit": 0}))
        .await
        .err(400, 1001);
    post(
        "wifi",
        json!({"ssid": "cmp-net", "password": "secret-pass", "enabled": true}),
    )
    .await
    .ok();
    post("wifi", json!({"ssid": "x".repeat(33), "enabled": true}))
        .await
        .err(400, 1001);
    post("switch-card", json!({"target_iccid": iccid(2)}))
        .await
        .ok();
    post("switch-card", json!({"target_iccid": iccid(4)}))
        .await
        .err(400, 1001);
    post("reboot", json!({})).await.ok();
    post("factory-reset", json!({})).await.ok();
    let d = fake.device(IMEI).unwrap();
    assert_eq!(d.speed_limit, Some(512));
    assert_eq!(d.wifi.unwrap()["ssid"], "cmp-net");
    assert_eq!(d.current_iccid, Some(iccid(2)));
    assert_eq!((d.reboots, d.resets), (1, 1));
    let calls = fake.calls();
    let speed = calls
        .iter()
        .find(|c| c.path == "/device/speed-limit")
        .unwrap();
    assert_eq!(speed.params, json!({"deviceId": IMEI, "speedLimit": 512}));
    let switch = calls
        .iter()
        .find(|c| c.path == "/device/card-switch")
        .unwrap();
    assert_eq!(
        switch.params,
        json!({"cardNo": IMEI, "iccid": iccid(2), "operationType": 2})
    );
    let wifi = calls
        .iter()
        .find(|c| c.path == "/device/wifi-config")
        .unwrap();
    assert_eq!(wifi.params["cardNo"], iccid(1));
}

/// Every asset-operation route for super admin, platform, agent L1, agent L3 below
/// the owner, sibling agent, enterprise account. Assets belong to shop B (L2).
#[tokio::test]
async fn permission_matrix_of_asset_operations() {
    use crate::matrix::{none, row_of, run, Allow, Code, Exp, Row};
    // The enterprise holds no authorisation here: the assets are out of its scope.
    const SCOPED: [Exp; 6] = [
        Allow,
        Allow,
        Allow,
        Code(404, 1180),
        Code(404, 1180),
        Code(404, 1180),
    ];
    let (app, _fake, sa, device) = setup().await;
    let role = app.customer_role(&sa, "r").await;
    let a = app.shop(&sa, "A", None, role).await;
    let b = app.shop(&sa, "B", Some(a), role).await;
    app.shop(&sa, "C", Some(b), role).await;
    app.shop(&sa, "D", None, role).await;
    app.platform_account(&sa, "ops", "password-ops").await;
    let e = app
        .post(
            "/api/admin/enterprises",
            &sa,
            json!({"enterprise_name": "E", "enterprise_code": "E"}),
        )
        .await;
    let eid = e.ok()["id"].as_u64().unwrap();
    app.account_with_roles(
        &sa,
        &sa,
        json!({"username": "ent", "password": "password-e", "user_type": 4, "enterprise_id": eid}),
        &[role],
    )
    .await;
    // Twelve card-less devices: one per actor for refresh (cooldown) and for stop/start.
    let mut csv = String::from("virtual_no\n");
    for i in 0..12 {
        csv.push_str(&format!("M-{i}\n"));
    }
    import_devices(&app, &sa, &csv).await;
    let mut vnos: Vec<String> = (0..12).map(|i| format!("M-{i}")).collect();
    vnos.push("DEV".into());
    let agent_a = app.agent("A").await;
    app.post(
        "/api/admin/devices/allocate",
        &sa,
        json!({"to_shop_id": a, "virtual_nos": vnos}),
    )
    .await
    .ok();
    app.post(
        "/api/admin/devices/allocate",
        &agent_a,
        json!({"to_shop_id": b, "virtual_nos": vnos}),
    )
    .await
    .ok();
    app.post(
        "/api/admin/iot-cards/allocate",
        &sa,
        json!({"to_shop_id": a, "iccids": [iccid(4)]}),
    )
    .await
    .ok();
    app.post(
        "/api/admin/iot-cards/allocate",
        &agent_a,
        json!({"to_shop_id": b, "iccids": [iccid(4)]}),
    )
    .await
    .ok();
    let mut ids = std::collections::HashMap::new();
    for v in &vnos {
        let r = app
            .get(&format!("/api/admin/devices?virtual_no={v}"), &sa)
            .await;
        ids.insert(v.clone(), r.ok()["list"][0]["id"].as_u64().unwrap());
    }
    struct F {
        device: u64,
        m: Vec<u64>,
    }
    let f = F {
        device,
        m: (0..12).map(|i| ids[&format!("M-{i}")]).collect(),
    };
    let tokens = vec![
        sa.clone(),
        app.login("ops", "password-ops").await,
        agent_a,
        app.agent("C").await,
        app.agent("D").await,
        app.login("ent", "password-e").await,
    ];
    let body = |v: serde_json::Value| move |_: &F, _: usize| Some(v.clone());
    let rows: Vec<Row<F>> = vec![
        row_of(
            "GET",
            |_, _| "/api/admin/assets/card/4/realtime-status".into(),
            none,
            SCOPED,
        ),
        row_of(
            "GET",
            |f: &F, _| format!("/api/admin/assets/device/{}/realtime-status", f.device),
            none,
            SCOPED,
        ),
        // One card for everyone: after the first refresh its cooldown runs.
        row_of(
            "POST",
            |_, _| "/api/admin/assets/card/4/refresh".into(),
            none,
            [
                Allow,
                Code(429, 1037),
                Code(429, 1037),
                Code(404, 1180),
                Code(404, 1180),
                Code(404, 1180),
            ],
        ),
        row_of(
            "POST",
            |f: &F, i| format!("/api/admin/assets/device/{}/refresh", f.m[i]),
            none,
            SCOPED,
        ),
        row_of(
            "POST",
            |_, _| format!("/api/admin/assets/card/{}/stop", iccid(4)),
            none,
            SCOPED,
        ),
        row_of(
            "POST",
            |_, _| format!("/api/admin/assets/card/{}/start", iccid(4)),
            none,
            SCOPED,
        ),
        row_of(
            "POST",
            |f: &F, i| format!("/api/admin/assets/device/{}/stop", f.m[i]),
            none,
            SCOPED,
        ),
        row_of(
            "POST",
            |f: &F, i| format!("/api/admin/assets/device/{}/start", f.m[6 + i]),
            none,
            SCOPED,
        ),
        row_of(
            "POST",
            |f: &F, _| format!("/api/admin/devices/{}/speed-limit", f.device),
            body(json!({"speed_limit": 64})),
            SCOPED,
        ),
        row_of(
            "POST",
            |f: &F, _| format!("/api/admin/devices/{}/wifi", f.device),
            body(json!({"ssid": "n", "enabled": false})),
            SCOPED,
        ),
        row_of(
            "POST",
            |f: &F, _| format!("/api/admin/devices/{}/switch-card", f.device),
            body(json!({"target_iccid": iccid(1)})),
            SCOPED,
        ),
        row_of(
            "POST",
            |f: &F, _| format!("/api/admin/devices/{}/reboot", f.device),
            none,
            SCOPED,
        ),
        row_of(
            "POST",
            |f: &F, _| format!("/api/admin/devices/{}/factory-reset", f.device),
            none,
            SCOPED,
        ),
    ];
    let failures = run(&app, &tokens, &f, &rows).await;
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_device_stop_and_start_at_once_never_both_win() {
    let (app, _fake, admin, device) = setup().await;
    let path = |dir: &str| format!("/api/admin/assets/device/{device}/{dir}");
    let (stop_path, start_path) = (path("stop"), path("start"));
    let stop = app.call("POST", &stop_path, Some(&admin), None);
    let start = app.call("POST", &start_path, Some(&admin), None);
    let (stopped, started) = tokio::join!(stop, start);
    let winners: Vec<&str> = [("stop", &stopped), ("start", &started)]
        .into_iter()
        .filter(|(_, r)| r.code() == 0)
        .map(|(d, _)| d)
        .collect();
    assert_eq!(winners.len(), 1, "{:?} / {:?}", stopped.body, started.body);
    let loser = if stopped.code() == 0 {
        &started
    } else {
        &stopped
    };
    assert_eq!(
        loser.code(),
        i64::from(shared::codes::Code::PROTECT_PERIOD.0)
    );
    // One protect item, naming the winner's direction.
    let status = app.get(&path("realtime-status"), &admin).await;
    assert_eq!(status.ok()["device_protect_status"], winners[0]);
}
