//! The OpenAPI document against the running router: it is served, the docs page
//! loads it, and every documented path answers exactly its documented methods (an
//! undocumented method on a documented path is "method not allowed", so the router
//! has no operation the document lacks; `api::openapi` checks the document against
//! the access table, and `api::access` every routed path against that table).

use serde_json::Value;
use shared::api::openapi;

use crate::helpers::{spawn_app, ADMIN_PASSWORD};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

#[tokio::test]
async fn the_served_document_is_the_generated_one_and_the_router_has_nothing_more() {
    let app = spawn_app().await;
    let served = app.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(served.status, 200);
    let generated: Value = serde_json::from_str(openapi::json()).unwrap();
    assert_eq!(served.body, generated);
    assert_eq!(served.body["openapi"], "3.1.0");

    let page = app.raw_get("/api/docs").await;
    assert!(
        page.contains("openapi.json") && page.contains("op-"),
        "{page}"
    );

    let sa = app.login("admin", ADMIN_PASSWORD).await;
    let documented = openapi::operations(openapi::document());
    let mut checked = 0;
    for (_, path) in &documented {
        let concrete = path
            .replace("{id}", "999999")
            .replace("{card_id}", "999999")
            .replace("{identifier}", "NOSUCH")
            .replace("{asset_type}", "card")
            .replace("{action}", "refresh");
        for method in METHODS {
            if documented.contains(&(method.to_string(), path.clone())) {
                continue;
            }
            let r = app.call(method, &concrete, Some(&sa), None).await;
            assert_eq!(
                (r.status.as_u16(), r.body["code"].as_u64()),
                (405, Some(1029)),
                "{method} {path} is routed but not documented: {:?}",
                r.body
            );
            checked += 1;
        }
    }
    assert!(checked > 200, "only {checked} method checks");
}
