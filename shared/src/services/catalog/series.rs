//! Package series (api.md §12): created and changed by the platform; agents read the
//! series granted to their own shop.

use serde::Deserialize;

use super::{
    agent_shop, conflict, grant_in_effect, live_series, CatalogError, NAME_MAX, SERIES_CODE,
};
use crate::domain::caller::{Caller, SA_PL, SA_PL_AG};
use crate::domain::catalog::{CommissionType, PackageSeries, SeriesTier, Trigger};
use crate::domain::org::Status;
use crate::domain::stamp::Stamped;
use crate::domain::validate;
use crate::services::org::{check_version, save_tx, soft_delete_tx, stamp, Rename};
use crate::store::catalog::series_item;
use crate::store::keys;
use crate::store::org::unique_item;
use crate::store::tally::{self, Counted};
use crate::store::tx::Tx;
use crate::store::Store;

/// `POST /api/admin/package-series` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateSeries {
    pub series_name: String,
    pub series_code: String,
    pub status: Option<Status>,
    #[serde(default)]
    pub enable_one_time_commission: bool,
    /// Default `accumulated_recharge`.
    pub one_time_commission_trigger: Option<Trigger>,
    #[serde(default)]
    pub one_time_commission_threshold: i64,
    /// Default `fixed`.
    pub commission_type: Option<CommissionType>,
    #[serde(default)]
    pub commission_amount: i64,
    #[serde(default)]
    pub tiers: Vec<SeriesTier>,
    #[serde(default)]
    pub enable_force_recharge: bool,
    #[serde(default)]
    pub force_recharge_amount: i64,
}

/// `PUT /api/admin/package-series/:id` body: absent fields are kept.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct UpdateSeries {
    pub series_name: Option<String>,
    pub series_code: Option<String>,
    pub status: Option<Status>,
    pub enable_one_time_commission: Option<bool>,
    pub one_time_commission_trigger: Option<Trigger>,
    pub one_time_commission_threshold: Option<i64>,
    pub commission_type: Option<CommissionType>,
    pub commission_amount: Option<i64>,
    pub tiers: Option<Vec<SeriesTier>>,
    pub enable_force_recharge: Option<bool>,
    pub force_recharge_amount: Option<i64>,
    pub version: Option<i64>,
}

/// List filters of `GET /api/admin/package-series`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesFilter {
    /// Substring of the name.
    pub series_name: Option<String>,
    pub series_code: Option<String>,
    pub status: Option<i64>,
    pub commission_type: Option<CommissionType>,
}

/// Creates a series.
pub async fn create_series(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: CreateSeries,
) -> Result<PackageSeries, CatalogError> {
    caller.require(SA_PL)?;
    let mut x = PackageSeries {
        id: 0,
        series_name: validate::text("series_name", &req.series_name, NAME_MAX)?,
        series_code: validate::code("series_code", &req.series_code)?,
        status: req.status.unwrap_or(Status::Enabled),
        enable_one_time_commission: req.enable_one_time_commission,
        one_time_commission_trigger: req
            .one_time_commission_trigger
            .unwrap_or(Trigger::AccumulatedRecharge),
        one_time_commission_threshold: req.one_time_commission_threshold,
        commission_type: req.commission_type.unwrap_or(CommissionType::Fixed),
        commission_amount: req.commission_amount,
        tiers: req.tiers,
        enable_force_recharge: req.enable_force_recharge,
        force_recharge_amount: req.force_recharge_amount,
        package_count: 0,
        grant_count: 0,
        created_at: stamp(now),
        updated_at: stamp(now),
        deleted_at: None,
        creator: caller.account_id,
        updater: caller.account_id,
        version: 1,
    };
    x.check()?;
    x.id = store.next_id("series").await?;
    let tx = Tx::new()
        .put_new("entity", series_item(&x)?)
        .put_new("unique", unique_item(SERIES_CODE, &x.series_code, x.id));
    let tx = tally::count(tx, None, &[(Counted::Series, 1)]);
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("unique") => CatalogError::DuplicateSeriesCode,
            _ => e.into(),
        })?;
    Ok(x)
}

/// One series (agents: only one granted to their shop).
pub async fn get_series(
    store: &Store,
    caller: &Caller,
    id: u64,
) -> Result<PackageSeries, CatalogError> {
    caller.require(SA_PL_AG)?;
    if !caller.is_platform() {
        let shop = agent_shop(caller)?;
        if grant_in_effect(store, shop, id).await?.is_none() {
            return Err(CatalogError::NotFound("package series"));
        }
    }
    live_series(store, id).await
}

/// Partially updates a series. While grants of it exist its commission type and tier
/// thresholds are fixed (grants hold amounts per threshold); amounts, operators,
/// dimensions, scopes and the forced-recharge settings may change.
pub async fn update_series(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: UpdateSeries,
) -> Result<PackageSeries, CatalogError> {
    caller.require(SA_PL)?;
    let old = live_series(store, id).await?;
    check_version(req.version, old.version).map_err(|_| CatalogError::VersionConflict)?;
    let mut x = old.clone();
    if let Some(v) = &req.series_name {
        x.series_name = validate::text("series_name", v, NAME_MAX)?;
    }
    if let Some(v) = &req.series_code {
        x.series_code = validate::code("series_code", v)?;
    }
    if let Some(v) = req.status {
        x.status = v;
    }
    if let Some(v) = req.enable_one_time_commission {
        x.enable_one_time_commission = v;
    }
    if let Some(v) = req.one_time_commission_trigger {
        x.one_time_commission_trigger = v;
    }
    if let Some(v) = req.one_time_commission_threshold {
        x.one_time_commission_threshold = v;
    }
    if let Some(v) = req.commission_type {
        x.commission_type = v;
        if v == CommissionType::Fixed && req.tiers.is_none() {
            x.tiers.clear();
        }
    }
    if let Some(v) = req.commission_amount {
        x.commission_amount = v;
    }
    if let Some(v) = req.tiers {
        x.tiers = v;
    }
    if let Some(v) = req.enable_force_recharge {
        x.enable_force_recharge = v;
    }
    if let Some(v) = req.force_recharge_amount {
        x.force_recharge_amount = v;
    }
    x.check()?;
    let mut before = old.thresholds();
    let mut after = x.thresholds();
    before.sort_unstable();
    after.sort_unstable();
    if old.grant_count > 0 && (old.commission_type != x.commission_type || before != after) {
        return Err(CatalogError::SeriesInUse(
            "the series has grants: its commission type and tier thresholds cannot change".into(),
        ));
    }
    x.touch(caller.account_id, now);
    let rename = Rename::of(SERIES_CODE, &old.series_code, &x.series_code, id);
    let tx = save_tx(series_item(&x)?, old.version, rename);
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("unique") => CatalogError::DuplicateSeriesCode,
            _ => conflict(e),
        })?;
    Ok(x)
}

/// Enables or disables a series.
pub async fn set_series_status(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    status: Status,
) -> Result<PackageSeries, CatalogError> {
    update_series(
        store,
        caller,
        now,
        id,
        UpdateSeries {
            status: Some(status),
            ..Default::default()
        },
    )
    .await
}

/// Soft-deletes a series without packages or grants, freeing its code.
pub async fn delete_series(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
) -> Result<(), CatalogError> {
    caller.require(SA_PL)?;
    let old = live_series(store, id).await?;
    if old.package_count > 0 || old.grant_count > 0 {
        return Err(CatalogError::SeriesInUse(format!(
            "the series still has {} packages and {} grants",
            old.package_count, old.grant_count
        )));
    }
    let mut x = old.clone();
    x.touch(caller.account_id, now);
    let tx = soft_delete_tx(
        series_item(&x)?,
        old.version,
        now,
        None,
        &[keys::unique(SERIES_CODE, &old.series_code)],
    );
    let tx = tally::count(tx, None, &[(Counted::Series, -1)]);
    store.transact(tx).await.map_err(conflict)
}
