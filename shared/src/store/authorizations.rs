//! Items of enterprise authorisations (docs/authorizations.md): the enterprise-index
//! keys of authorised assets, the authorisation records and their indexes, the
//! writes that grant and end authorisations, and where their lists read.
//!
//! - An authorised asset carries `gsi5pk = ENTCARDS#<enterprise>` (devices:
//!   `ENTDEVICES#…`), `gsi5sk = <identifier>`, derived from its `authorization` by
//!   `card_item`/`device_item`, so an enterprise's page is one Query and every
//!   write of the asset keeps it true.
//! - A record `ENTAUTH#<id>` is listed per enterprise (`gsi5`), per owner subtree
//!   of its enterprise (`gsi1`) and platform-wide in 16 shards (`gsi2`), each by
//!   `<authorized_at>#<id>`; ending it sets `revoked_at` on condition that it had
//!   none.

use std::collections::HashMap;

use super::asset_index::{root, SHARDS};
use super::cursor::Source;
use super::org::owner_sort_key;
use super::steps::{tx_of, Op};
use super::tx::{Cond, Tx, Upd};
use super::{keys, n, s, to_item, Item, On, SkCond, Store, StoreError};
use crate::domain::assets::AssetType;
use crate::domain::authorization::{AuthorizationRecord, Ended, EnterpriseAuth};
use crate::domain::shop_path::ShopPath;

/// Counter kind of authorisation record ids.
pub const RECORD_IDS: &str = "authorization";

/// Enterprise-index attributes of an asset of type `t` identified by `identifier`
/// while authorised (`auth`); none otherwise.
pub fn enterprise_index(t: AssetType, auth: Option<&EnterpriseAuth>, identifier: &str) -> Item {
    auth.map(|a| {
        Item::from([
            (
                "gsi5pk".to_string(),
                s(keys::enterprise_assets(t, a.enterprise_id)),
            ),
            ("gsi5sk".to_string(), s(identifier)),
        ])
    })
    .unwrap_or_default()
}

/// Item of an authorisation record with its three indexes.
pub fn record_item(r: &AuthorizationRecord) -> Result<Item, StoreError> {
    let mut item = to_item(r, &keys::authorization(r.id))?;
    let sort = keys::authorization_sort(&r.authorized_at, r.id);
    let path = r.enterprise_path.as_ref();
    for (name, value) in [
        ("gsi5pk", keys::enterprise_authorizations(r.enterprise_id)),
        ("gsi5sk", sort.clone()),
        ("gsi1pk", keys::authorizations_tree(path.map(root))),
        ("gsi1sk", owner_sort_key(path, &sort)),
        (
            "gsi2pk",
            keys::authorizations_all((r.id % u64::from(SHARDS)) as u32),
        ),
        ("gsi2sk", sort),
    ] {
        item.insert(name.to_string(), s(value));
    }
    Ok(item)
}

/// The update ending a record, on condition that it was live.
fn end_update(tx: Tx, e: &Ended) -> Tx {
    let mut set = "SET revoked_at = :at, end_reason = :why".to_string();
    if e.by.is_some() {
        set.push_str(", revoked_by = :by");
    }
    let mut upd = Upd::new(set)
        .value(":at", s(&e.at))
        .value(":why", s(e.reason.as_str()));
    if let Some(by) = e.by {
        upd = upd.value(":by", n(by));
    }
    tx.update(
        "record",
        &keys::authorization(e.record_id),
        upd,
        Some(Cond::new(
            "attribute_exists(pk) AND attribute_not_exists(revoked_at)",
        )),
    )
}

/// `tx` with the records of `ended` closed.
pub fn end_ops(tx: Tx, ended: &[Ended]) -> Tx {
    ended.iter().fold(tx, end_update)
}

/// One authorisation write: assets replaced at the versions they were read with,
/// records created and records ended, all or nothing.
#[derive(Debug, Default)]
pub struct AuthWrite {
    /// Asset items (`authorization` and index keys included) and their expected
    /// versions; the first is labelled `asset`, the others `card`.
    pub assets: Vec<(Item, i64)>,
    pub created: Vec<AuthorizationRecord>,
    pub ended: Vec<Ended>,
    /// A bulk task's result, first so its label is the one reported when it fails.
    pub extra: Option<Op>,
}

impl Store {
    /// Commits `w` in one transaction (at most 100 operations: `TooLarge` beyond).
    pub async fn write_authorizations(&self, w: AuthWrite) -> Result<(), StoreError> {
        let mut tx = w.extra.map_or_else(Tx::new, |op| tx_of([op]));
        for (i, (item, version)) in w.assets.into_iter().enumerate() {
            let label = if i == 0 { "asset" } else { "card" };
            tx = tx.put(label, item, Some(Cond::live().and(Cond::version(version))));
        }
        for r in &w.created {
            tx = tx.put_new("created", record_item(r)?);
        }
        self.transact(end_ops(tx, &w.ended)).await
    }
}

/// A device's enterprise grant carried to a card bound into it: the card's
/// authorisation with the grant through the device added (computed from the card
/// at `card_version`), and the grant's record.
#[derive(Debug)]
pub struct Carry {
    pub auth: EnterpriseAuth,
    pub card_version: i64,
    pub record: AuthorizationRecord,
}

/// Authorisation grants ending with an unbinding or a device's deletion: the cards
/// losing a grant (made standalone, as read at their versions) and the records to
/// close. A card not listed is made standalone by an update that keeps the rest.
#[derive(Debug, Default)]
pub struct CardEnds {
    /// Card id → its item (standalone, grants removed) and the version read.
    pub cards: HashMap<u64, (Item, i64)>,
    pub ended: Vec<Ended>,
}

impl CardEnds {
    /// `tx` with card `id` made standalone.
    pub(super) fn card_op(&self, tx: Tx, id: u64) -> Tx {
        match self.cards.get(&id) {
            Some((item, version)) => tx.put("card", item.clone(), Some(Cond::version(*version))),
            None => tx.update("card", &keys::card(id), super::assets::unbind_card(), None),
        }
    }
}

/// Filters of the authorisation-record list (absent = any).
#[derive(Clone, Debug, Default)]
pub struct RecordFilter {
    pub asset_type: Option<AssetType>,
    /// Exact ICCID (any case) or device virtual number.
    pub identifier: Option<String>,
    /// `Some(true)`: live only; `Some(false)`: ended only.
    pub active: Option<bool>,
    /// Granted at or after / at or before (RFC 3339 in the business time zone).
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Where a list of authorisation records reads from: one enterprise's (`gsi5`), an
/// agent's subtree of enterprises (`gsi1`), or every record (`gsi2`, 16 shards);
/// the date range is a key condition except in a subtree.
pub fn record_list(
    enterprise: Option<u64>,
    subtree: Option<&ShopPath>,
    f: &RecordFilter,
) -> (Source, Option<Cond>) {
    let mut conds = Vec::new();
    // Sort keys start with the grant time: `0` sorts before every one, `<to>~` after
    // every one granted at `to` or before.
    let range = match (f.from.as_deref(), f.to.as_deref()) {
        (None, None) => SkCond::Any,
        (from, to) => SkCond::Between(
            from.unwrap_or("0").to_string(),
            format!("{}~", to.unwrap_or("~")),
        ),
    };
    let source = match (enterprise, subtree) {
        (Some(e), _) => Source::new(On::Gsi5, vec![keys::enterprise_authorizations(e)], range),
        (None, Some(p)) => {
            if let Some(from) = &f.from {
                conds.push(Cond::new("authorized_at >= :from").value(":from", s(from)));
            }
            if let Some(to) = &f.to {
                conds.push(Cond::new("authorized_at <= :to").value(":to", s(to)));
            }
            Source::new(
                On::Gsi1,
                vec![keys::authorizations_tree(Some(root(p)))],
                SkCond::Prefix(p.as_str().to_string()),
            )
        }
        (None, None) => Source::new(
            On::Gsi2,
            (0..SHARDS).map(keys::authorizations_all).collect(),
            range,
        ),
    };
    if let Some(t) = f.asset_type {
        conds.push(Cond::new("asset_type = :t").value(":t", s(t.as_str())));
    }
    if let Some(i) = &f.identifier {
        // ICCIDs are stored upper case; virtual numbers keep theirs.
        conds.push(
            Cond::new("identifier IN (:i, :iu)")
                .value(":i", s(i))
                .value(":iu", s(i.to_ascii_uppercase())),
        );
    }
    match f.active {
        Some(true) => conds.push(Cond::new("attribute_not_exists(revoked_at)")),
        Some(false) => conds.push(Cond::new("attribute_exists(revoked_at)")),
        None => {}
    }
    (source, conds.into_iter().reduce(Cond::and))
}

/// Where the assets of type `t` authorised to `enterprise` are listed, from
/// identifier prefix `prefix`.
pub fn enterprise_assets(t: AssetType, enterprise: u64, prefix: &str) -> Source {
    Source::new(
        On::Gsi5,
        vec![keys::enterprise_assets(t, enterprise)],
        SkCond::Prefix(prefix.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::str_attr;

    fn record(path: Option<ShopPath>) -> AuthorizationRecord {
        AuthorizationRecord {
            id: 17,
            enterprise_id: 5,
            enterprise_path: path,
            asset_type: AssetType::Card,
            asset_id: 3,
            identifier: "8986A".into(),
            via_device_id: None,
            branch: None,
            authorized_by: 1,
            authorized_at: "2026-12-02T10:00:00+08:00".into(),
            remark: None,
            revoked_by: None,
            revoked_at: None,
            end_reason: None,
        }
    }

    #[test]
    fn records_are_indexed_by_enterprise_subtree_and_shard() {
        let item = record_item(&record(Some(ShopPath::top(4).child(9)))).unwrap();
        let sort = "2026-12-02T10:00:00+08:00#00000000000000000017";
        assert_eq!(str_attr(&item, "gsi5pk"), Some("ENTAUTHS#5"));
        assert_eq!(str_attr(&item, "gsi5sk"), Some(sort));
        assert_eq!(str_attr(&item, "gsi1pk"), Some("ENTAUTHS#T4"));
        assert_eq!(
            str_attr(&item, "gsi1sk").map(str::to_string),
            Some(format!("/4/9/#{sort}"))
        );
        assert_eq!(str_attr(&item, "gsi2pk"), Some("ENTAUTHS#ALL#1"));
        let platform = record_item(&record(None)).unwrap();
        assert_eq!(str_attr(&platform, "gsi1pk"), Some("ENTAUTHS#P"));
        assert!(str_attr(&platform, "gsi1sk").is_some_and(|k| k.starts_with("!P#")));
    }

    #[test]
    fn authorised_assets_are_in_the_enterprise_index() {
        let auth = EnterpriseAuth {
            enterprise_id: 5,
            grants: Vec::new(),
        };
        let item = enterprise_index(AssetType::Device, Some(&auth), "DV-1");
        assert_eq!(str_attr(&item, "gsi5pk"), Some("ENTDEVICES#5"));
        assert_eq!(str_attr(&item, "gsi5sk"), Some("DV-1"));
        assert!(enterprise_index(AssetType::Card, None, "8986A").is_empty());
    }
}
