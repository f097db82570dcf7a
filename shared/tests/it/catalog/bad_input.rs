//! Bad catalogue input against the emulator: refused series, packages and grants
//! write nothing.

use serde_json::{json, Value};

use super::{chain, package, package_body, series};
use crate::helpers::spawn_app;

#[tokio::test]
async fn bad_catalogue_input_writes_nothing() {
    let app = spawn_app().await;
    let ch = chain(&app).await;
    let tiered = series(
        &app,
        &ch.sa,
        json!({"series_name": "T", "series_code": "T", "commission_type": "tiered",
               "tiers": [{"threshold": 10, "amount": 1}, {"threshold": 20, "amount": 2}]}),
    )
    .await;
    let p = package(&app, &ch.sa, "P", ch.series).await;
    let before = app.table.entity_keys().await;
    let series_cases = [
        json!({"series_name": "X", "series_code": "X", "commission_type": "tiered", "tiers": [{"operator": "==", "threshold": 1, "amount": 1}]}),
        json!({"series_name": "X", "series_code": "X", "commission_type": "tiered", "tiers": []}),
        json!({"series_name": "X", "series_code": "X", "commission_type": "tiered", "tiers": [{"threshold": 1, "amount": 1}, {"threshold": 1, "amount": 2}]}),
        json!({"series_name": "X", "series_code": "X", "commission_type": "fixed", "commission_amount": -1}),
        json!({"series_name": "X", "series_code": "X", "commission_type": "fixed", "commission_amount": 1e20}),
        json!({"series_name": "X", "series_code": "X", "commission_type": "fixed", "commission_amount": 1_000_000_000_001i64}),
        json!({"series_name": "X", "series_code": "X", "commission_type": "percent"}),
        json!({"series_name": "X", "series_code": "X", "one_time_commission_trigger": "monthly"}),
    ];
    for body in series_cases {
        let r = app
            .post("/api/admin/package-series", &ch.sa, body.clone())
            .await;
        r.err(400, 1001);
    }
    let pkg = |patch: Value| {
        let mut b = package_body("Y", ch.series);
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    let package_cases = [
        pkg(json!({"virtual_data_mb": 10241})),
        pkg(json!({"virtual_data_mb": 0})),
        pkg(json!({"duration_months": null})),
        pkg(json!({"duration_months": 0})),
        pkg(json!({"calendar_type": "by_day"})),
        pkg(json!({"calendar_type": "weekly"})),
        pkg(json!({"suggested_retail_price": -1})),
        pkg(json!({"cost_price": 1e30})),
        pkg(json!({"real_data_mb": -5})),
        pkg(json!({"data_reset_cycle": null})),
        pkg(json!({"package_type": "main"})),
        pkg(json!({"has_independent_expiry": true})),
        pkg(json!({"package_series_id": 9999})),
    ];
    for body in package_cases {
        app.post("/api/admin/packages", &ch.sa, body.clone())
            .await
            .err(400, 1001);
    }
    let grant_cases = [
        (
            json!({"shop_id": ch.a, "series_id": tiered, "commission_tiers": [{"threshold": 10, "amount": 1}]}),
            400,
            1045,
        ),
        (
            json!({"shop_id": ch.a, "series_id": tiered, "commission_tiers": [{"threshold": 10, "amount": 1}, {"threshold": 20, "amount": 1}, {"threshold": 30, "amount": 1}]}),
            400,
            1045,
        ),
        (
            json!({"shop_id": ch.a, "series_id": tiered, "commission_tiers": [{"threshold": 10, "amount": -1}, {"threshold": 20, "amount": 1}]}),
            400,
            1001,
        ),
        (
            json!({"shop_id": ch.a, "series_id": ch.series, "one_time_commission_amount": -1}),
            400,
            1001,
        ),
        (
            json!({"shop_id": ch.a, "series_id": ch.series, "one_time_commission_amount": 1e25}),
            400,
            1001,
        ),
        (
            json!({"shop_id": ch.a, "series_id": ch.series, "one_time_commission_amount": 1, "packages": [{"package_id": p, "cost_price": -5}]}),
            400,
            1001,
        ),
        (
            json!({"shop_id": ch.a, "series_id": ch.series, "one_time_commission_amount": 1, "packages": [{"package_id": p}]}),
            400,
            1001,
        ),
        (
            json!({"shop_id": ch.a, "series_id": tiered, "commission_tiers": [{"threshold": 10, "amount": 1}, {"threshold": 20, "amount": 1}], "packages": [{"package_id": p, "cost_price": 1}]}),
            400,
            1052,
        ),
        (
            json!({"shop_id": ch.a, "series_id": ch.series, "one_time_commission_amount": 1, "packages": [{"package_id": p, "cost_price": 1}, {"package_id": p, "cost_price": 2}]}),
            400,
            1001,
        ),
        (
            json!({"shop_id": ch.b, "series_id": ch.series, "one_time_commission_amount": 1}),
            400,
            1035,
        ),
        (
            json!({"shop_id": ch.a, "series_id": 9999, "one_time_commission_amount": 1}),
            404,
            1002,
        ),
    ];
    for (body, status, code) in grant_cases {
        app.post("/api/admin/shop-series-grants", &ch.sa, body.clone())
            .await
            .err(status, code);
    }
    assert_eq!(app.table.entity_keys().await, before, "nothing written");
    // Package fields: virtual ratio stored with 6 decimals, by-day zeroes months.
    let r = app
        .post("/api/admin/packages", &ch.sa, pkg(json!({"package_code": "Z", "real_data_mb": 1000, "virtual_data_mb": 3, "calendar_type": "by_day", "duration_days": 30})))
        .await;
    let r = r.ok();
    assert_eq!(r["virtual_ratio"], json!(333.333333));
    assert_eq!(
        (r["duration_days"].clone(), r["duration_months"].clone()),
        (json!(30), json!(0))
    );
    // Series in use cannot be deleted; package in use neither.
    app.delete(&format!("/api/admin/package-series/{}", ch.series), &ch.sa)
        .await
        .err(409, 1050);
}
