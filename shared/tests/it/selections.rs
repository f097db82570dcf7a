//! Allocation and recall by batch number and identifier range: exactly the selected
//! assets move, each selection is read by key condition, and what a selection costs
//! (DynamoDB calls and items read) does not grow with unrelated stock.

use std::collections::HashSet;

use serde_json::{json, Value};

use shared::domain::assets::{IdentifierKind, IotCard};

use crate::helpers::assets::{all, carrier, iccid, import_cards, import_devices};
use crate::helpers::{spawn_app, TestApp};

/// A card CSV: one row per `(card number, batch)`.
fn csv(rows: impl IntoIterator<Item = (u64, &'static str)>) -> String {
    let mut csv = String::from("iccid,msisdn,carrier_code,batch_no\n");
    for (i, batch) in rows {
        csv.push_str(&format!(
            "{},{},CMCC,{batch}\n",
            iccid(i),
            13_800_000_000 + i
        ));
    }
    csv
}

fn set(numbers: impl IntoIterator<Item = u64>) -> HashSet<String> {
    numbers.into_iter().map(iccid).collect()
}

/// The shop tree and tokens of the test.
struct Setup {
    admin: String,
    agent_a: String,
    a: u64,
    b: u64,
}

/// What one move request did and cost.
#[derive(Debug, PartialEq, Eq)]
struct Cost {
    step: &'static str,
    moved: u64,
    calls: usize,
    items_read: usize,
}

async fn step(app: &TestApp, step: &'static str, token: &str, path: &str, body: Value) -> Cost {
    let r = app.post(path, token, body).await;
    let moved = r.ok()["success_count"].as_u64().unwrap();
    Cost {
        step,
        moved,
        calls: r.ddb_calls(),
        items_read: r.ddb_items_read(),
    }
}

/// The cards among `tracked` that shop `shop` holds itself (0 = platform stock), as
/// stored.
async fn own(app: &TestApp, shop: u64, tracked: &HashSet<String>) -> HashSet<String> {
    let wanted: Vec<String> = tracked.iter().cloned().collect();
    let cards: Vec<IotCard> = app
        .state
        .store
        .assets_by_identifier(IdentifierKind::Iccid, &wanted)
        .await
        .unwrap();
    assert_eq!(cards.len(), wanted.len());
    cards
        .into_iter()
        .filter(|c| c.shop_id.unwrap_or(0) == shop)
        .map(|c| c.iccid)
        .collect()
}

/// Batch BA (cards 1..=30) and the range of batch BB (9986..=10015, two buckets)
/// go down to B and back up to platform stock, by batch and by range; after each
/// step exactly the selected cards are where they should be.
async fn round_trips(app: &TestApp, s: &Setup) -> Vec<Cost> {
    const ALLOC: &str = "/api/admin/iot-cards/allocate";
    const RECALL: &str = "/api/admin/iot-cards/recall";
    let ba = set(1..=30);
    let bb = set(9986..=10015);
    let tracked: HashSet<String> = set((1..=30).chain(9986..=10025).chain(20001..=20010));
    let mut costs = Vec::new();

    costs.push(
        step(
            app,
            "platform allocates BA",
            &s.admin,
            ALLOC,
            json!({"to_shop_id": s.a, "batch_no": "BA"}),
        )
        .await,
    );
    assert_eq!(own(app, s.a, &tracked).await, ba);
    costs.push(
        step(
            app,
            "A allocates BA",
            &s.agent_a,
            ALLOC,
            json!({"to_shop_id": s.b, "batch_no": "BA"}),
        )
        .await,
    );
    assert_eq!(own(app, s.b, &tracked).await, ba);
    assert!(own(app, s.a, &tracked).await.is_empty());
    costs.push(
        step(
            app,
            "A recalls BA",
            &s.agent_a,
            RECALL,
            json!({"batch_no": "BA"}),
        )
        .await,
    );
    assert_eq!(own(app, s.a, &tracked).await, ba);
    costs.push(
        step(
            app,
            "platform recalls BA",
            &s.admin,
            RECALL,
            json!({"batch_no": "BA"}),
        )
        .await,
    );
    assert!(own(app, s.a, &tracked).await.is_empty());

    // The range is exactly BB; the wider ranges below also cover the decoys
    // 10016..=10025 in platform stock (and numbers no card has).
    let range = json!({"to_shop_id": s.a, "iccid_start": iccid(9986), "iccid_end": iccid(10015)});
    costs.push(step(app, "platform allocates a range", &s.admin, ALLOC, range).await);
    assert_eq!(own(app, s.a, &tracked).await, bb);
    let wide = |to: Option<u64>| {
        let mut body = json!({"iccid_start": iccid(9900), "iccid_end": iccid(10100)});
        if let Some(to) = to {
            body["to_shop_id"] = json!(to);
        }
        body
    };
    costs.push(
        step(
            app,
            "A allocates a range",
            &s.agent_a,
            ALLOC,
            wide(Some(s.b)),
        )
        .await,
    );
    assert_eq!(own(app, s.b, &tracked).await, bb);
    costs.push(step(app, "A recalls a range", &s.agent_a, RECALL, wide(None)).await);
    assert_eq!(own(app, s.a, &tracked).await, bb);
    costs.push(
        step(
            app,
            "platform recalls a range",
            &s.admin,
            RECALL,
            wide(None),
        )
        .await,
    );
    assert!(own(app, s.a, &tracked).await.is_empty());
    assert_eq!(own(app, 0, &tracked).await, tracked, "everything is back");
    costs
}

#[tokio::test]
async fn batch_and_range_moves_cost_what_they_select_whatever_else_is_stocked() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    // BA: 1..=30; BB: 9986..=10015 (buckets 0 and 1); decoys of batch BC right after
    // BB and far away.
    let rows = (1..=30)
        .map(|i| (i, "BA"))
        .chain((9986..=10015).map(|i| (i, "BB")))
        .chain((10016..=10025).chain(20001..=20270).map(|i| (i, "BC")));
    let task = import_cards(&app, &admin, &csv(rows), json!({})).await;
    assert_eq!(task["success_count"], 340, "{task}");
    let role = app.customer_role(&admin, "r").await;
    let a = app.shop(&admin, "A", None, role).await;
    let b = app.shop(&admin, "B", Some(a), role).await;
    let d = app.shop(&admin, "D", None, role).await;
    let s = Setup {
        agent_a: app.agent("A").await,
        admin,
        a,
        b,
    };

    let before = round_trips(&app, &s).await;
    for c in &before {
        assert_eq!(c.moved, 30, "{c:?}");
        // Auth, the target (or own) shop, the selection: one Query per bucket (the
        // platform's and a recall's range spans two), never 16 shards; then one
        // transaction per card.
        assert!(c.calls <= 30 + 4, "{c:?}");
    }

    // 300 unrelated cards of another batch and range, in platform stock and in the
    // stock of A, B and D.
    let unrelated = csv((50_001..=50_300).map(|i| (i, "BZ")));
    let task = import_cards(&app, &s.admin, &unrelated, json!({})).await;
    assert_eq!(task["success_count"], 300);
    let give = |token: &str, to: u64, from: u64, until: u64| {
        let body = json!({"to_shop_id": to, "iccid_start": iccid(from), "iccid_end": iccid(until)});
        (token.to_string(), body)
    };
    for (token, body) in [
        give(&s.admin, s.a, 50_001, 50_060),
        give(&s.admin, d, 50_061, 50_080),
        give(&s.agent_a, s.b, 50_001, 50_020),
    ] {
        let r = app
            .post("/api/admin/iot-cards/allocate", &token, body)
            .await;
        assert!(r.ok()["success_count"].as_u64().unwrap() > 0);
    }

    let after = round_trips(&app, &s).await;
    assert_eq!(
        after, before,
        "selections cost the same with 300 more cards"
    );
}

#[tokio::test]
async fn ranges_that_cannot_be_read_by_key_are_refused_and_devices_move_by_batch_and_range() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    carrier(&app, &admin).await;
    import_cards(&app, &admin, &csv([(1, "B1")]), json!({})).await;
    let role = app.customer_role(&admin, "r").await;
    let a = app.shop(&admin, "A", None, role).await;
    for (start, end, why) in [
        (iccid(1), format!("{}0", iccid(2)), "lengths differ"),
        (iccid(1), iccid(10_000_000), "1001 buckets"),
        (
            "DVA00001".to_string(),
            "DVB00001".to_string(),
            "letters differ",
        ),
    ] {
        let body = json!({"to_shop_id": a, "iccid_start": start, "iccid_end": end});
        let r = app
            .post("/api/admin/iot-cards/allocate", &admin, body)
            .await;
        r.err(400, 1001);
        assert!(r.ddb_calls() <= 2, "{why}: refused before reading assets");
    }
    // 1000 buckets are fine (nothing in them here but card 1).
    let r = app
        .post(
            "/api/admin/iot-cards/recall",
            &admin,
            json!({"iccid_start": iccid(1), "iccid_end": iccid(9_999_999)}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 0);

    import_devices(
        &app,
        &admin,
        "virtual_no,batch_no\nDV-0001,DB\nDV-0002,DB\nDV-0003,DC\nDV-0004,\ndv-0005,\n",
    )
    .await;
    let r = app
        .post(
            "/api/admin/devices/allocate",
            &admin,
            json!({"to_shop_id": a, "batch_no": "DB"}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 2, "{}", r.body);
    let held = |list: Vec<Value>| {
        list.iter()
            .map(|d| d["virtual_no"].as_str().unwrap().to_string())
            .collect::<HashSet<_>>()
    };
    let agent = app.agent("A").await;
    let mine = held(all(&app, &agent, "/api/admin/devices").await);
    assert_eq!(mine, HashSet::from(["DV-0001".into(), "DV-0002".into()]));
    // A range over all four: the platform recalls only what shops hold.
    let r = app
        .post(
            "/api/admin/devices/recall",
            &admin,
            json!({"virtual_no_start": "DV-0001", "virtual_no_end": "DV-0004"}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 2, "{}", r.body);
    assert_eq!(r.data()["failed"], json!([]));
    let r = app
        .post(
            "/api/admin/devices/allocate",
            &admin,
            json!({"to_shop_id": a, "virtual_no_start": "DV-0002", "virtual_no_end": "DV-0003"}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 2);
    let mine = held(all(&app, &agent, "/api/admin/devices").await);
    assert_eq!(mine, HashSet::from(["DV-0002".into(), "DV-0003".into()]));
    // Virtual numbers keep their case in a range, as they are stored.
    let r = app
        .post(
            "/api/admin/devices/allocate",
            &admin,
            json!({"to_shop_id": a, "virtual_no_start": "dv-0005", "virtual_no_end": "dv-0005"}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 1, "{}", r.body);
}
