//! Asset lists and records against the spec: platform-wide (sharded) cursor pages
//! are full, batch-move failures name the asset's identifier field, cards carry
//! `is_replaced`, allocation records filter by a date range.

use std::collections::HashSet;

use serde_json::{json, Value};
use shared::clock::rfc3339;

use crate::helpers::assets::{admin_with_cards, all, iccid, import_devices};
use crate::helpers::{spawn_app, TestApp};

/// Walks a cursor list with `page_size`; returns every page's items, checking that
/// each page but the last is full.
async fn pages(app: &TestApp, token: &str, path: &str, page_size: usize) -> Vec<Vec<Value>> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}page_size={page_size}&cursor={c}"),
            None => format!("{path}{sep}page_size={page_size}"),
        };
        let r = app.get(&url, token).await;
        let list = r.ok()["list"].as_array().unwrap().clone();
        let next = r.data()["next_cursor"].as_str().map(str::to_string);
        if next.is_some() {
            assert_eq!(list.len(), page_size, "{url}: a page with a cursor is full");
        }
        out.push(list);
        match next {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
    panic!("too many pages");
}

/// Every value of `field` over all pages, asserting none repeats.
fn distinct(pages: &[Vec<Value>], field: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    for item in pages.iter().flatten() {
        let v = item[field].as_str().unwrap().to_string();
        assert!(seen.insert(v.clone()), "{v} listed twice");
    }
    seen
}

#[tokio::test]
async fn platform_pages_are_filled_across_shards_and_resume_exactly() {
    let app = spawn_app().await;
    // 40 cards over 16 shards: about 2.5 per shard.
    let admin = admin_with_cards(&app, 40).await;
    let role = app.customer_role(&admin, "r").await;
    let a = app.shop(&admin, "A", None, role).await;
    let every: HashSet<String> = (1..41).map(iccid).collect();
    for path in ["/api/admin/iot-cards", "/api/admin/iot-cards?shop_id=0"] {
        let one = pages(&app, &admin, path, 100).await;
        assert_eq!(one.len(), 1, "{path}: one page holds everything");
        assert_eq!(one[0].len(), 40, "{path}");
        for size in [1, 2, 7, 40] {
            let walked = pages(&app, &admin, path, size).await;
            assert_eq!(distinct(&walked, "iccid"), every, "{path} by {size}");
        }
    }

    // 40 records (one per card), also over 16 shards.
    let r = app
        .post(
            "/api/admin/iot-cards/allocate",
            &admin,
            json!({"to_shop_id": a, "iccid_start": iccid(1), "iccid_end": iccid(40)}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 40);
    let path = "/api/admin/asset-allocation-records";
    let one = pages(&app, &admin, path, 100).await;
    assert_eq!(
        (one.len(), one[0].len()),
        (1, 40),
        "a platform page of 100 holds all 40 records"
    );
    let ids = distinct(&one, "id");
    for size in [3, 16] {
        assert_eq!(distinct(&pages(&app, &admin, path, size).await, "id"), ids);
    }
    // A filter that drops items still pages without repeats or gaps.
    let odd: Vec<String> = (1..41).step_by(2).map(iccid).collect();
    let agent = app.agent("A").await;
    let r = app
        .post(
            "/api/admin/iot-cards/recall",
            &admin,
            json!({"iccids": odd}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 20);
    let recalls = pages(&app, &admin, &format!("{path}?operation=recall"), 6).await;
    assert_eq!(distinct(&recalls, "id").len(), 20);
    let seen = pages(&app, &agent, &format!("{path}?operation=allocate"), 6).await;
    assert_eq!(distinct(&seen, "id").len(), 40);
}

#[tokio::test]
async fn batch_move_failures_name_iccids_for_cards_and_virtual_numbers_for_devices() {
    let app = spawn_app().await;
    let admin = admin_with_cards(&app, 1).await;
    let role = app.customer_role(&admin, "r").await;
    let a = app.shop(&admin, "A", None, role).await;
    import_devices(&app, &admin, "virtual_no\nDV-1\nDV-2\n").await;

    let r = app
        .post(
            "/api/admin/devices/allocate",
            &admin,
            json!({"to_shop_id": a, "virtual_nos": ["DV-1", "DV-9"]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 1);
    assert_eq!(
        r.data()["failed"],
        json!([{"virtual_no": "DV-9", "reason": "not found"}])
    );
    let r = app
        .post(
            "/api/admin/devices/recall",
            &admin,
            json!({"virtual_nos": ["DV-1", "DV-2"]}),
        )
        .await;
    assert_eq!(r.ok()["success_count"], 1);
    assert_eq!(
        r.data()["failed"],
        json!([{"virtual_no": "DV-2", "reason": "in platform stock already"}])
    );
    let r = app
        .post(
            "/api/admin/iot-cards/recall",
            &admin,
            json!({"iccids": [iccid(1)]}),
        )
        .await;
    assert_eq!(
        r.ok()["failed"],
        json!([{"iccid": iccid(1), "reason": "in platform stock already"}])
    );
    // One way of naming the assets per request; a range runs upwards.
    for body in [
        json!({"virtual_nos": ["DV-1"], "virtual_no_start": "DV-1", "virtual_no_end": "DV-2"}),
        json!({"virtual_no_start": "DV-2", "virtual_no_end": "DV-1"}),
        json!({"virtual_no_start": "DV-1"}),
    ] {
        app.post("/api/admin/devices/recall", &admin, body)
            .await
            .err(400, 1001);
    }
}

#[tokio::test]
async fn cards_are_listed_as_not_replaced_until_exchanges_exist() {
    let app = spawn_app().await;
    let admin = admin_with_cards(&app, 3).await;
    for path in ["/api/admin/iot-cards", "/api/admin/iot-cards/standalone"] {
        let cards = all(&app, &admin, path).await;
        assert_eq!(cards.len(), 3);
        assert!(cards.iter().all(|c| c["is_replaced"] == false), "{path}");
        let replaced = app.get(&format!("{path}?is_replaced=true"), &admin).await;
        assert_eq!(replaced.ok()["list"], json!([]));
        assert!(replaced.data()["next_cursor"].is_null());
        assert_eq!(
            all(&app, &admin, &format!("{path}?is_replaced=false"))
                .await
                .len(),
            3
        );
    }
    let one = app
        .get(&format!("/api/admin/iot-cards?iccid={}", iccid(2)), &admin)
        .await;
    assert_eq!(one.ok()["list"][0]["is_replaced"], false);
}

#[tokio::test]
async fn allocation_records_filter_by_a_date_range() {
    let app = spawn_app().await;
    let admin = admin_with_cards(&app, 5).await;
    let role = app.customer_role(&admin, "r").await;
    let a = app.shop(&admin, "A", None, role).await;
    let allocate = |token: String, cards: Vec<u64>| {
        let app = &app;
        async move {
            let iccids: Vec<String> = cards.into_iter().map(iccid).collect();
            let r = app
                .post(
                    "/api/admin/iot-cards/allocate",
                    &token,
                    json!({"to_shop_id": a, "iccids": iccids}),
                )
                .await;
            assert_eq!(r.ok()["failed"], json!([]));
        }
    };
    // Three moves on day 1, two on day 3.
    let day1 = rfc3339(app.state.clock.now());
    allocate(admin.clone(), vec![1, 2, 3]).await;
    app.state.clock.advance(2 * 86_400);
    let admin = app.admin().await;
    let agent = app.agent("A").await;
    let day3 = rfc3339(app.state.clock.now());
    allocate(admin.clone(), vec![4, 5]).await;
    let (d1, d3) = (&day1[..10], &day3[..10]);

    let count = |token: String, query: String| {
        let app = &app;
        async move {
            let path = format!("/api/admin/asset-allocation-records?{query}");
            pages(app, &token, &path, 2).await.concat().len()
        }
    };
    for token in [admin.clone(), agent.clone()] {
        assert_eq!(count(token.clone(), String::new()).await, 5);
        assert_eq!(
            count(token.clone(), format!("start_time={d1}&end_time={d1}")).await,
            3
        );
        assert_eq!(count(token.clone(), format!("start_time={d3}")).await, 2);
        assert_eq!(count(token.clone(), format!("end_time={d1}")).await, 3);
        assert_eq!(
            count(token.clone(), format!("start_time={d1}&end_time={d3}")).await,
            5
        );
        // A time in the business time zone, and an RFC 3339 instant (`+` encoded).
        let local = format!("{d3}%20{}", &day3[11..19]);
        assert_eq!(count(token.clone(), format!("start_time={local}")).await, 2);
        let exact = day3.replace('+', "%2B");
        assert_eq!(count(token.clone(), format!("start_time={exact}")).await, 2);
    }
    for query in [
        format!("start_time={d3}&end_time={d1}"),
        "start_time=yesterday".to_string(),
        "end_time=2026-02-30".to_string(),
        "operation=move".to_string(),
    ] {
        app.get(
            &format!("/api/admin/asset-allocation-records?{query}"),
            &admin,
        )
        .await
        .err(400, 1001);
    }
}
