//! Counts of live items that lists answer as `total`, kept inside the transactions
//! that create and delete what they count (never a read-modify-write of their own):
//! one platform-wide item per kind (`TALLY#<kind>`, attribute `live`) and, for
//! agents, one item per shop (`SHOP#<id>/TALLY`) counting the shops, accounts and
//! enterprises of its subtree (itself included) and the grants it issued. A creation
//! or deletion moves the count of every shop on the owner's path (at most 7).
//! See `docs/data-model.md`.

use super::keys;
use super::tx::{Tx, Upd};
use super::{n, num_attr, Item, Key, Store, StoreError};
use crate::domain::grants::Grantor;
use crate::domain::shop_path::ShopPath;

/// What a tally counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    /// Live shops.
    Shops,
    /// Live accounts.
    Accounts,
    /// Live enterprises.
    Enterprises,
    /// Live roles (platform only).
    Roles,
    /// Live carriers (platform only).
    Carriers,
    /// Live package series (platform only).
    Series,
    /// Live packages (platform only).
    Packages,
    /// Grants in the `ready` phase (platform: all; a shop: those it issued).
    Grants,
}

impl Counted {
    /// The tally's kind (platform item) and attribute (shop item).
    pub fn name(self) -> &'static str {
        match self {
            Counted::Shops => "shops",
            Counted::Accounts => "accounts",
            Counted::Enterprises => "enterprises",
            Counted::Roles => "roles",
            Counted::Carriers => "carriers",
            Counted::Series => "series",
            Counted::Packages => "packages",
            Counted::Grants => "grants",
        }
    }
}

/// Attribute of a platform-wide tally item.
const LIVE: &str = "live";

/// Label of tally writes in a transaction (they carry no condition).
const LABEL: &str = "tally";

/// Whose count a list reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tallied {
    /// Everything (platform staff).
    Platform,
    /// A shop's subtree (an agent's scope) or, for grants, what it issued.
    Shop(u64),
}

/// One count to read.
#[derive(Clone, Debug)]
pub struct Tally {
    key: Key,
    attr: &'static str,
}

impl Tally {
    /// The count of `kind` in `scope`.
    pub fn of(scope: Tallied, kind: Counted) -> Self {
        match scope {
            Tallied::Platform => Tally {
                key: keys::tally(kind.name()),
                attr: LIVE,
            },
            Tallied::Shop(id) => Tally {
                key: keys::shop_tally(id),
                attr: kind.name(),
            },
        }
    }

    /// The item holding the count.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The count in `item` (0 when nothing was counted yet).
    fn value(&self, item: Option<&Item>) -> u64 {
        item.and_then(|i| num_attr(i, self.attr))
            .map_or(0, |v| u64::try_from(v).unwrap_or(0))
    }
}

/// `ADD` of each `(attribute, delta)`.
fn add(moves: &[(&str, i64)]) -> Upd {
    let expr: Vec<String> = (0..moves.len()).map(|i| format!("#t{i} :t{i}")).collect();
    let mut upd = Upd::new(format!("ADD {}", expr.join(", ")));
    for (i, (attr, delta)) in moves.iter().enumerate() {
        upd = upd
            .name(&format!("#t{i}"), attr)
            .value(&format!(":t{i}"), n(delta));
    }
    upd
}

/// Adds to `tx` the moves `(kind, delta)` of the platform-wide tallies and of the
/// subtree tally of every shop on `owner` (the owner shop and its ancestors; none
/// for platform-owned items): at most 7 + `moves.len()` operations.
pub fn count(mut tx: Tx, owner: Option<&ShopPath>, moves: &[(Counted, i64)]) -> Tx {
    for (kind, delta) in moves {
        tx = tx.update(
            LABEL,
            &keys::tally(kind.name()),
            add(&[(LIVE, *delta)]),
            None,
        );
    }
    let named: Vec<(&str, i64)> = moves.iter().map(|(k, d)| (k.name(), *d)).collect();
    for shop in owner.map(ShopPath::ids).unwrap_or_default() {
        tx = tx.update(LABEL, &keys::shop_tally(shop), add(&named), None);
    }
    tx
}

/// Adds to `tx` a move by `delta` of the ready grants: the platform-wide count and,
/// for an agent grantor, the count of grants its shop issued.
pub fn count_issued(tx: Tx, grantor: Grantor, delta: i64) -> Tx {
    let tx = tx.update(
        LABEL,
        &keys::tally(Counted::Grants.name()),
        add(&[(LIVE, delta)]),
        None,
    );
    match grantor {
        Grantor::Platform => tx,
        Grantor::Shop(shop) => tx.update(
            LABEL,
            &keys::shop_tally(shop),
            add(&[(Counted::Grants.name(), delta)]),
            None,
        ),
    }
}

/// A new shop's subtree tally holding `shops` shops and `accounts` accounts (for
/// seeding a tenant in bulk; the services move tallies with [`count`]).
pub fn subtree_tally(shop: u64, shops: u64, accounts: u64) -> Item {
    let mut item = keys::shop_tally(shop).item();
    item.insert(Counted::Shops.name().into(), n(shops));
    item.insert(Counted::Accounts.name().into(), n(accounts));
    item
}

impl Store {
    /// Reads one count (one `GetItem`).
    pub async fn tally(&self, t: &Tally) -> Result<u64, StoreError> {
        Ok(t.value(self.get(&t.key).await?.as_ref()))
    }

    /// Reads `keys` and, when asked, a count in one batch: the items found (the
    /// tally's excluded) and the count. No call when there is nothing to read.
    pub async fn get_with_tally(
        &self,
        keys: &[Key],
        t: Option<&Tally>,
    ) -> Result<(Vec<Item>, Option<u64>), StoreError> {
        let mut all = keys.to_vec();
        all.extend(t.map(|t| t.key.clone()));
        let mut items = self.get_many(&all).await?;
        let count = t.map(|t| {
            let pos = items.iter().position(|i| t.key.matches(i));
            t.value(pos.map(|p| items.swap_remove(p)).as_ref())
        });
        Ok((items, count))
    }
}
