//! Scoped cursor lists of cards and devices: a caller's subtree, one shop's own
//! stock, platform stock, (platform) everything, or (enterprise accounts) the
//! assets authorised to the enterprise: one Query of the enterprise index.

use serde::Deserialize;

use super::{owner_names, page_params, Asset, AssetError, CursorPage};
use crate::domain::assets::{AssetStatus, IdentifierKind};
use crate::domain::caller::{Caller, Scope};
use crate::domain::entities::Shop;
use crate::domain::validate::filter_term;
use crate::paging::DEFAULT_PAGE_SIZE;
use crate::store::asset_lists::{asset_list, ListFilter, ListScope};
use crate::store::{keys, Store};

/// Whose own stock a list is limited to (`shop_id`; `0` on the wire = platform).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "u64")]
pub enum StockHolder {
    /// Platform stock.
    Platform,
    /// A shop's own stock (not its descendants').
    Shop(u64),
}

crate::wire_schema!(
    StockHolder,
    unsigned("A shop id; 0 = the platform's own stock")
);

impl From<u64> for StockHolder {
    fn from(id: u64) -> Self {
        match id {
            0 => StockHolder::Platform,
            id => StockHolder::Shop(id),
        }
    }
}

/// Filters of asset lists.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssetFilter {
    /// Opaque position from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Items per page (default 20, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
    /// Only the stock of this shop (its own, not its descendants'), or platform stock.
    #[param(value_type = Option<u64>)]
    pub shop_id: Option<StockHolder>,
    /// Identifier prefix (ICCID for cards, virtual number for devices).
    pub prefix: Option<String>,
    pub batch_no: Option<String>,
    pub asset_status: Option<AssetStatus>,
    pub carrier_id: Option<u64>,
    pub network_status: Option<i64>,
    pub real_name_status: Option<i64>,
}

/// A page of assets visible to the caller: the one named by `exact` (an identifier
/// lookup), or those matching `f`; `standalone_only` keeps cards bound to no device.
pub async fn list<A: Asset>(
    store: &Store,
    caller: &Caller,
    exact: Option<(IdentifierKind, String)>,
    f: &AssetFilter,
    standalone_only: bool,
) -> Result<CursorPage<A>, AssetError> {
    if let Some((kind, value)) = exact {
        let list = super::find::<A>(store, kind, &value)
            .await?
            .into_iter()
            .filter(|a| !a.deleted() && a.seen_by(caller))
            .filter(|a| !standalone_only || a.standalone())
            .collect();
        return Ok(CursorPage::new(
            list,
            f.page_size.unwrap_or(DEFAULT_PAGE_SIZE),
            None,
        ));
    }
    let (cursor, page_size) = page_params(f.cursor.as_deref(), f.page_size)?;
    let holder: Option<Shop> = match f.shop_id {
        Some(StockHolder::Shop(id)) => Some(
            store
                .live_entity(&keys::shop(id))
                .await?
                .filter(|s: &Shop| caller.sees_shop_owned(Some(&s.path)))
                .ok_or(AssetError::NotFound("shop"))?,
        ),
        _ => None,
    };
    let scope = match (f.shop_id, &holder, caller.scope()) {
        (Some(StockHolder::Platform), _, Scope::All) => ListScope::PlatformStock,
        (Some(StockHolder::Platform), _, _) => return Err(AssetError::NotFound("shop")),
        (_, Some(shop), _) => ListScope::ShopStock(&shop.path),
        (_, None, Scope::Subtree(path)) => ListScope::Subtree(path),
        (_, None, Scope::All) => ListScope::All,
        (_, None, Scope::Enterprise(e)) => ListScope::Enterprise(e),
    };
    let (source, cond) = asset_list(A::TYPE, scope, &list_filter(f, standalone_only));
    Ok(store
        .read_page(&source, cond.as_ref(), page_size, cursor, |a: &A| {
            !a.deleted() && a.seen_by(caller)
        })
        .await?)
}

/// A page of the assets authorised to enterprise `enterprise` that match `f` (its
/// `shop_id` aside): one Query of the enterprise index.
pub async fn list_authorized<A: Asset>(
    store: &Store,
    enterprise: u64,
    f: &AssetFilter,
) -> Result<CursorPage<A>, AssetError> {
    let (cursor, page_size) = page_params(f.cursor.as_deref(), f.page_size)?;
    let scope = ListScope::Enterprise(enterprise);
    let (source, cond) = asset_list(A::TYPE, scope, &list_filter(f, false));
    Ok(store
        .read_page(&source, cond.as_ref(), page_size, cursor, |a: &A| {
            !a.deleted() && a.authorization().map(|x| x.enterprise_id) == Some(enterprise)
        })
        .await?)
}

fn list_filter(f: &AssetFilter, standalone_only: bool) -> ListFilter {
    ListFilter {
        prefix: filter_term(f.prefix.as_deref()).map(str::to_ascii_uppercase),
        batch_no: f.batch_no.clone().filter(|b| !b.is_empty()),
        asset_status: f.asset_status,
        carrier_id: f.carrier_id,
        network_status: f.network_status,
        real_name_status: f.real_name_status,
        standalone_only,
    }
}

/// The page with each asset turned into its view by `view`, given its owner shop's
/// name (soft-deleted shops included; one batch read).
pub async fn with_shop_names<A: Asset, V>(
    store: &Store,
    mut page: CursorPage<A>,
    view: impl Fn(A, Option<String>) -> V,
) -> Result<CursorPage<V>, AssetError> {
    let names = owner_names(store, &page.list).await?;
    let list = std::mem::take(&mut page.list)
        .into_iter()
        .map(|a| {
            let name = a.shop_id().and_then(|s| names.get(&s).cloned());
            view(a, name)
        })
        .collect();
    Ok(page.with_list(list))
}
