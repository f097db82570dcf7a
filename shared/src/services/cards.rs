//! IoT cards: lists (all and standalone), exact lookups, edits (api.md §7).

use serde::{Deserialize, Serialize};

use super::assets::{
    self, require_asset_admin, save_error, visible, with_shop_names, AssetError, AssetFilter,
    CursorPage,
};
use crate::domain::assets::{IdentifierKind, IotCard};
use crate::domain::caller::Caller;
use crate::domain::identifiers::{Iccid, Msisdn, VirtualNo};
use crate::domain::stamp::Stamped;
use crate::domain::validate::{self, Invalid};
use crate::store::assets::{card_item, UniqueSwap};
use crate::store::Store;

/// List filters of cards: the shared asset filters plus exact identifiers.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CardFilter {
    /// Exact ICCID (one read).
    pub iccid: Option<String>,
    /// ICCID prefix.
    pub iccid_prefix: Option<String>,
    /// Exact MSISDN.
    pub msisdn: Option<String>,
    /// Exact virtual number.
    pub virtual_no: Option<String>,
    /// Only cards replaced (`true`) or not replaced (`false`) by an exchange.
    pub is_replaced: Option<bool>,
}

/// A card as listed: with its owner shop's name.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CardView {
    #[serde(flatten)]
    pub card: IotCard,
    pub shop_name: Option<String>,
    /// Whether an exchange replaced the card (domain.md §4.11); always false until
    /// exchanges exist.
    pub is_replaced: bool,
}

/// `PUT /api/admin/iot-cards/:id` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateCard {
    /// New virtual number; `""` clears it.
    pub virtual_no: Option<String>,
    pub enable_polling: Option<bool>,
    /// `""` clears it.
    pub remark: Option<String>,
    pub version: Option<i64>,
}

/// A page of cards visible to the caller (an enterprise account: those authorised
/// to it).
pub async fn list(
    store: &Store,
    caller: &Caller,
    exact: &CardFilter,
    mut f: AssetFilter,
    standalone_only: bool,
) -> Result<CursorPage<CardView>, AssetError> {
    let lookup = match (&exact.iccid, &exact.msisdn, &exact.virtual_no) {
        (Some(i), _, _) if !i.trim().is_empty() => {
            Some((IdentifierKind::Iccid, Iccid::parse(i)?.to_string()))
        }
        (_, Some(m), _) if !m.trim().is_empty() => {
            Some((IdentifierKind::Msisdn, Msisdn::parse(m)?.to_string()))
        }
        (_, _, Some(v)) if !v.trim().is_empty() => Some((
            IdentifierKind::CardVirtualNo,
            VirtualNo::parse(v)?.to_string(),
        )),
        _ => None,
    };
    f.prefix = exact.iccid_prefix.clone();
    let mut page = assets::list::<IotCard>(store, caller, lookup, &f, standalone_only).await?;
    if exact.is_replaced == Some(true) {
        // No card is replaced before exchanges exist.
        page.list.clear();
        page.next_cursor = None;
    }
    with_shop_names(store, page, |card, shop_name| CardView {
        card,
        shop_name,
        is_replaced: false,
    })
    .await
}

/// Edits a card's virtual number (unique among live cards), polling flag and remark.
pub async fn update(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: UpdateCard,
) -> Result<IotCard, AssetError> {
    require_asset_admin(caller)?;
    let old: IotCard = visible(store, caller, id).await?;
    if req.version.is_some_and(|v| v != old.version) {
        return Err(AssetError::VersionConflict);
    }
    let mut card = old.clone();
    if let Some(v) = &req.virtual_no {
        card.virtual_no = if v.trim().is_empty() {
            None
        } else {
            Some(VirtualNo::parse(v)?.to_string())
        };
    }
    if let Some(p) = req.enable_polling {
        card.enable_polling = p;
    }
    if let Some(r) = &req.remark {
        card.remark = validate::opt_text("remark", Some(r), 200)
            .map_err(|e: Invalid| AssetError::Invalid(e))?;
    }
    card.touch(caller.account_id, now);
    let swap = UniqueSwap {
        kind: IdentifierKind::CardVirtualNo,
        old: old.virtual_no.as_deref(),
        new: card.virtual_no.as_deref(),
    };
    store
        .save_asset(card_item(&card)?, old.version, id, &[swap])
        .await
        .map_err(save_error)?;
    Ok(card)
}
