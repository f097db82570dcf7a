//! Enterprise rows over every asset route: an enterprise account is refused every
//! asset until one is authorised to it, then reaches exactly the routes an
//! enterprise may use on it (and no administrative route), and is refused again
//! once the grant is revoked or the asset recalled out of the granting branch. Then
//! the seven authorisation routes for every kind of caller.

use serde_json::{json, Value};

use crate::asset_ops;
use crate::helpers::actors::Actors;
use crate::helpers::assets::{all, iccid, import_devices};
use crate::helpers::TestApp;
use crate::matrix::{none, row_of, run, Allow, Code, Deny, Exp, Hidden, Row};

/// Out of scope for an asset: "asset not found".
const GONE: Exp = Code(404, 1180);

struct F {
    ea: u64,
    card: u64,
    device: u64,
    /// A card-less device (stopped while the other is started).
    spare: u64,
}

/// One asset route as the enterprise calls it: what it gets while the asset is
/// authorised to it, and while it is not.
struct Route {
    method: &'static str,
    path: String,
    body: Option<Value>,
    authorised: Exp,
    not: Exp,
}

fn route(
    method: &'static str,
    path: String,
    body: Option<Value>,
    authorised: Exp,
    not: Exp,
) -> Route {
    Route {
        method,
        path,
        body,
        authorised,
        not,
    }
}

fn routes(f: &F) -> Vec<Route> {
    let (c, d, m) = (f.card, f.device, f.spare);
    let card4 = iccid(4);
    let admin_only = |method, path: String, body| route(method, path, body, Deny, Deny);
    let mut r = vec![
        // What an enterprise may use, on its authorised assets only.
        route(
            "GET",
            format!("/api/admin/assets/resolve/{card4}"),
            None,
            Allow,
            Deny,
        ),
        route(
            "GET",
            "/api/admin/assets/resolve/DEV".into(),
            None,
            Allow,
            Deny,
        ),
        route(
            "GET",
            format!("/api/admin/assets/card/{c}/realtime-status"),
            None,
            Allow,
            GONE,
        ),
        route(
            "GET",
            format!("/api/admin/assets/device/{d}/realtime-status"),
            None,
            Allow,
            GONE,
        ),
        route(
            "POST",
            format!("/api/admin/assets/card/{c}/refresh"),
            None,
            Allow,
            GONE,
        ),
        route(
            "POST",
            format!("/api/admin/assets/device/{d}/refresh"),
            None,
            Allow,
            GONE,
        ),
        route(
            "GET",
            format!("/api/admin/assets/card/{c}/packages"),
            None,
            Allow,
            GONE,
        ),
        route(
            "GET",
            format!("/api/admin/assets/device/{d}/packages"),
            None,
            Allow,
            GONE,
        ),
        route(
            "GET",
            format!("/api/admin/assets/card/{c}/current-package"),
            None,
            Code(404, 1130),
            GONE,
        ),
        route(
            "POST",
            format!("/api/admin/assets/card/{card4}/stop"),
            None,
            Allow,
            GONE,
        ),
        route(
            "POST",
            format!("/api/admin/assets/card/{card4}/start"),
            None,
            Allow,
            GONE,
        ),
        route(
            "POST",
            format!("/api/admin/assets/device/{m}/stop"),
            None,
            Allow,
            GONE,
        ),
        route(
            "POST",
            format!("/api/admin/assets/device/{d}/start"),
            None,
            Allow,
            GONE,
        ),
        route(
            "POST",
            format!("/api/admin/devices/{d}/speed-limit"),
            Some(json!({"speed_limit": 64})),
            Allow,
            GONE,
        ),
        route(
            "POST",
            format!("/api/admin/devices/{d}/wifi"),
            Some(json!({"ssid": "n", "enabled": false})),
            Allow,
            GONE,
        ),
        route(
            "POST",
            format!("/api/admin/devices/{d}/switch-card"),
            Some(json!({"target_iccid": iccid(1)})),
            Allow,
            GONE,
        ),
        route(
            "POST",
            format!("/api/admin/devices/{d}/reboot"),
            None,
            Allow,
            GONE,
        ),
        route(
            "POST",
            format!("/api/admin/devices/{d}/factory-reset"),
            None,
            Allow,
            GONE,
        ),
    ];
    // Administrative routes stay closed, authorised or not.
    r.extend([
        admin_only(
            "PUT",
            format!("/api/admin/iot-cards/{c}"),
            Some(json!({"remark": "x"})),
        ),
        admin_only(
            "PATCH",
            format!("/api/admin/iot-cards/{c}/deactivate"),
            None,
        ),
        admin_only(
            "POST",
            "/api/admin/iot-cards/allocate".into(),
            Some(json!({"to_shop_id": 1, "iccids": [card4]})),
        ),
        admin_only(
            "POST",
            "/api/admin/iot-cards/recall".into(),
            Some(json!({"iccids": [card4]})),
        ),
        admin_only(
            "POST",
            "/api/admin/iot-cards/import".into(),
            Some(json!({"file_key": "uploads/x/1/a.csv"})),
        ),
        admin_only("GET", "/api/admin/iot-cards/import/tasks".into(), None),
        admin_only(
            "PUT",
            format!("/api/admin/devices/{d}"),
            Some(json!({"device_name": "x"})),
        ),
        admin_only("DELETE", format!("/api/admin/devices/{d}"), None),
        admin_only("PATCH", format!("/api/admin/devices/{d}/deactivate"), None),
        admin_only("GET", format!("/api/admin/devices/{d}/cards"), None),
        admin_only(
            "POST",
            format!("/api/admin/devices/{d}/cards"),
            Some(json!({"iot_card_id": c, "slot_position": 3})),
        ),
        admin_only("DELETE", format!("/api/admin/devices/{d}/cards/{c}"), None),
        admin_only(
            "POST",
            "/api/admin/devices/allocate".into(),
            Some(json!({"to_shop_id": 1, "virtual_nos": ["DEV"]})),
        ),
        admin_only(
            "POST",
            "/api/admin/devices/recall".into(),
            Some(json!({"virtual_nos": ["DEV"]})),
        ),
        admin_only("GET", "/api/admin/asset-allocation-records".into(), None),
        admin_only(
            "POST",
            format!("/api/admin/enterprises/{}/cards/authorize", f.ea),
            Some(json!({"card_ids": [c]})),
        ),
        admin_only(
            "POST",
            format!("/api/admin/enterprises/{}/devices/revoke", f.ea),
            Some(json!({"device_ids": [d]})),
        ),
        admin_only("GET", "/api/admin/authorizations".into(), None),
    ]);
    r
}

/// The lists an enterprise reads, each with the identifiers it must show.
async fn lists(app: &TestApp, token: &str, f: &F) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (path, field) in [
        ("/api/admin/iot-cards/standalone".to_string(), "iccid"),
        ("/api/admin/iot-cards".to_string(), "iccid"),
        ("/api/admin/devices".to_string(), "virtual_no"),
        (format!("/api/admin/enterprises/{}/cards", f.ea), "iccid"),
        (
            format!("/api/admin/enterprises/{}/devices", f.ea),
            "virtual_no",
        ),
    ] {
        let mut seen: Vec<String> = all(app, token, &path)
            .await
            .iter()
            .map(|v| v[field].as_str().unwrap_or_default().to_string())
            .collect();
        seen.sort();
        out.push((path, seen));
    }
    out
}

/// Calls every route as the enterprise; returns the mismatches with `authorised`.
async fn check(app: &TestApp, token: &str, f: &F, authorised: bool, phase: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for r in routes(f) {
        let res = app
            .call(r.method, &r.path, Some(token), r.body.clone())
            .await;
        let got = match (res.status.as_u16(), res.code()) {
            (200, 0) => Allow,
            (403, 1005) => Deny,
            (404, 1002) => Hidden,
            (s, c) => Code(s, c),
        };
        let want = if authorised { r.authorised } else { r.not };
        if got != want {
            let body: String = res.body.to_string().chars().take(160).collect();
            failures.push(format!(
                "{phase}: {} {}: expected {want:?}, got {got:?} {body}",
                r.method, r.path
            ));
        }
    }
    failures
}

#[tokio::test]
async fn an_enterprise_reaches_exactly_its_authorised_assets() {
    let (app, _fake, sa, device) = asset_ops::setup().await;
    let cast = Actors::new(&app).await;
    import_devices(&app, &sa, "virtual_no\nM-1\n").await;
    for (token, to) in [(&sa, cast.a), (&cast.l1, cast.b)] {
        let r = app
            .post(
                "/api/admin/devices/allocate",
                token,
                json!({"to_shop_id": to, "virtual_nos": ["DEV", "M-1"]}),
            )
            .await;
        assert_eq!(r.ok()["failed"], json!([]));
        let r = app
            .post(
                "/api/admin/iot-cards/allocate",
                token,
                json!({"to_shop_id": to, "iccids": [iccid(4)]}),
            )
            .await;
        assert_eq!(r.ok()["failed"], json!([]));
    }
    let id_of = |list: &[Value]| list[0]["id"].as_u64().unwrap();
    let f = F {
        ea: cast.ea,
        card: id_of(
            &all(
                &app,
                &sa,
                &format!("/api/admin/iot-cards?iccid={}", iccid(4)),
            )
            .await,
        ),
        device,
        spare: id_of(&all(&app, &sa, "/api/admin/devices?virtual_no=M-1").await),
    };
    let ent = cast.enterprise.clone();
    let empty = |f: &F| {
        vec![
            ("/api/admin/iot-cards/standalone".to_string(), vec![]),
            ("/api/admin/iot-cards".to_string(), vec![]),
            ("/api/admin/devices".to_string(), vec![]),
            (format!("/api/admin/enterprises/{}/cards", f.ea), vec![]),
            (format!("/api/admin/enterprises/{}/devices", f.ea), vec![]),
        ]
    };

    // 1. Nothing authorised: every asset refused, every list empty.
    let mut failures = check(&app, &ent, &f, false, "before").await;
    assert_eq!(lists(&app, &ent, &f).await, empty(&f));

    // 2. The L1 agent authorises card 4, DEV (with cards 1–3) and M-1.
    let r = app
        .post(
            &format!("/api/admin/enterprises/{}/cards/authorize", f.ea),
            &cast.l1,
            json!({"card_ids": [f.card]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 1);
    let r = app
        .post(
            &format!("/api/admin/enterprises/{}/devices/authorize", f.ea),
            &cast.l1,
            json!({"device_ids": [f.device, f.spare]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 2);
    assert_eq!(
        r.ok()["items"][0]["cards"],
        json!([iccid(1), iccid(2), iccid(3)])
    );
    app.state.clock.advance(31); // past the refresh cooldown the setup started
    failures.extend(check(&app, &ent, &f, true, "authorised").await);
    let cards: Vec<String> = (1..=4).map(iccid).collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        lists(&app, &ent, &f).await,
        vec![
            (
                "/api/admin/iot-cards/standalone".to_string(),
                vec![iccid(4)]
            ),
            ("/api/admin/iot-cards".to_string(), cards.clone()),
            ("/api/admin/devices".to_string(), s(&["DEV", "M-1"])),
            (format!("/api/admin/enterprises/{}/cards", f.ea), cards),
            (
                format!("/api/admin/enterprises/{}/devices", f.ea),
                s(&["DEV", "M-1"])
            ),
        ]
    );

    // 3. Card 4 revoked; the devices recalled by the platform, out of A's branch.
    let r = app
        .post(
            &format!("/api/admin/enterprises/{}/cards/revoke", f.ea),
            &cast.l1,
            json!({"iccids": [iccid(4)]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 1);
    let r = app
        .post(
            "/api/admin/devices/recall",
            &cast.platform,
            json!({"virtual_nos": ["DEV", "M-1"]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 2);
    app.state.clock.advance(3601); // past the protect periods of step 2
    failures.extend(check(&app, &ent, &f, false, "after").await);
    assert_eq!(lists(&app, &ent, &f).await, empty(&f));
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn the_authorisation_routes_for_every_kind_of_caller() {
    let (app, _fake, sa, device) = asset_ops::setup().await;
    let cast = Actors::new(&app).await;
    for (token, to) in [(&sa, cast.a), (&cast.l1, cast.b)] {
        app.post(
            "/api/admin/devices/allocate",
            token,
            json!({"to_shop_id": to, "virtual_nos": ["DEV"]}),
        )
        .await
        .ok();
        app.post(
            "/api/admin/iot-cards/allocate",
            token,
            json!({"to_shop_id": to, "iccids": [iccid(4)]}),
        )
        .await
        .ok();
    }
    let card = all(
        &app,
        &sa,
        &format!("/api/admin/iot-cards?iccid={}", iccid(4)),
    )
    .await[0]["id"]
        .as_u64()
        .unwrap();
    let f = F {
        ea: cast.ea,
        card,
        device,
        spare: 0,
    };
    const OWNERS: [Exp; 6] = [Allow, Allow, Allow, Hidden, Hidden, Allow];
    const GRANTORS: [Exp; 6] = [Allow, Allow, Allow, Hidden, Hidden, Deny];
    let ent_path = |tail: &'static str| {
        move |f: &F, _: usize| format!("/api/admin/enterprises/{}/{tail}", f.ea)
    };
    let rows: Vec<Row<F>> = vec![
        row_of("GET", ent_path("cards"), none, OWNERS),
        row_of("GET", ent_path("devices"), none, OWNERS),
        row_of(
            "POST",
            ent_path("cards/authorize"),
            |f: &F, _| Some(json!({"card_ids": [f.card]})),
            GRANTORS,
        ),
        row_of(
            "POST",
            ent_path("cards/revoke"),
            |f: &F, _| Some(json!({"card_ids": [f.card]})),
            GRANTORS,
        ),
        row_of(
            "POST",
            ent_path("devices/authorize"),
            |f: &F, _| Some(json!({"device_ids": [f.device]})),
            GRANTORS,
        ),
        row_of(
            "POST",
            ent_path("devices/revoke"),
            |f: &F, _| Some(json!({"device_ids": [f.device]})),
            GRANTORS,
        ),
        row_of(
            "GET",
            |_, _| "/api/admin/authorizations".into(),
            none,
            [Allow, Allow, Allow, Allow, Allow, Deny],
        ),
    ];
    let failures = run(&app, &cast.tokens(), &f, &rows).await;
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for path in [
        "/api/admin/authorizations",
        "/api/admin/enterprises/1/cards",
    ] {
        app.call("GET", path, None, None).await.err(401, 1004);
    }
}
