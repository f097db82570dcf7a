//! The cards a manual trigger (J9) selects by shop or by card-list filters: read
//! from the card list's indexes (a batch from the batch index; never a scan), page
//! by page, up to
//! [`MAX_SELECTED_CARDS`] polled cards; a larger selection is refused before
//! anything is queued.

use super::admin::PollingAdminError;
use crate::domain::assets::{AssetType, IotCard};
use crate::domain::entities::Shop;
use crate::domain::polling::{polled, TriggerFilters};
use crate::domain::validate::{filter_term, Invalid};
use crate::store::asset_lists::{selection_queries, ListFilter, ListScope};
use crate::store::{keys, Store};

/// Most polled cards a trigger by shop or filters queues (in one request).
pub const MAX_SELECTED_CARDS: usize = 10_000;

/// Items each Query of a selection reads (a page).
pub const SELECTION_PAGE: i32 = 100;

/// What a trigger selects beyond named cards.
#[derive(Clone, Copy, Debug)]
pub enum Selection<'a> {
    /// The shop's own cards (not its descendants'), as the card list's `shop_id`.
    Shop(u64),
    /// Every card matching the filters.
    Filters(&'a TriggerFilters),
}

/// The card-list filter of `f`, normalised as the card list does.
pub fn list_filter(f: &TriggerFilters) -> ListFilter {
    ListFilter {
        prefix: filter_term(f.prefix.as_deref()).map(str::to_ascii_uppercase),
        batch_no: filter_term(f.batch_no.as_deref()).map(str::to_string),
        asset_status: f.asset_status,
        carrier_id: f.carrier_id,
        network_status: f.network_status,
        real_name_status: f.real_name_status,
        standalone_only: false,
    }
}

/// Ids of the live, polled cards of `sel` (each once), at most
/// [`MAX_SELECTED_CARDS`]: 1002 for an unknown shop, 1001 for empty filters or a
/// larger selection.
pub async fn select(store: &Store, sel: Selection<'_>) -> Result<Vec<u64>, PollingAdminError> {
    let shop: Option<Shop> = match sel {
        Selection::Shop(id) => Some(
            store
                .live_entity(&keys::shop(id))
                .await?
                .ok_or(PollingAdminError::NotFound("shop"))?,
        ),
        Selection::Filters(_) => None,
    };
    let (scope, filter) = match (sel, &shop) {
        (Selection::Filters(f), _) => {
            let filter = list_filter(f);
            let empty = filter.prefix.is_none()
                && filter.batch_no.is_none()
                && filter.asset_status.is_none()
                && filter.carrier_id.is_none()
                && filter.network_status.is_none()
                && filter.real_name_status.is_none();
            if empty {
                return Err(Invalid::new(
                    "filters 须至少包含一个条件",
                    "filters must set at least one field",
                )
                .into());
            }
            (ListScope::All, filter)
        }
        (Selection::Shop(_), Some(s)) => (ListScope::ShopStock(&s.path), ListFilter::default()),
        (Selection::Shop(_), None) => return Err(PollingAdminError::NotFound("shop")),
    };
    let queries = selection_queries(AssetType::Card, scope, &filter, SELECTION_PAGE);
    let cards: Vec<IotCard> = store
        .read_all(queries, MAX_SELECTED_CARDS, |c: &IotCard| polled(c))
        .await?;
    if cards.len() > MAX_SELECTED_CARDS {
        return Err(Invalid::new(
            format!("所选卡超过{MAX_SELECTED_CARDS}张,请缩小范围(如加筛选条件)"),
            format!(
                "the selection holds more than {MAX_SELECTED_CARDS} polled cards: narrow it \
                 (e.g. add filters)"
            ),
        )
        .into());
    }
    let mut ids: Vec<u64> = cards.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}
