//! A tenant of 2 000 shops, 2 000 accounts and 5 000 cards: every list page, the
//! resolve of a card and who-am-I stay within their DynamoDB call budgets
//! (`local::scale::PAGES`), page after page, and the totals come from the tallies.

use shared::domain::entities::Carrier;
use shared::local::scale::{seed_tenant, Reader, Size, PAGES};
use shared::store::keys;

use crate::helpers::assets::carrier;
use crate::helpers::spawn_app;

#[tokio::test]
async fn list_pages_cost_the_same_in_a_large_tenant() {
    let app = spawn_app().await;
    let sa = app.admin().await;
    let role = app.built_in_role(&sa, "代理商管理员").await;
    let carrier_id = carrier(&app, &sa).await;
    let carrier: Carrier = app
        .state
        .store
        .entity(&keys::carrier(carrier_id))
        .await
        .unwrap()
        .unwrap();
    let size = Size {
        shops: 2000,
        accounts: 2000,
        cards: 5000,
    };
    let seeded = seed_tenant(&app.state.store, 0, "SC", size, role, &carrier)
        .await
        .unwrap();
    let top = app.login(&seeded.top_username, &seeded.password).await;
    let deep = app.login(&seeded.deep_username, &seeded.password).await;
    let iccid = format!("8986{:016}", 7_000_000_000_000u64 + 1);

    // The top-level agent sees the whole tenant, counted by the tallies.
    let shops = app.get("/api/admin/shops?page_size=100", &top).await;
    assert_eq!(shops.ok()["total"], 2000);
    let accounts = app.get("/api/admin/accounts?page_size=100", &top).await;
    assert_eq!(accounts.ok()["total"], 2000);

    for page in PAGES {
        let token = match page.reader {
            Reader::Platform => &sa,
            Reader::TopAgent => &top,
            Reader::DeepAgent => &deep,
        };
        let path = page.path.replace("{iccid}", &iccid);
        let first = app.get(&path, token).await;
        first.ok();
        assert!(
            first.ddb_calls() <= page.budget,
            "{path}: {} calls, budget {}",
            first.ddb_calls(),
            page.budget
        );
        // The next page costs the same.
        if let Some(next) = first.data()["next_cursor"].as_str() {
            let sep = if path.contains('?') { '&' } else { '?' };
            let second = app.get(&format!("{path}{sep}cursor={next}"), token).await;
            second.ok();
            assert!(
                second.ddb_calls() <= page.budget,
                "{path} page 2: {} calls, budget {}",
                second.ddb_calls(),
                page.budget
            );
        }
    }
}
