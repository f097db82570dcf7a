//! Permission matrix over every asset-inventory route: super admin, platform, an
//! agent at L1, an agent at L3 below it, a sibling L1 agent and an enterprise
//! account (authorised nothing here: its lists are empty; `authorization_matrix`
//! covers its authorised assets). The objects acted on belong to shop B (L2, under
//! the L1 agent).

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::helpers::actors::Actors;
use crate::helpers::assets::{
    all, cards_csv, carrier, iccid, import_cards, import_devices, upload,
};
use crate::helpers::{spawn_app, TestApp};
use crate::matrix::{
    none, row_of, run, Allow, Code, Deny, Exp, Hidden, Row, ALL_ADMIN_BUT_ENT, EVERYONE,
    PLATFORM_ONLY,
};

/// Out of scope for an asset: the agents below or beside B get "asset not found".
const ASSET_SCOPED: [Exp; 6] = [Allow, Allow, Allow, Code(404, 1180), Code(404, 1180), Deny];

struct F {
    a: u64,
    b: u64,
    card: HashMap<u64, u64>,
    device: HashMap<u64, u64>,
    card_task: u64,
    device_task: u64,
    record: String,
    card_files: Vec<String>,
    device_files: Vec<String>,
    own_files: Vec<String>,
}

fn row(
    method: &'static str,
    path: impl Fn(&F, usize) -> String + 'static,
    body: impl Fn(&F, usize) -> Option<Value> + 'static,
    expect: [Exp; 6],
) -> Row<F> {
    row_of(method, path, body, expect)
}

fn dv(n: u64) -> String {
    format!("DV-{n}")
}

async fn setup(app: &TestApp) -> (Vec<String>, F) {
    let cast = Actors::new(app).await;
    let (sa, a, b) = (cast.sa.clone(), cast.a, cast.b);
    carrier(app, &sa).await;
    let tokens = cast.tokens();

    // Cards 1..=60 and devices in platform stock; devices 41..=46 hold cards 51..=56.
    let task = import_cards(app, &sa, &cards_csv(1, 61), json!({})).await;
    let card_task = task["id"].as_u64().unwrap();
    let mut csv = String::from("virtual_no,max_sim_slots,iccid_1\n");
    for n in [
        1, 11, 12, 13, 14, 15, 16, 21, 22, 23, 24, 25, 26, 31, 32, 33, 34, 35, 36, 51, 52, 53, 61,
        62, 63, 64, 65, 66,
    ] {
        csv.push_str(&format!("{},2,\n", dv(n)));
    }
    for i in 0..6 {
        csv.push_str(&format!("{},2,{}\n", dv(41 + i), iccid(51 + i)));
    }
    let device_task = import_devices(app, &sa, &csv).await;

    // Platform → A → B, keeping a few in platform stock and in A's own stock.
    let cards_to_a: Vec<String> = [1]
        .iter()
        .chain(&[11, 12, 13, 14, 15, 16])
        .chain(&[21, 22, 23, 24, 25, 26])
        .chain(&[33])
        .chain(&[41, 42, 43, 44, 45, 46])
        .map(|n| iccid(*n))
        .collect();
    let r = app
        .post(
            "/api/admin/iot-cards/allocate",
            &sa,
            json!({"to_shop_id": a, "iccids": cards_to_a}),
        )
        .await;
    assert_eq!(r.ok()["failed"], json!([]));
    let cards_to_b: Vec<String> = cards_to_a_without(&[33]);
    let r = app
        .post(
            "/api/admin/iot-cards/allocate",
            &tokens[2],
            json!({"to_shop_id": b, "iccids": cards_to_b}),
        )
        .await;
    assert_eq!(r.ok()["failed"], json!([]));
    let devices_to_a: Vec<String> = [
        1, 11, 12, 13, 14, 15, 16, 21, 22, 23, 24, 25, 26, 31, 32, 33, 34, 35, 36, 41, 42, 43, 44,
        45, 46, 53, 61, 62, 63, 64, 65, 66,
    ]
    .iter()
    .map(|n| dv(*n))
    .collect();
    let r = app
        .post(
            "/api/admin/devices/allocate",
            &sa,
            json!({"to_shop_id": a, "virtual_nos": devices_to_a.clone()}),
        )
        .await;
    assert_eq!(r.ok()["failed"], json!([]));
    let devices_to_b: Vec<String> = devices_to_a.into_iter().filter(|d| d != &dv(53)).collect();
    let r = app
        .post(
            "/api/admin/devices/allocate",
            &tokens[2],
            json!({"to_shop_id": b, "virtual_nos": devices_to_b}),
        )
        .await;
    assert_eq!(r.ok()["failed"], json!([]));

    let card: HashMap<u64, u64> = all(app, &sa, "/api/admin/iot-cards")
        .await
        .iter()
        .map(|c| {
            (
                c["iccid"].as_str().unwrap()[4..].parse::<u64>().unwrap(),
                c["id"].as_u64().unwrap(),
            )
        })
        .collect();
    let device: HashMap<u64, u64> = all(app, &sa, "/api/admin/devices")
        .await
        .iter()
        .map(|d| {
            (
                d["virtual_no"].as_str().unwrap()[3..]
                    .parse::<u64>()
                    .unwrap(),
                d["id"].as_u64().unwrap(),
            )
        })
        .collect();
    let records = all(
        app,
        &tokens[2],
        &format!("/api/admin/asset-allocation-records?to_shop_id={b}"),
    )
    .await;
    let record = records[0]["id"].as_str().unwrap().to_string();
    let mut f = F {
        a,
        b,
        card,
        device,
        card_task,
        device_task,
        record,
        card_files: vec![],
        device_files: vec![],
        own_files: vec![],
    };
    for (i, token) in tokens.iter().enumerate() {
        f.own_files.push(upload(app, token, "export", "x").await);
        if i < 2 {
            f.card_files.push(
                upload(
                    app,
                    token,
                    "iot_card_import",
                    &cards_csv(100 + i as u64, 101 + i as u64),
                )
                .await,
            );
            f.device_files.push(
                upload(
                    app,
                    token,
                    "device_import",
                    &format!("virtual_no\nNEW-{i}\n"),
                )
                .await,
            );
        } else {
            f.card_files
                .push("uploads/iot_card_import/0/none.csv".into());
            f.device_files
                .push("uploads/device_import/0/none.csv".into());
        }
    }
    (tokens, f)
}

fn cards_to_a_without(skip: &[u64]) -> Vec<String> {
    [
        1, 11, 12, 13, 14, 15, 16, 21, 22, 23, 24, 25, 26, 33, 41, 42, 43, 44, 45, 46,
    ]
    .iter()
    .filter(|n| !skip.contains(n))
    .map(|n| iccid(*n))
    .collect()
}

fn rows() -> Vec<Row<F>> {
    let i = |n: usize| n as u64;
    vec![
        // admin-iot-cards
        row("GET", |_, _| "/api/admin/iot-cards".into(), none, EVERYONE),
        row(
            "GET",
            |_, _| "/api/admin/iot-cards/standalone".into(),
            none,
            EVERYONE,
        ),
        row(
            "PUT",
            |f, _| format!("/api/admin/iot-cards/{}", f.card[&1]),
            |_, _| Some(json!({"remark": "checked"})),
            ASSET_SCOPED,
        ),
        row(
            "PATCH",
            move |f, n| format!("/api/admin/iot-cards/{}/deactivate", f.card[&(11 + i(n))]),
            none,
            ASSET_SCOPED,
        ),
        row(
            "POST",
            |_, _| "/api/admin/iot-cards/allocate".into(),
            move |f, n| {
                Some(match n {
                    0 | 1 => json!({"to_shop_id": f.a, "iccids": [iccid(31 + i(n))]}),
                    _ => json!({"to_shop_id": f.b, "iccids": [iccid(33)]}),
                })
            },
            [Allow, Allow, Allow, Hidden, Hidden, Deny],
        ),
        row(
            "POST",
            |_, _| "/api/admin/iot-cards/recall".into(),
            move |_, n| Some(json!({"iccids": [iccid(21 + i(n))]})),
            [Allow, Allow, Allow, Allow, Allow, Deny],
        ),
        row(
            "POST",
            |_, _| "/api/admin/iot-cards/import".into(),
            |f, n| Some(json!({"file_key": f.card_files[n]})),
            PLATFORM_ONLY,
        ),
        row(
            "GET",
            |_, _| "/api/admin/iot-cards/import/tasks".into(),
            none,
            PLATFORM_ONLY,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/iot-cards/import/tasks/{}", f.card_task),
            none,
            PLATFORM_ONLY,
        ),
        // admin-devices
        row("GET", |_, _| "/api/admin/devices".into(), none, EVERYONE),
        row(
            "PUT",
            |f, _| format!("/api/admin/devices/{}", f.device[&1]),
            |_, _| Some(json!({"device_name": "Router"})),
            ASSET_SCOPED,
        ),
        row(
            "DELETE",
            move |f, n| format!("/api/admin/devices/{}", f.device[&(21 + i(n))]),
            none,
            [Allow, Allow, Deny, Deny, Deny, Deny],
        ),
        row(
            "PATCH",
            move |f, n| format!("/api/admin/devices/{}/deactivate", f.device[&(11 + i(n))]),
            none,
            ASSET_SCOPED,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/devices/{}/cards", f.device[&1]),
            none,
            ASSET_SCOPED,
        ),
        row(
            "POST",
            move |f, n| format!("/api/admin/devices/{}/cards", f.device[&(31 + i(n))]),
            move |f, n| Some(json!({"iot_card_id": f.card[&(41 + i(n))], "slot_position": 1})),
            ASSET_SCOPED,
        ),
        row(
            "DELETE",
            move |f, n| {
                format!(
                    "/api/admin/devices/{}/cards/{}",
                    f.device[&(41 + i(n))],
                    f.card[&(51 + i(n))]
                )
            },
            none,
            ASSET_SCOPED,
        ),
        row(
            "POST",
            |_, _| "/api/admin/devices/allocate".into(),
            move |f, n| {
                Some(match n {
                    0 | 1 => json!({"to_shop_id": f.a, "virtual_nos": [dv(51 + i(n))]}),
                    _ => json!({"to_shop_id": f.b, "virtual_nos": [dv(53)]}),
                })
            },
            [Allow, Allow, Allow, Hidden, Hidden, Deny],
        ),
        row(
            "POST",
            |_, _| "/api/admin/devices/recall".into(),
            move |_, n| Some(json!({"virtual_nos": [dv(61 + i(n))]})),
            [Allow, Allow, Allow, Allow, Allow, Deny],
        ),
        row(
            "POST",
            |_, _| "/api/admin/devices/import".into(),
            |f, n| Some(json!({"file_key": f.device_files[n]})),
            PLATFORM_ONLY,
        ),
        row(
            "GET",
            |_, _| "/api/admin/devices/import/tasks".into(),
            none,
            PLATFORM_ONLY,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/devices/import/tasks/{}", f.device_task),
            none,
            PLATFORM_ONLY,
        ),
        // admin-asset-allocations
        row(
            "GET",
            |_, _| "/api/admin/asset-allocation-records".into(),
            none,
            ALL_ADMIN_BUT_ENT,
        ),
        row(
            "GET",
            |f, _| format!("/api/admin/asset-allocation-records/{}", f.record),
            none,
            [Allow, Allow, Allow, Hidden, Hidden, Deny],
        ),
        // admin-storage
        row(
            "POST",
            |_, _| "/api/admin/storage/upload-url".into(),
            |_, _| Some(json!({"file_name": "a.csv", "size": 10, "purpose": "iot_card_import"})),
            EVERYONE,
        ),
        row(
            "GET",
            |f, n| {
                format!(
                    "/api/admin/storage/download-url?file_key={}",
                    f.own_files[n]
                )
            },
            none,
            EVERYONE,
        ),
        // admin-assets
        row(
            "GET",
            |_, _| format!("/api/admin/assets/resolve/{}", iccid(1)),
            none,
            [Allow, Allow, Allow, Deny, Deny, Deny],
        ),
    ]
}

#[tokio::test]
async fn every_asset_route_for_every_kind_of_caller() {
    let app = spawn_app().await;
    let (tokens, f) = setup(&app).await;
    let failures = run(&app, &tokens, &f, &rows()).await;
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The refused recalls moved nothing; the allowed ones moved exactly their card.
    let stock = all(&app, &tokens[0], "/api/admin/iot-cards?shop_id=0").await;
    let back: Vec<String> = stock
        .iter()
        .map(|c| c["iccid"].as_str().unwrap().to_string())
        .collect();
    for n in [21, 22] {
        assert!(
            back.contains(&iccid(n)),
            "platform recalls land in platform stock"
        );
    }
    for n in [24, 25] {
        assert!(
            !back.contains(&iccid(n)),
            "L3 and sibling agents cannot recall card {n}"
        );
    }
    // A card nobody may see stays hidden from a sibling's download of others' files.
    let other = app
        .get(
            &format!(
                "/api/admin/storage/download-url?file_key={}",
                f.own_files[0]
            ),
            &tokens[4],
        )
        .await;
    other.err(404, 1002);
}
