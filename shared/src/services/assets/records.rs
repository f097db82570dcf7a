//! Allocation records (api.md §9): every allocation and recall of one asset, visible
//! to the subordinate shop's line (the receiver of an allocation, the giver of a
//! recall) and the platform.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use serde::{Deserialize, Serialize};

use super::{page_params, require_asset_admin, AssetError, CursorPage};
use crate::clock::{cst, rfc3339};
use crate::domain::assets::{AllocationRecord, AssetType, MoveOp};
use crate::domain::caller::Caller;
use crate::domain::entities::Shop;
use crate::domain::validate::{filter_term, Invalid};
use crate::services::shops::shop_names;
use crate::store::asset_lists::{self, record_list};
use crate::store::{keys, Store};

/// Filters of the allocation-record list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordFilter {
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
    pub asset_type: Option<AssetType>,
    pub identifier: Option<String>,
    /// `allocate` or `recall`.
    pub operation: Option<String>,
    pub from_shop_id: Option<u64>,
    pub to_shop_id: Option<u64>,
    /// Records created at or after: a date (`2026-03-16`, from its start), a time in
    /// the business time zone (`2026-03-16 10:00:00`) or an RFC 3339 time.
    pub start_time: Option<String>,
    /// Records created at or before: as `start_time` (a date takes in its whole day).
    pub end_time: Option<String>,
}

/// An allocation record with shop names (soft-deleted shops included).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordView {
    #[serde(flatten)]
    pub record: AllocationRecord,
    pub from_shop_name: Option<String>,
    pub to_shop_name: Option<String>,
}

/// Allocation records the caller may see: those of its subtree's shops (platform: all).
pub async fn records(
    store: &Store,
    caller: &Caller,
    f: &RecordFilter,
) -> Result<CursorPage<RecordView>, AssetError> {
    require_asset_admin(caller)?;
    let (cursor, page_size) = page_params(f.cursor.as_deref(), f.page_size)?;
    let operation = match filter_term(f.operation.as_deref()) {
        None => None,
        Some("allocate") => Some(MoveOp::Allocate),
        Some("recall") => Some(MoveOp::Recall),
        Some(_) => {
            return Err(Invalid::new(
                "operation须为allocate或recall",
                "operation must be allocate or recall",
            )
            .into())
        }
    };
    let (start, end) = time_range(f.start_time.as_deref(), f.end_time.as_deref())?;
    let filter = asset_lists::RecordFilter {
        asset_type: f.asset_type,
        identifier: filter_term(f.identifier.as_deref()).map(str::to_string),
        operation,
        from_shop_id: f.from_shop_id,
        to_shop_id: f.to_shop_id,
        created_from: start.map(rfc3339),
        created_to: end.map(rfc3339),
    };
    let (source, cond) = record_list(caller.shop_path.as_ref(), &filter);
    let page = store
        .read_page::<AllocationRecord>(&source, cond.as_ref(), page_size, cursor, |_| true)
        .await?;
    let mut ids: Vec<u64> = page
        .list
        .iter()
        .flat_map(|r| [r.from_shop_id, r.to_shop_id])
        .flatten()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let names: HashMap<u64, String> = shop_names(store, &ids).await?.into_iter().collect();
    Ok(page.map(|r| view(r, &names)))
}

fn view(record: AllocationRecord, names: &HashMap<u64, String>) -> RecordView {
    let name = |id: Option<u64>| id.and_then(|i| names.get(&i).cloned());
    RecordView {
        from_shop_name: name(record.from_shop_id),
        to_shop_name: name(record.to_shop_id),
        record,
    }
}

/// The epoch seconds of a `start_time`/`end_time` filter pair (a bare end date takes in
/// its whole day); the start may not be after the end.
pub(crate) fn time_range(
    start: Option<&str>,
    end: Option<&str>,
) -> Result<(Option<i64>, Option<i64>), Invalid> {
    let start = time_bound("start_time", start, false)?;
    let end = time_bound("end_time", end, true)?;
    if let (Some(a), Some(b)) = (start, end) {
        if a > b {
            return Err(Invalid::new(
                "start_time不能晚于end_time",
                "start_time must not be after end_time",
            ));
        }
    }
    Ok((start, end))
}

/// Epoch seconds of a range bound; a bare date is its first second (`end`: its last).
fn time_bound(field: &str, raw: Option<&str>, end: bool) -> Result<Option<i64>, Invalid> {
    let Some(raw) = filter_term(raw) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(t.timestamp()));
    }
    let local = NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S")
        .ok()
        .or_else(|| {
            let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
            if end {
                day.and_hms_opt(23, 59, 59)
            } else {
                day.and_hms_opt(0, 0, 0)
            }
        });
    local
        .and_then(|t| cst().from_local_datetime(&t).single())
        .map(|t| Some(t.timestamp()))
        .ok_or_else(|| {
            Invalid::new(
                format!("{field}须为日期(YYYY-MM-DD)、时间(YYYY-MM-DD HH:MM:SS)或RFC 3339时间"),
                format!(
                    "{field} must be a date (YYYY-MM-DD), a time (YYYY-MM-DD HH:MM:SS) or an RFC 3339 time"
                ),
            )
        })
}

/// One allocation record, if the caller may see it.
pub async fn record(store: &Store, caller: &Caller, id: &str) -> Result<RecordView, AssetError> {
    require_asset_admin(caller)?;
    let r: AllocationRecord = store
        .get_as(&keys::allocation_record(id))
        .await?
        .ok_or(AssetError::NotFound("allocation record"))?;
    let mut ids: Vec<u64> = [r.from_shop_id, r.to_shop_id]
        .into_iter()
        .flatten()
        .collect();
    ids.sort_unstable();
    if let Some(mine) = &caller.shop_path {
        let shops: Vec<Shop> = store
            .entities(&ids.iter().map(|i| keys::shop(*i)).collect::<Vec<_>>())
            .await?;
        // Visible when the subordinate side lies in the caller's subtree.
        let sub = r.operation.subordinate(r.from_shop_id, r.to_shop_id);
        let visible = shops
            .iter()
            .any(|s| Some(s.id) == sub && mine.contains(&s.path));
        if !visible {
            return Err(AssetError::NotFound("allocation record"));
        }
    }
    let names: HashMap<u64, String> = shop_names(store, &ids).await?.into_iter().collect();
    Ok(view(r, &names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_bounds_accept_dates_local_times_and_rfc3339() {
        let day = time_bound("t", Some("2026-03-16"), false).unwrap().unwrap();
        assert_eq!(rfc3339(day), "2026-03-16T00:00:00+08:00");
        let end = time_bound("t", Some("2026-03-16"), true).unwrap().unwrap();
        assert_eq!(rfc3339(end), "2026-03-16T23:59:59+08:00");
        let local = time_bound("t", Some(" 2026-03-16 10:30:00 "), false)
            .unwrap()
            .unwrap();
        assert_eq!(rfc3339(local), "2026-03-16T10:30:00+08:00");
        let utc = time_bound("t", Some("2026-03-16T02:30:00Z"), false)
            .unwrap()
            .unwrap();
        assert_eq!(utc, local);
        assert_eq!(time_bound("t", Some(""), false).unwrap(), None);
        for bad in ["16/03/2026", "2026-13-01", "yesterday"] {
            let e = time_bound("start_time", Some(bad), false).unwrap_err();
            assert!(e.to_string().contains("start_time"), "{bad}: {e:?}");
        }
    }
}
