//! Grants written in phases against the emulator: concurrent duplicates, grants larger
//! than one transaction (refused, failed in a later chunk, created and deleted) and a
//! grant interrupted between chunks that the sweeper rolls back.

use shared::domain::grants::{GrantPhase, Grantor, PackageAllocation, SeriesGrant, ShelfStatus};
use shared::domain::org::Status;
use shared::store::catalog::{allocation_created, count_sub_allocation, grant_phase_guard};
use shared::store::keys;
use shared::store::tx::MAX_TX_ITEMS;

use serde_json::json;

use super::{chain, grant_body, history, packages};
use crate::helpers::{spawn_app, whole, TestApp};

/// Items an agent grant writes per package: the allocation and its grantor's
/// allocation counter.
const OPS_PER_PACKAGE: usize = 2;
/// Items every chunk of a grant's allocations also carries: the check of its phase.
const GUARD_OPS: usize = 1;
/// Packages of an agent grant whose allocations fill exactly one transaction:
/// (100 − 1) / 2 = 49.
const FIRST_CHUNK: usize = (MAX_TX_ITEMS - GUARD_OPS) / OPS_PER_PACKAGE;
/// The smallest agent grant that needs a second transaction: 50 packages, the last
/// of them alone in the second chunk.
const PACKAGES: usize = FIRST_CHUNK + 1;
const _: () = assert!(GUARD_OPS + OPS_PER_PACKAGE * FIRST_CHUNK <= MAX_TX_ITEMS);
const _: () = assert!(GUARD_OPS + OPS_PER_PACKAGE * PACKAGES > MAX_TX_ITEMS);

/// A live allocation written behind the service's back (stray-item test).
fn allocation(shop: u64, package: u64, grant: u64, id: u64) -> PackageAllocation {
    PackageAllocation {
        id,
        shop_id: shop,
        package_id: package,
        series_id: 1,
        allocator_shop_id: Grantor::Platform,
        series_allocation_id: grant,
        cost_price: 8000,
        retail_price: 15000,
        shelf_status: ShelfStatus::On,
        status: Status::Enabled,
        sub_allocation_count: 0,
        created_at: "x".into(),
        updated_at: "x".into(),
        deleted_at: None,
        creator: 1,
        updater: 1,
        version: 1,
    }
}

/// Whether the cost price of package `p` is locked, as the agent `token` sees it.
async fn cost_locked(app: &TestApp, token: &str, p: u64) -> bool {
    app.get(&format!("/api/admin/packages/{p}"), token)
        .await
        .ok()["cost_price_locked"]
        .as_bool()
        .unwrap()
}

/// Version of shop `shop`'s allocation of `package` (every counter move bumps it).
async fn allocation_version(app: &TestApp, shop: u64, package: u64) -> i64 {
    app.table
        .store
        .entity::<PackageAllocation>(&keys::allocation(shop, package))
        .await
        .unwrap()
        .unwrap()
        .version
}

/// Two identical grant requests at once: exactly one wins, the other is refused as a
/// duplicate and leaves nothing; replaying a package change writes no second history.
#[tokio::test]
async fn concurrent_duplicate_grants_and_replays() {
    let app = spawn_app().await;
    let ch = chain(&app).await;
    let ps = packages(&app, &ch.sa, ch.series, 3).await;
    let items: Vec<(u64, i64)> = ps.iter().map(|p| (*p, 8000)).collect();
    let body = grant_body(ch.a, ch.series, 500, &items);
    let (r1, r2) = tokio::join!(
        app.post("/api/admin/shop-series-grants", &ch.sa, body.clone()),
        app.post("/api/admin/shop-series-grants", &ch.sa, body.clone())
    );
    let mut codes = [r1.code(), r2.code()];
    codes.sort_unstable();
    assert_eq!(codes, [0, 1042], "{r1:?} {r2:?}");
    let winner = if r1.code() == 0 { &r1 } else { &r2 };
    let gid = winner.data()["id"].as_u64().unwrap();
    let grants = app.get("/api/admin/shop-series-grants", &ch.sa).await;
    assert_eq!(grants.ok()["total"], 1);
    assert_eq!(whole(grants.ok()).len(), 1);
    let series = app
        .get(&format!("/api/admin/package-series/{}", ch.series), &ch.sa)
        .await;
    assert_eq!(series.ok()["grant_count"], 1);
    assert!(
        !app.table
            .live_keys()
            .await
            .iter()
            .any(|(pk, _)| pk.starts_with("GRANT#") && pk != &format!("GRANT#{gid}")),
        "the losing request left no grant"
    );

    // The same package change sent twice: one price change, one history item.
    let change = json!({"packages": [{"package_id": ps[0], "cost_price": 9000}]});
    let path = format!("/api/admin/shop-series-grants/{gid}/packages");
    app.put(&path, &ch.sa, change.clone()).await.ok();
    let again = app.put(&path, &ch.sa, change).await;
    assert_eq!(again.ok()["packages"][0]["cost_price"], 9000);
    let own = app
        .get(&format!("/api/admin/packages/{}", ps[0]), &ch.l1)
        .await;
    let alloc_id = own.ok()["allocation_id"].as_u64().unwrap();
    assert_eq!(history(&app, alloc_id).await.len(), 1);
    // A replayed delete finds nothing to delete.
    app.delete(&format!("/api/admin/shop-series-grants/{gid}"), &ch.sa)
        .await
        .ok();
    app.delete(&format!("/api/admin/shop-series-grants/{gid}"), &ch.sa)
        .await
        .err(404, 1002);
}

#[tokio::test]
async fn grants_larger_than_one_transaction_are_all_or_nothing() {
    let app = spawn_app().await;
    let ch = chain(&app).await;
    let ps = packages(&app, &ch.sa, ch.series, PACKAGES).await;
    let last = ps[PACKAGES - 1];
    let items: Vec<(u64, i64)> = ps.iter().map(|p| (*p, 8000)).collect();
    let g1 = app
        .post(
            "/api/admin/shop-series-grants",
            &ch.sa,
            grant_body(ch.a, ch.series, 500, &items),
        )
        .await;
    assert_eq!(g1.ok()["packages"].as_array().unwrap().len(), PACKAGES);

    // L1 → L2 with PACKAGES packages: 4 + 2 × PACKAGES items, the allocations in two
    // chunks. One package priced below L1's own cost makes the whole grant fail
    // before anything is written.
    let before = app.table.entity_keys().await;
    let mut bad = items.clone();
    bad[PACKAGES - 1].1 = 7000;
    app.post(
        "/api/admin/shop-series-grants",
        &ch.l1,
        grant_body(ch.b, ch.series, 400, &bad),
    )
    .await
    .err(400, 1055);
    assert_eq!(app.table.entity_keys().await, before, "nothing written");

    // A failure in the last chunk rolls back every chunk already written: a stray
    // allocation of the last package to B (left by a grant that no longer exists)
    // makes the conditional create of that allocation, alone in the second chunk,
    // fail.
    let store = &app.table.store;
    let stray = keys::allocation(ch.b, last);
    let item = shared::store::catalog::allocation_item(&allocation(ch.b, last, 777, 7777)).unwrap();
    store.put(item).await.unwrap();
    let body = grant_body(
        ch.b,
        ch.series,
        400,
        &items.iter().map(|(p, _)| (*p, 10000)).collect::<Vec<_>>(),
    );
    let live_before = app.table.live_keys().await;
    let first_version = allocation_version(&app, ch.a, ps[0]).await;
    let last_version = allocation_version(&app, ch.a, last).await;
    app.post("/api/admin/shop-series-grants", &ch.l1, body.clone())
        .await
        .err(409, 1007);
    assert_eq!(
        app.table.live_keys().await,
        live_before,
        "no live item added by the failed grant"
    );
    // The first chunk was written and undone (L1's counter moved up and back down),
    // the second never committed.
    assert_eq!(
        allocation_version(&app, ch.a, ps[0]).await,
        first_version + 2
    );
    assert_eq!(allocation_version(&app, ch.a, last).await, last_version);
    assert!(
        !cost_locked(&app, &ch.l1, ps[0]).await,
        "L1's counters restored"
    );
    let series = app
        .get(&format!("/api/admin/package-series/{}", ch.series), &ch.sa)
        .await;
    assert_eq!(series.ok()["grant_count"], 1);
    store.delete(&stray).await.unwrap();

    let g2 = app
        .post("/api/admin/shop-series-grants", &ch.l1, body)
        .await;
    let g2 = g2.ok().clone();
    assert_eq!(g2["packages"].as_array().unwrap().len(), PACKAGES);
    let l2 = app.get("/api/admin/packages?page_size=100", &ch.l2).await;
    assert_eq!(whole(l2.ok()).len(), PACKAGES);
    // Every L1 allocation is now locked by L2's.
    for p in [ps[0], last] {
        assert!(cost_locked(&app, &ch.l1, p).await);
    }

    // Delete: the allocations go in several transactions; afterwards nothing of the
    // grant remains in effect and L1's costs are unlocked.
    let gid2 = g2["id"].as_u64().unwrap();
    app.delete(&format!("/api/admin/shop-series-grants/{gid2}"), &ch.l1)
        .await
        .ok();
    let l2 = app.get("/api/admin/packages", &ch.l2).await;
    assert_eq!(whole(l2.ok()).len(), 0);
    for p in [ps[0], last] {
        assert!(!cost_locked(&app, &ch.l1, p).await);
    }
    let l1_grant = app.get("/api/admin/shop-series-grants", &ch.sa).await;
    assert_eq!(l1_grant.ok()["total"], 1);
    assert_eq!(whole(l1_grant.ok()).len(), 1);
    // The claim is free again: the same grant can be issued anew.
    app.post(
        "/api/admin/shop-series-grants",
        &ch.l1,
        grant_body(ch.b, ch.series, 400, &[(ps[0], 9000)]),
    )
    .await
    .ok();
}

/// An agent grant whose creation stopped after its first chunk (a crashed Lambda)
/// takes no effect, blocks nothing for long, and the sweeper removes everything it
/// wrote, the grantor's counters included.
#[tokio::test]
async fn interrupted_grant_is_rolled_back_by_the_sweeper() {
    use shared::jobs::grant_sweeper::{sweep, Sweep};
    use shared::services::grants::{retire, STALE_AFTER_SECS};
    let app = spawn_app().await;
    let ch = chain(&app).await;
    let ps = packages(&app, &ch.sa, ch.series, PACKAGES).await;
    let items: Vec<(u64, i64)> = ps.iter().map(|p| (*p, 8000)).collect();
    let ga = app
        .post(
            "/api/admin/shop-series-grants",
            &ch.sa,
            grant_body(ch.a, ch.series, 500, &items),
        )
        .await;
    let ga = ga.ok()["id"].as_u64().unwrap();
    let store = &app.table.store;
    let before = app.table.live_keys().await;

    // Simulate the crash of L1's grant of every package to B, as the create path
    // writes it: phase 1 (the grant `creating`, its claim and counters), then the
    // first chunk of allocations (FIRST_CHUNK of PACKAGES, each with L1's counter),
    // then stop before the last chunk and the flip to ready.
    let now = app.state.clock.now();
    let series = store
        .entity(&keys::series(ch.series))
        .await
        .unwrap()
        .unwrap();
    let parent: SeriesGrant = store.entity(&keys::grant(ga)).await.unwrap().unwrap();
    let g = SeriesGrant {
        id: 900,
        shop_id: ch.b,
        series_id: ch.series,
        allocator_shop_id: Grantor::Shop(ch.a),
        allocator_grant_id: Some(ga),
        one_time_commission_amount: 100,
        commission_tiers: vec![],
        enable_force_recharge: false,
        force_recharge_amount: 0,
        status: Status::Enabled,
        phase: GrantPhase::Creating,
        sub_grant_count: 0,
        package_count: 0,
        created_at: shared::clock::rfc3339(now),
        updated_at: shared::clock::rfc3339(now),
        deleted_at: None,
        creator: 1,
        updater: 1,
        version: 1,
    };
    store.open_grant(&g, &series, Some(&parent)).await.unwrap();
    let mut first_chunk = vec![];
    for (i, p) in ps.iter().take(FIRST_CHUNK).enumerate() {
        let a = PackageAllocation {
            allocator_shop_id: g.allocator_shop_id,
            series_id: ch.series,
            cost_price: 9000,
            ..allocation(ch.b, *p, g.id, 5000 + i as u64)
        };
        let mut c = allocation_created(&a).unwrap();
        let grantor_version = allocation_version(&app, ch.a, *p).await;
        count_sub_allocation(&mut c, ch.a, *p, 1, Some(grantor_version));
        first_chunk.push(c);
    }
    store
        .apply_changes(
            &[grant_phase_guard(g.id, GrantPhase::Creating)],
            first_chunk,
        )
        .await
        .unwrap();
    assert!(cost_locked(&app, &ch.l1, ps[0]).await);

    // Meanwhile nothing of it takes effect: not listed, not readable, no packages.
    let issued = app.get("/api/admin/shop-series-grants", &ch.l1).await;
    assert_eq!(issued.ok()["total"], 0);
    assert_eq!(whole(issued.ok()).len(), 0);
    app.get("/api/admin/shop-series-grants/900", &ch.l1)
        .await
        .err(404, 1002);
    // (L2's allocations are read, then dropped for their grant: empty pages.)
    let packages = crate::helpers::assets::all(&app, &ch.l2, "/api/admin/packages").await;
    assert_eq!(packages.len(), 0);
    let series = app.get("/api/admin/package-series", &ch.l2).await;
    assert_eq!(whole(series.ok()).len(), 0);
    // The claim holds: a new grant waits for the sweeper.
    app.post(
        "/api/admin/shop-series-grants",
        &ch.l1,
        grant_body(ch.b, ch.series, 100, &[]),
    )
    .await
    .err(409, 1042);

    // Too young to be touched; once stale, the sweeper retires it completely (its
    // FIRST_CHUNK allocations take more than one of the sweeper's transactions).
    assert_eq!(sweep(store, now).await.unwrap().settled, 0);
    assert_eq!(
        sweep(store, now + STALE_AFTER_SECS + 1).await.unwrap(),
        Sweep {
            settled: 1,
            unsettled: vec![]
        }
    );
    let series = app
        .get(&format!("/api/admin/package-series/{}", ch.series), &ch.sa)
        .await;
    assert_eq!(series.ok()["grant_count"], 1);
    assert_eq!(
        app.table.live_keys().await,
        before,
        "only soft-deleted residue remains"
    );
    assert!(
        !cost_locked(&app, &ch.l1, ps[0]).await,
        "L1's counters restored"
    );
    // Retiring again is a no-op; a sweep finds nothing; the grant can be issued now.
    retire(store, 900, now).await.unwrap();
    assert_eq!(sweep(store, now + 600).await.unwrap().settled, 0);
    let g = app
        .post(
            "/api/admin/shop-series-grants",
            &ch.l1,
            grant_body(ch.b, ch.series, 100, &[(ps[0], 8000)]),
        )
        .await;
    let g = g.ok().clone();
    assert_eq!(g["packages"][0]["cost_price"], 8000);
    // L1's grant counts only the new grant passed down: once that is deleted, L1's
    // grant is deletable too.
    let gid = g["id"].as_u64().unwrap();
    app.delete(&format!("/api/admin/shop-series-grants/{gid}"), &ch.l1)
        .await
        .ok();
    app.delete(&format!("/api/admin/shop-series-grants/{ga}"), &ch.sa)
        .await
        .ok();
}
