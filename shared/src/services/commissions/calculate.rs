//! The commission calculation of one order (jobs.md J14): read the order, its
//! chain and the chain's prices, grants, wallets and statistics; compute the shares
//! (`domain::commission::calc`); write the records, the frozen wallet credits with
//! their ledger lines, the statistics, the month totals, the one-time markers and
//! the order's `done` marker in one transaction.
//!
//! The order's marker is the guard: the transaction holds only while the order is
//! still `due`, so a redelivered message, a sweeper's re-send or a racing consumer
//! writes nothing twice. A wallet or statistic that moved meanwhile is read again
//! and the whole calculation rebuilt. Missing configuration (an allocation, a grant,
//! a wallet) marks the order `failed` with the reason, without retry.

use std::collections::{BTreeMap, HashMap};

use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::{AssetType, Device, IotCard};
use crate::domain::catalog::{CommissionType, Package, PackageSeries};
use crate::domain::commission::calc::{
    merge, one_time, price_difference, sales_by_series, trigger_reached, Basis, CalcFailure,
    ChainShop, Line, SalesStats, Share,
};
use crate::domain::commission::{
    credit_event, month_of, record_id, unfreeze_at, CommissionRecord, CommissionStatus,
};
use crate::domain::entities::{AgentWallet, Shop};
use crate::domain::grants::{PackageAllocation, SeriesGrant};
use crate::domain::orders::{Order, PaymentStatus};
use crate::domain::wallet::{LedgerEntry, Movement, TxType, WalletKind};
use crate::domain::withdrawal::WithdrawalSettings;
use crate::store::commissions::{
    month_ops, new_record_ops, one_time_ops, recharges, stats_ops, stats_row, MonthFigure, StatsRow,
};
use crate::store::orders::{
    settle_commission_ops, COMMISSION_DONE, COMMISSION_DUE, COMMISSION_FAILED, COMMISSION_LABEL,
};
use crate::store::tx::{backoff, Tx, TxOutcome};
use crate::store::wallets::{ledger_ops_many, LINE_LABEL};
use crate::store::{from_item, keys, Item, Key, Store, StoreError};

/// Attempts when a wallet or statistic of the chain moved between read and write.
pub const ATTEMPTS: usize = 10;

/// What a calculation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Calculated {
    /// Records written (possibly none: nobody earned anything).
    Done(Vec<CommissionRecord>),
    /// The order was settled before (a replay): nothing written.
    AlreadySettled,
    /// Configuration is missing: the order is marked `failed` with this reason.
    Failed(String),
    /// No such order (nothing to do).
    NoOrder,
}

/// Calculates the commission of order `order_id` (see the module documentation).
/// A storage failure is an error (the message is retried).
pub async fn calculate(state: &AppState, order_id: u64) -> Result<Calculated, StoreError> {
    let store = &state.store;
    for attempt in 1..=ATTEMPTS {
        let Some(order) = store.order(order_id).await? else {
            return Ok(Calculated::NoOrder);
        };
        if order.commission_status.as_deref() != Some(COMMISSION_DUE) {
            return Ok(Calculated::AlreadySettled);
        }
        let now = state.clock.now();
        let plan = match plan(store, &order, now).await? {
            Ok(plan) => plan,
            Err(why) => return fail(store, &order, &why.to_string()).await,
        };
        let records = plan.records.clone();
        let tx = match plan.tx {
            Ok(tx) => tx,
            Err(why) => return fail(store, &order, &why).await,
        };
        if tx.len() > crate::store::tx::MAX_TX_ITEMS {
            let why = format!(
                "the calculation needs {} writes, more than one transaction holds",
                tx.len()
            );
            return fail(store, &order, &why).await;
        }
        let failed = match store.transact_each(tx).await? {
            TxOutcome::Written => {
                tracing::info!(order_id, records = records.len(), "commission calculated");
                return Ok(Calculated::Done(records));
            }
            TxOutcome::Cancelled(failed) => failed,
        };
        if failed.iter().any(|f| f.label == COMMISSION_LABEL) {
            return Ok(Calculated::AlreadySettled);
        }
        if failed.iter().any(|f| f.label == LINE_LABEL) {
            // A credit's event id is taken while the order is still due: only a
            // foreign write can do that. Keep the order due and report it.
            return Err(StoreError::Dynamo(format!(
                "commission ledger event of order {order_id} exists while the order is due"
            )));
        }
        tracing::debug!(attempt, order_id, "commission chain moved; recalculated");
        tokio::time::sleep(backoff(attempt.min(4))).await;
    }
    Err(StoreError::Contended { attempts: ATTEMPTS })
}

/// Marks `order`'s commission `failed` with `why` (unless it was settled
/// meanwhile).
async fn fail(store: &Store, order: &Order, why: &str) -> Result<Calculated, StoreError> {
    tracing::warn!(
        order_id = order.id,
        reason = why,
        "commission calculation failed"
    );
    let tx = settle_commission_ops(
        Tx::new(),
        order,
        COMMISSION_DUE,
        (COMMISSION_FAILED, Some(why)),
    )?;
    match store.transact(tx).await {
        Ok(()) => Ok(Calculated::Failed(why.to_string())),
        Err(StoreError::ConditionFailed { .. }) => Ok(Calculated::AlreadySettled),
        Err(e) => Err(e),
    }
}

/// The records and the transaction of one attempt (`tx` is `Err(reason)` when the
/// chain's wallets are missing).
struct Plan {
    records: Vec<CommissionRecord>,
    tx: Result<Tx, String>,
}

/// Everything read for one attempt.
struct Inputs {
    /// Selling shop first, level-1 shop last.
    chain: Vec<Shop>,
    packages: HashMap<u64, Package>,
    series: HashMap<u64, PackageSeries>,
    allocations: HashMap<(u64, u64), PackageAllocation>,
    wallets: HashMap<u64, AgentWallet>,
    stats: HashMap<(u64, u64), StatsRow>,
    taken: Vec<u64>,
    recharges: crate::domain::commission::calc::Recharges,
    asset: (Option<String>, Option<String>),
    settings: WithdrawalSettings,
}

fn by_key<'a>(items: &'a [Item], key: &Key) -> Option<&'a Item> {
    items.iter().find(|i| key.matches(i))
}

fn decode<T: serde::de::DeserializeOwned>(items: &[Item], key: &Key) -> Option<T> {
    by_key(items, key).cloned().and_then(|i| from_item(i).ok())
}

/// The asset of an order (type, id).
fn asset_of(order: &Order) -> Option<(AssetType, u64)> {
    match (order.iot_card_id, order.device_id) {
        (Some(id), _) => Some((AssetType::Card, id)),
        (None, Some(id)) => Some((AssetType::Device, id)),
        _ => None,
    }
}

/// Reads what the calculation of `order` needs: two batch reads (the selling shop
/// and the packages; then the rest of the chain, its allocations, wallets and
/// statistics, the series, the one-time markers, the asset and its recharges, the
/// settings).
async fn inputs(
    store: &Store,
    order: &Order,
    month: u32,
) -> Result<Result<Inputs, CalcFailure>, StoreError> {
    let Some(seller) = order.seller_shop_id else {
        return Ok(Err(CalcFailure::NoSeller));
    };
    let mut first: Vec<Key> = vec![keys::shop(seller)];
    first.extend(order.items.iter().map(|i| keys::package(i.package_id)));
    let items = store.get_many(&first).await?;
    let Some(shop) = decode::<Shop>(&items, &keys::shop(seller)) else {
        return Ok(Err(CalcFailure::NoSeller));
    };
    let mut packages = HashMap::new();
    for i in &order.items {
        match decode::<Package>(&items, &keys::package(i.package_id)) {
            Some(p) => packages.insert(p.id, p),
            None => {
                return Ok(Err(CalcFailure::NoAllocation {
                    shop: seller,
                    package: i.package_id,
                }))
            }
        };
    }
    let mut ids = shop.path.ids();
    ids.reverse();
    if ids.is_empty() || ids.len() > crate::domain::commission::MAX_CHAIN {
        return Ok(Err(CalcFailure::BadChain));
    }
    let series_ids: Vec<u64> = {
        let mut v: Vec<u64> = packages.values().map(|p| p.package_series_id).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let asset = asset_of(order);
    let mut wanted: Vec<Key> = Vec::new();
    for id in &ids {
        wanted.push(keys::shop(*id));
        wanted.push(keys::agent_wallet(*id, WalletKind::Commission.as_str()));
        for p in packages.keys() {
            wanted.push(keys::allocation(*id, *p));
        }
        for sid in &series_ids {
            wanted.push(keys::series_stats(*id, *sid, month));
        }
    }
    for sid in &series_ids {
        wanted.push(keys::series(*sid));
        if let Some((t, a)) = asset {
            wanted.push(keys::one_time_marker(t, a, order.generation, *sid));
        }
    }
    if let Some((t, a)) = asset {
        wanted.push(keys::asset(t, a));
        wanted.push(keys::asset_recharges(t, a, order.generation));
    }
    wanted.push(keys::withdrawal_settings());
    let items = store.get_many(&wanted).await?;
    let mut chain = Vec::with_capacity(ids.len());
    let mut wallets = HashMap::new();
    let mut allocations = HashMap::new();
    let mut stats = HashMap::new();
    for id in &ids {
        let Some(s) = decode::<Shop>(&items, &keys::shop(*id)) else {
            return Ok(Err(CalcFailure::BadChain));
        };
        chain.push(s);
        if let Some(w) = decode::<AgentWallet>(&items, &keys::agent_wallet(*id, "commission")) {
            wallets.insert(*id, w);
        }
        for p in packages.keys() {
            if let Some(a) = decode::<PackageAllocation>(&items, &keys::allocation(*id, *p))
                .filter(|a| a.deleted_at.is_none())
            {
                allocations.insert((*id, *p), a);
            }
        }
        for sid in &series_ids {
            let row = by_key(&items, &keys::series_stats(*id, *sid, month))
                .map(stats_row)
                .unwrap_or_default();
            stats.insert((*id, *sid), row);
        }
    }
    let mut series = HashMap::new();
    let mut taken = Vec::new();
    for sid in &series_ids {
        match decode::<PackageSeries>(&items, &keys::series(*sid)) {
            Some(s) => series.insert(*sid, s),
            None => return Ok(Err(CalcFailure::NoSeries(*sid))),
        };
        if let Some((t, a)) = asset {
            if by_key(&items, &keys::one_time_marker(t, a, order.generation, *sid)).is_some() {
                taken.push(*sid);
            }
        }
    }
    let (recharges, shown) = match asset {
        Some((t, a)) => {
            let r = by_key(&items, &keys::asset_recharges(t, a, order.generation))
                .map(recharges)
                .unwrap_or_default();
            let shown =
                match t {
                    AssetType::Card => decode::<IotCard>(&items, &keys::card(a))
                        .map(|c| (c.virtual_no, Some(c.iccid))),
                    AssetType::Device => decode::<Device>(&items, &keys::device(a))
                        .map(|d| (Some(d.virtual_no), None)),
                };
            (r, shown.unwrap_or_default())
        }
        None => (Default::default(), (None, None)),
    };
    let settings =
        decode::<WithdrawalSettings>(&items, &keys::withdrawal_settings()).unwrap_or_default();
    Ok(Ok(Inputs {
        chain,
        packages,
        series,
        allocations,
        wallets,
        stats,
        taken,
        recharges,
        asset: shown,
        settings,
    }))
}

/// Whether series `s` keeps sales statistics (a tiered one-time commission reads
/// them).
fn keeps_stats(s: &PackageSeries) -> bool {
    s.enable_one_time_commission && s.commission_type == CommissionType::Tiered
}

/// One attempt's records and transaction, or why the order's commission cannot be
/// calculated.
async fn plan(
    store: &Store,
    order: &Order,
    now: i64,
) -> Result<Result<Plan, CalcFailure>, StoreError> {
    if order.payment_status != PaymentStatus::Paid {
        return Ok(Err(CalcFailure::NotPaid));
    }
    let month = month_of(order.paid_at.unwrap_or(order.created_at));
    let inp = match inputs(store, order, month).await? {
        Ok(i) => i,
        Err(e) => return Ok(Err(e)),
    };
    let chain: Vec<ChainShop> = inp
        .chain
        .iter()
        .map(|s| ChainShop {
            shop_id: s.id,
            level: s.level,
        })
        .collect();
    let lines: Vec<Line> = order
        .items
        .iter()
        .filter_map(|i| {
            let p = inp.packages.get(&i.package_id)?;
            Some(Line {
                package_id: i.package_id,
                series_id: p.package_series_id,
                quantity: i.quantity,
                amount: i.amount,
            })
        })
        .collect();
    let client = order.source == "client";
    let basis = if client {
        Basis::Client
    } else {
        Basis::PlatformOnBehalf
    };
    let mut shares = match price_difference(basis, &chain, &lines, |shop, package| {
        inp.allocations.get(&(shop, package)).map(|a| a.cost_price)
    }) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    // This order's sales per series, added to the statistics it is matched against.
    let sales = sales_by_series(&lines);
    let after = |shop_index: usize, sid: u64| -> SalesStats {
        let shop = chain.get(shop_index).map_or(0, |c| c.shop_id);
        let read = inp
            .stats
            .get(&(shop, sid))
            .copied()
            .unwrap_or_default()
            .stats;
        let (count, amount) = sales.get(&sid).copied().unwrap_or_default();
        SalesStats {
            own_count: read.own_count + if shop_index == 0 { count } else { 0 },
            own_amount: read.own_amount + if shop_index == 0 { amount } else { 0 },
            tree_count: read.tree_count + count,
            tree_amount: read.tree_amount + amount,
        }
    };
    let mut one_time_series = Vec::new();
    if client && !order.is_purchase_on_behalf {
        for (sid, s) in inp.series.iter().collect::<BTreeMap<_, _>>() {
            if !s.enable_one_time_commission
                || inp.taken.contains(sid)
                || !trigger_reached(s, inp.recharges)
            {
                continue;
            }
            let grants = match chain_grants(store, &inp, *sid).await? {
                Ok(g) => g,
                Err(e) => return Ok(Err(e)),
            };
            let stats: Vec<SalesStats> = (0..chain.len()).map(|i| after(i, *sid)).collect();
            let refs: Vec<Option<&SeriesGrant>> = grants.iter().map(Some).collect();
            let ot = match one_time(s, &chain, &refs, &stats) {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            if !ot.is_empty() {
                one_time_series.push(*sid);
                if let Err(e) = merge(&mut shares, ot) {
                    return Ok(Err(e));
                }
            }
        }
    }
    Ok(Ok(build(
        order,
        &inp,
        &chain,
        shares,
        (month, now),
        after,
        &one_time_series,
    )?))
}

/// The grants of series `sid` of the chain's shops (through their allocations of
/// one of the order's packages of that series).
async fn chain_grants(
    store: &Store,
    inp: &Inputs,
    sid: u64,
) -> Result<Result<Vec<SeriesGrant>, CalcFailure>, StoreError> {
    let mut wanted = Vec::new();
    for shop in &inp.chain {
        let alloc = inp
            .allocations
            .values()
            .find(|a| a.shop_id == shop.id && a.series_id == sid);
        match alloc {
            Some(a) => wanted.push(keys::grant(a.series_allocation_id)),
            None => {
                return Ok(Err(CalcFailure::NoGrant {
                    shop: shop.id,
                    series: sid,
                }))
            }
        }
    }
    let items = store.get_many(&wanted).await?;
    let mut grants = Vec::with_capacity(wanted.len());
    for (shop, key) in inp.chain.iter().zip(&wanted) {
        match decode::<SeriesGrant>(&items, key).filter(|g| g.deleted_at.is_none()) {
            Some(g) => grants.push(g),
            None => {
                return Ok(Err(CalcFailure::NoGrant {
                    shop: shop.id,
                    series: sid,
                }))
            }
        }
    }
    Ok(Ok(grants))
}

/// The records and the transaction writing them.
fn build(
    order: &Order,
    inp: &Inputs,
    chain: &[ChainShop],
    shares: Vec<Share>,
    (month, now): (u32, i64),
    after: impl Fn(usize, u64) -> SalesStats,
    one_time_series: &[u64],
) -> Result<Plan, StoreError> {
    let unfreeze = unfreeze_at(now, inp.settings.unfreeze_days);
    let asset = asset_of(order);
    let mut records = Vec::with_capacity(shares.len());
    let mut tx = settle_commission_ops(Tx::new(), order, COMMISSION_DUE, (COMMISSION_DONE, None))?;
    let mut by_shop: BTreeMap<u64, Vec<LedgerEntry>> = BTreeMap::new();
    let mut figures: BTreeMap<u64, Vec<(MonthFigure, i64)>> = BTreeMap::new();
    for share in &shares {
        let shop = inp.chain.iter().find(|s| s.id == share.shop_id);
        let series_id = share.items.first().map_or(0, |i| i.series_id);
        let event_id = credit_event(order.id, share.shop_id, share.kind);
        let r = CommissionRecord {
            id: record_id(order.id, share.level, share.kind),
            shop_id: share.shop_id,
            shop_name: shop.map(|s| s.shop_name.clone()).unwrap_or_default(),
            shop_level: share.level,
            order_id: order.id,
            order_no: order.order_no.clone(),
            order_source: order.source.clone(),
            commission_type: share.kind,
            amount: share.amount,
            status: CommissionStatus::Frozen,
            items: share.items.clone(),
            iot_card_id: order.iot_card_id,
            device_id: order.device_id,
            virtual_no: inp.asset.0.clone(),
            iccid: inp.asset.1.clone(),
            series_id,
            series_name: inp.series.get(&series_id).map(|s| s.series_name.clone()),
            event_id: event_id.clone(),
            created_at: rfc3339(now),
            at: now,
            unfreeze_at: unfreeze,
            unfrozen_at: None,
        };
        tx = new_record_ops(tx, &r)?;
        by_shop.entry(share.shop_id).or_default().push(LedgerEntry {
            subtype: Some(share.kind.as_str().into()),
            reference_type: Some("order".into()),
            reference_id: Some(order.id),
            reference_no: Some(order.order_no.clone()),
            remark: format!("订单{}佣金", order.order_no),
            ..LedgerEntry::new(
                event_id,
                share.shop_id,
                WalletKind::Commission,
                Movement::CreditFrozen(share.amount),
                TxType::Commission,
                now,
            )
        });
        let f = figures.entry(share.shop_id).or_default();
        for item in &share.items {
            f.push((
                MonthFigure::Commission(share.kind, item.series_id),
                item.amount,
            ));
        }
        records.push(r);
    }
    for (shop, entries) in &by_shop {
        let Some(wallet) = inp.wallets.get(shop) else {
            return Ok(Plan {
                records,
                tx: Err(format!("shop {shop} has no commission wallet")),
            });
        };
        tx = match ledger_ops_many(tx, wallet, entries) {
            Ok((tx, _)) => tx,
            Err(e) => {
                return Ok(Plan {
                    records,
                    tx: Err(e.to_string()),
                })
            }
        };
        let at_month = month_of(now.max(wallet.ledger_at));
        let month_figures = figures.get(shop).map_or(&[][..], Vec::as_slice);
        tx = month_ops(tx, (*shop, at_month), month_figures);
    }
    // The order's series are the ones read.
    let mut series_ids: Vec<u64> = inp.series.keys().copied().collect();
    series_ids.sort_unstable();
    for sid in series_ids {
        if !inp.series.get(&sid).is_some_and(keeps_stats) {
            continue;
        }
        for (i, shop) in chain.iter().enumerate() {
            let read = inp
                .stats
                .get(&(shop.shop_id, sid))
                .copied()
                .unwrap_or_default();
            let now_stats = after(i, sid);
            let add = SalesStats {
                own_count: now_stats.own_count - read.stats.own_count,
                own_amount: now_stats.own_amount - read.stats.own_amount,
                tree_count: now_stats.tree_count - read.stats.tree_count,
                tree_amount: now_stats.tree_amount - read.stats.tree_amount,
            };
            tx = stats_ops(tx, (shop.shop_id, sid, month), add, read.version);
        }
    }
    if let Some((t, a)) = asset {
        for sid in one_time_series {
            tx = one_time_ops(tx, (t, a, order.generation), *sid, order.id);
        }
    }
    Ok(Plan {
        records,
        tx: Ok(tx),
    })
}
