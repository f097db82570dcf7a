//! Reading package usages: an asset's packages and its current main package
//! (api.md §18) and a usage's daily records (§14), scoped like the asset.

use serde::Serialize;

use crate::codes::{BusinessError, Code};
use crate::domain::assets::{AssetType, Device, IotCard};
use crate::domain::caller::Caller;
use crate::domain::usage::{PackageUsage, UsageView};
use crate::domain::validate::{date, Invalid};
use crate::services::assets::{visible, AssetError};
use crate::store::usages::DailyRecord;
use crate::store::{Store, StoreError};

/// Longest range of daily records one request reads.
pub const MAX_DAILY_RANGE_DAYS: i64 = 366;

/// Failures of the usage reads.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Asset(#[from] AssetError),
    #[error("package usage not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Invalid> for UsageError {
    fn from(e: Invalid) -> Self {
        UsageError::Asset(e.into())
    }
}

impl BusinessError for UsageError {
    fn code(&self) -> Code {
        match self {
            UsageError::Asset(e) => e.code(),
            UsageError::NotFound => Code::PACKAGE_USAGE_NOT_FOUND,
            UsageError::Store(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<crate::codes::Text> {
        match self {
            UsageError::Asset(e) => e.detail(),
            _ => None,
        }
    }
}

/// The generation of an asset the caller may see (others answer not found).
async fn visible_generation(
    store: &Store,
    caller: &Caller,
    t: AssetType,
    id: u64,
) -> Result<i64, UsageError> {
    Ok(match t {
        AssetType::Card => visible::<IotCard>(store, caller, id).await?.generation,
        AssetType::Device => visible::<Device>(store, caller, id).await?.generation,
    })
}

/// The usages of the asset's current generation, newest first.
async fn current_usages(
    store: &Store,
    caller: &Caller,
    t: AssetType,
    id: u64,
) -> Result<Vec<PackageUsage>, UsageError> {
    let generation = visible_generation(store, caller, t, id).await?;
    let mut usages: Vec<PackageUsage> = store
        .asset_usages(t, id)
        .await?
        .into_iter()
        .filter(|u| u.generation == generation)
        .collect();
    usages.sort_by_key(|u| std::cmp::Reverse(u.id));
    Ok(usages)
}

/// Every package usage of the asset (all statuses, newest first, not paged: one
/// Query of the asset's partition).
pub async fn asset_packages(
    store: &Store,
    caller: &Caller,
    t: AssetType,
    id: u64,
) -> Result<Vec<UsageView>, UsageError> {
    let usages = current_usages(store, caller, t, id).await?;
    Ok(usages.iter().map(UsageView::from).collect())
}

/// The asset's active main package; `1130` when none is active.
pub async fn current_package(
    store: &Store,
    caller: &Caller,
    t: AssetType,
    id: u64,
) -> Result<UsageView, UsageError> {
    let usages = current_usages(store, caller, t, id).await?;
    usages
        .iter()
        .find(|u| u.is_current_main())
        .map(UsageView::from)
        .ok_or(UsageError::NotFound)
}

/// A usage's consumption day by day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DailyRecords {
    pub package_usage_id: u64,
    pub package_name: String,
    pub records: Vec<DailyRecord>,
    /// Sum of `daily_usage_mb` over the range.
    pub total_usage_mb: i64,
}

/// The daily records of usage `id` from `start` to `end` (inclusive, at most
/// [`MAX_DAILY_RANGE_DAYS`]); empty until polling records usage.
pub async fn daily_records(
    store: &Store,
    caller: &Caller,
    id: u64,
    start: &str,
    end: &str,
) -> Result<DailyRecords, UsageError> {
    let (from, to) = (date("start_date", start)?, date("end_date", end)?);
    if from > to || (to - from).num_days() >= MAX_DAILY_RANGE_DAYS {
        return Err(Invalid::new(
            format!("日期范围无效(开始不晚于结束,最多{MAX_DAILY_RANGE_DAYS}天)"),
            format!(
                "invalid date range (start_date not after end_date, at most \
                 {MAX_DAILY_RANGE_DAYS} days)"
            ),
        )
        .into());
    }
    let pointer = store.usage_pointer(id).await?.ok_or(UsageError::NotFound)?;
    // The asset's scope decides; an asset the caller cannot see hides its usages.
    match visible_generation(store, caller, pointer.asset_type, pointer.asset_id).await {
        Err(UsageError::Asset(AssetError::AssetNotFound)) => return Err(UsageError::NotFound),
        other => other?,
    };
    let usage = store
        .usage(pointer, id)
        .await?
        .ok_or(UsageError::NotFound)?;
    let records = store.daily_records(id, start, end).await?;
    Ok(DailyRecords {
        package_usage_id: usage.id,
        package_name: usage.package_name,
        total_usage_mb: records.iter().map(|r| r.daily_usage_mb).sum(),
        records,
    })
}
