//! IoT cards: lists (all and standalone), exact lookups, edits (api.md §7).

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::assets::{
    self, require_asset_admin, swap_unique, visible, AssetError, AssetFilter, CursorPage,
};
use crate::domain::assets::IotCard;
use crate::domain::caller::Caller;
use crate::domain::identifiers::{Iccid, Msisdn, VirtualNo};
use crate::domain::stamp::Stamped;
use crate::domain::validate::{self, Invalid};
use crate::store::assets::card_item;
use crate::store::tx::{Cond, Tx};
use crate::store::Store;

/// List filters of cards: the shared asset filters plus exact identifiers.
#[derive(Debug, Default, Deserialize)]
pub struct CardFilter {
    /// Exact ICCID (one read).
    pub iccid: Option<String>,
    /// ICCID prefix.
    pub iccid_prefix: Option<String>,
    /// Exact MSISDN.
    pub msisdn: Option<String>,
    /// Exact virtual number.
    pub virtual_no: Option<String>,
}

/// A card as listed: with its owner shop's name.
#[derive(Debug, Serialize, Deserialize)]
pub struct CardView {
    #[serde(flatten)]
    pub card: IotCard,
    pub shop_name: Option<String>,
}

/// `PUT /api/admin/iot-cards/:id` body.
#[derive(Debug, Deserialize)]
pub struct UpdateCard {
    /// New virtual number; `""` clears it.
    pub virtual_no: Option<String>,
    pub enable_polling: Option<bool>,
    /// `""` clears it.
    pub remark: Option<String>,
    pub version: Option<i64>,
}

/// A page of cards visible to the caller.
pub async fn list(
    store: &Store,
    caller: &Caller,
    exact: &CardFilter,
    mut f: AssetFilter,
    standalone_only: bool,
) -> Result<CursorPage<CardView>, AssetError> {
    require_asset_admin(caller)?;
    let lookup = match (&exact.iccid, &exact.msisdn, &exact.virtual_no) {
        (Some(i), _, _) if !i.trim().is_empty() => Some(("iccid", Iccid::parse(i)?.to_string())),
        (_, Some(m), _) if !m.trim().is_empty() => Some(("msisdn", Msisdn::parse(m)?.to_string())),
        (_, _, Some(v)) if !v.trim().is_empty() => {
            Some(("card_virtual_no", VirtualNo::parse(v)?.to_string()))
        }
        _ => None,
    };
    let page = match lookup {
        Some((kind, value)) => {
            let found = assets::find::<IotCard>(store, kind, &value).await?;
            let list = found
                .into_iter()
                .filter(|c| c.deleted_at.is_none() && caller.sees_shop_owned(c.owner_path.as_ref()))
                .filter(|c| !standalone_only || c.is_standalone)
                .collect();
            CursorPage {
                list,
                page_size: f.page_size.unwrap_or(20),
                next_cursor: None,
            }
        }
        None => {
            f.prefix = exact.iccid_prefix.clone();
            let extra = standalone_only.then(|| {
                Cond::new("is_standalone = :standalone")
                    .value(":standalone", AttributeValue::Bool(true))
            });
            assets::list::<IotCard>(store, caller, &f, extra).await?
        }
    };
    let names = assets::owner_names(store, &page.list).await?;
    let list = page
        .list
        .into_iter()
        .map(|card| CardView {
            shop_name: card.shop_id.and_then(|s| names.get(&s).cloned()),
            card,
        })
        .collect();
    Ok(CursorPage {
        list,
        page_size: page.page_size,
        next_cursor: page.next_cursor,
    })
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
    let tx = Tx::new().put(
        "card",
        card_item(&card)?,
        Some(Cond::live().and(Cond::version(old.version))),
    );
    let tx = swap_unique(
        tx,
        "card_virtual_no",
        "virtual_no",
        old.virtual_no.as_ref(),
        card.virtual_no.as_ref(),
        id,
    );
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("virtual_no") => AssetError::DuplicateVirtualNo,
            Some(_) => AssetError::VersionConflict,
            None => e.into(),
        })?;
    Ok(card)
}
