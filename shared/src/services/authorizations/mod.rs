//! Enterprise authorisations (api.md §6; docs/authorizations.md): authorising cards
//! and devices to an enterprise and revoking them, per asset ([`grant`]), inside the
//! request or as a bulk task beyond 500; the lists ([`lists`]). The automatic ends
//! are written by the asset use cases that cause them (moves, deactivation, device
//! deletion, unbinding) with the rules of `domain::authorization`.

mod grant;
mod lists;

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use grant::Act;
pub use lists::{enterprise_cards, enterprise_devices, records, AuthRecordFilter};

use crate::app::AppState;
use crate::domain::assets::{AssetType, Device, IdentifierKind, IotCard};
use crate::domain::bulk::{
    BulkOp, BulkOrder, BulkOutcome, BulkResult, BulkSelection, BulkTask, SelectionKind,
    BULK_THRESHOLD,
};
use crate::domain::caller::{Caller, SA_PL_AG};
use crate::domain::entities::Enterprise;
use crate::domain::validate::Invalid;
use crate::services::assets::{queue_bulk, Asset, AssetError, BulkTaskView, SliceDone, MAX_MOVE};
use crate::services::enterprises;
use crate::store::{keys, Key, Store, StoreError};
use grant::Target;

/// `POST /api/admin/enterprises/{id}/cards/authorize` and `.../revoke` body: exactly
/// one of the three lists.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CardSelection {
    pub card_ids: Option<Vec<u64>>,
    pub iccids: Option<Vec<String>>,
    /// Card virtual numbers (at most 500: a bulk task takes ids or ICCIDs).
    pub virtual_nos: Option<Vec<String>>,
    pub remark: Option<String>,
}

/// `POST /api/admin/enterprises/{id}/devices/authorize` and `.../revoke` body:
/// exactly one of the two lists.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct DeviceSelection {
    pub device_ids: Option<Vec<u64>>,
    pub virtual_nos: Option<Vec<String>>,
    pub remark: Option<String>,
}

/// What became of one named asset.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthResult {
    Authorized,
    Revoked,
    /// Authorised already (authorise), or not authorised to the enterprise (revoke).
    Already,
    Refused,
}

/// One named asset's outcome.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemOutcome {
    /// `null` when the name matched no asset.
    pub asset_id: Option<u64>,
    /// ICCID, virtual number, or `id <n>` for an unknown id.
    pub identifier: String,
    pub result: AuthResult,
    pub reason: Option<String>,
    /// ICCIDs of the bound cards a device brought along or took back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cards: Vec<String>,
}

impl ItemOutcome {
    fn new(identifier: &str, id: Option<u64>, result: AuthResult, reason: Option<String>) -> Self {
        ItemOutcome {
            asset_id: id,
            identifier: identifier.to_string(),
            result,
            reason,
            cards: Vec::new(),
        }
    }

    fn done(identifier: &str, id: u64, act: Act, cards: Vec<String>) -> Self {
        let result = match act {
            Act::Authorize => AuthResult::Authorized,
            Act::Revoke => AuthResult::Revoked,
        };
        ItemOutcome {
            cards,
            ..Self::new(identifier, Some(id), result, None)
        }
    }

    fn already(identifier: &str, id: u64) -> Self {
        Self::new(identifier, Some(id), AuthResult::Already, None)
    }

    fn refused(identifier: &str, id: u64, why: impl Into<String>) -> Self {
        Self::new(identifier, Some(id), AuthResult::Refused, Some(why.into()))
    }

    /// A store failure: logged, answered as a refusal to retry (nothing committed,
    /// or a retry finds it done).
    fn failed(identifier: &str, id: u64, e: &StoreError) -> Self {
        tracing::warn!(error = ?e, identifier, "authorisation write failed");
        Self::refused(identifier, id, "system busy; retry")
    }
}

/// The outcome of an authorise or revoke request done inside it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuthSummary {
    /// Authorised (revoked) now.
    pub success_count: u64,
    pub already_count: u64,
    pub refused_count: u64,
    /// One per distinct name, in request order.
    pub items: Vec<ItemOutcome>,
}

impl AuthSummary {
    fn of(items: Vec<ItemOutcome>) -> Self {
        let count = |r: AuthResult| items.iter().filter(|i| i.result == r).count() as u64;
        AuthSummary {
            success_count: count(AuthResult::Authorized) + count(AuthResult::Revoked),
            already_count: count(AuthResult::Already),
            refused_count: count(AuthResult::Refused),
            items,
        }
    }
}

/// What an authorise or revoke route answers.
#[derive(Debug)]
pub enum AuthAnswer {
    /// Done inside the request (200).
    Done(AuthSummary),
    /// More than 500 assets: queued as a bulk task (202).
    Queued(Box<BulkTaskView>),
}

/// The names of one request, checked: exactly one list, 1 to 10 000 names.
enum Named {
    Ids(Vec<u64>),
    Identifiers(IdentifierKind, Vec<String>),
}

impl Named {
    fn len(&self) -> usize {
        match self {
            Named::Ids(v) => v.len(),
            Named::Identifiers(_, v) => v.len(),
        }
    }
}

/// Longest identifier a request may name (ICCIDs have 19–20 characters; virtual
/// numbers are short codes).
const MAX_IDENTIFIER: usize = 64;

fn named(
    ids: Option<Vec<u64>>,
    lists: Vec<(IdentifierKind, Option<Vec<String>>)>,
    hint: (&str, &str),
) -> Result<Named, Invalid> {
    let mut given: Vec<Named> = ids.map(Named::Ids).into_iter().collect();
    for (kind, list) in lists {
        if let Some(list) = list {
            if list
                .iter()
                .any(|v| v.trim().is_empty() || v.len() > MAX_IDENTIFIER)
            {
                return Err(Invalid::new(
                    format!("标识不能为空且最长{MAX_IDENTIFIER}个字符"),
                    format!("identifiers must be 1 to {MAX_IDENTIFIER} characters"),
                ));
            }
            let t = kind.asset_type();
            let mut values: Vec<String> = list.iter().map(|v| t.normalise(v)).collect();
            let mut seen = std::collections::HashSet::new();
            values.retain(|v| seen.insert(v.clone()));
            given.push(Named::Identifiers(kind, values));
        }
    }
    let one = given.pop().filter(|_| given.is_empty());
    let Some(mut one) = one.filter(|n| n.len() > 0) else {
        return Err(Invalid::new(
            format!("{}须且只能填写一种,且不能为空", hint.0),
            format!("give exactly one non-empty list of {}", hint.1),
        ));
    };
    if let Named::Ids(ids) = &mut one {
        let mut seen = std::collections::HashSet::new();
        ids.retain(|i| seen.insert(*i));
    }
    if one.len() > MAX_MOVE {
        return Err(Invalid::new(
            format!("每次最多{MAX_MOVE}个资产"),
            format!("at most {MAX_MOVE} assets per request"),
        ));
    }
    Ok(one)
}

/// The enterprise `caller` may authorise to or revoke from: platform staff any live
/// enterprise, an agent those its subtree owns; enterprise accounts are refused.
async fn granting_enterprise(
    store: &Store,
    caller: &Caller,
    id: u64,
) -> Result<Enterprise, AssetError> {
    caller.require(SA_PL_AG)?;
    store
        .live_entity(&keys::enterprise(id))
        .await?
        .filter(|e: &Enterprise| enterprises::sees(caller, e))
        .ok_or(AssetError::NotFound("enterprise"))
}

/// `POST /api/admin/enterprises/{id}/cards/authorize|revoke`.
pub async fn cards(
    state: &AppState,
    caller: &Caller,
    enterprise: u64,
    act: Act,
    req: CardSelection,
) -> Result<AuthAnswer, AssetError> {
    let names = named(
        req.card_ids,
        vec![
            (IdentifierKind::Iccid, req.iccids),
            (IdentifierKind::CardVirtualNo, req.virtual_nos),
        ],
        (
            "card_ids、iccids、virtual_nos",
            "card_ids, iccids or virtual_nos",
        ),
    )?;
    run::<IotCard>(state, caller, enterprise, act, names, req.remark).await
}

/// `POST /api/admin/enterprises/{id}/devices/authorize|revoke`.
pub async fn devices(
    state: &AppState,
    caller: &Caller,
    enterprise: u64,
    act: Act,
    req: DeviceSelection,
) -> Result<AuthAnswer, AssetError> {
    let names = named(
        req.device_ids,
        vec![(IdentifierKind::DeviceVirtualNo, req.virtual_nos)],
        ("device_ids、virtual_nos", "device_ids or virtual_nos"),
    )?;
    run::<Device>(state, caller, enterprise, act, names, req.remark).await
}

async fn run<A: Asset>(
    state: &AppState,
    caller: &Caller,
    enterprise: u64,
    act: Act,
    names: Named,
    remark: Option<String>,
) -> Result<AuthAnswer, AssetError> {
    let store = &state.store;
    let e = granting_enterprise(store, caller, enterprise).await?;
    let remark = remark.map(|r| r.chars().take(200).collect::<String>());
    let now = state.clock.now();
    if names.len() > BULK_THRESHOLD {
        let selection = match names {
            Named::Ids(ids) => BulkSelection::Ids(ids),
            Named::Identifiers(kind, v) if kind == IdentifierKind::primary(A::TYPE) => {
                BulkSelection::Identifiers(v)
            }
            Named::Identifiers(..) => {
                return Err(Invalid::new(
                    format!("按虚拟号每次最多{BULK_THRESHOLD}张卡"),
                    format!("at most {BULK_THRESHOLD} cards by virtual number per request"),
                )
                .into())
            }
        };
        let order = BulkOrder {
            operation: match act {
                Act::Authorize => BulkOp::Authorize,
                Act::Revoke => BulkOp::Revoke,
            },
            asset_type: A::TYPE,
            to_shop_id: None,
            enterprise_id: Some(e.id),
            selection,
            remark,
        };
        let task = queue_bulk(state, caller, &order, now).await?;
        return Ok(AuthAnswer::Queued(Box::new(task)));
    }
    let (found, missing, rank) = load::<A>(store, names).await?;
    let target = Arc::new(Target {
        enterprise: e,
        act,
        remark,
    });
    let mut outcomes = apply_all(store, caller, &target, found, now).await?;
    outcomes.sort_by_key(|o| o.asset_id.and_then(|id| rank.get(&id)).copied());
    outcomes.extend(missing);
    Ok(AuthAnswer::Done(AuthSummary::of(outcomes)))
}

/// The named assets, an outcome for each name that matched none, and the position
/// of each found asset's name in the request.
async fn load<A: Asset>(
    store: &Store,
    names: Named,
) -> Result<(Vec<A>, Vec<ItemOutcome>, HashMap<u64, usize>), AssetError> {
    let (labels, ids): (Vec<String>, Vec<Option<u64>>) = match names {
        Named::Ids(ids) => (
            ids.iter().map(|i| format!("id {i}")).collect(),
            ids.into_iter().map(Some).collect(),
        ),
        Named::Identifiers(kind, values) => {
            let wanted: Vec<(IdentifierKind, String)> =
                values.iter().map(|v| (kind, v.clone())).collect();
            let ids = store.asset_ids(&wanted, None).await?;
            (values, ids)
        }
    };
    let keys_: Vec<Key> = ids.iter().flatten().map(|id| A::key(*id)).collect();
    let list: Vec<A> = store.entities(&keys_).await?;
    let mut rank = HashMap::new();
    let mut missing = Vec::new();
    for (i, (label, id)) in labels.into_iter().zip(ids).enumerate() {
        match id.filter(|id| list.iter().any(|a| a.id() == *id)) {
            Some(id) => {
                rank.entry(id).or_insert(i);
            }
            None => missing.push(ItemOutcome::new(
                &label,
                None,
                AuthResult::Refused,
                Some("not found".into()),
            )),
        }
    }
    Ok((list, missing, rank))
}

/// Applies `t` to every asset, eight at a time; every asset gets its outcome.
async fn apply_all<A: Asset>(
    store: &Store,
    caller: &Caller,
    t: &Arc<Target>,
    assets: Vec<A>,
    now: i64,
) -> Result<Vec<ItemOutcome>, AssetError> {
    let mut out = Vec::with_capacity(assets.len());
    let mut set = tokio::task::JoinSet::new();
    let mut pending = assets.into_iter();
    loop {
        while set.len() < 8 {
            let Some(a) = pending.next() else { break };
            let (store, caller, t) = (store.clone(), caller.clone(), t.clone());
            set.spawn(crate::store::calls::inherit(async move {
                grant::apply(&store, &caller, &t, a, now, || None).await
            }));
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        out.push(done.map_err(|e| AssetError::Store(StoreError::Dynamo(e.to_string())))?);
    }
    Ok(out)
}

/// Runs the slice of authorisation task `task` that starts at its saved position: a
/// page of its list, each asset authorised or revoked, each outcome recorded where
/// the asset has none yet (a replayed slice finds its work done: `already`). Fails
/// with `NotFound` when the enterprise is gone or out of the creator's scope.
pub async fn run_slice(store: &Store, task: &BulkTask, now: i64) -> Result<SliceDone, AssetError> {
    match task.asset_type {
        AssetType::Card => slice::<IotCard>(store, task, now).await,
        AssetType::Device => slice::<Device>(store, task, now).await,
    }
}

async fn slice<A: Asset>(
    store: &Store,
    task: &BulkTask,
    now: i64,
) -> Result<SliceDone, AssetError> {
    let caller = task.creator();
    let act = match task.operation {
        BulkOp::Authorize => Act::Authorize,
        BulkOp::Revoke => Act::Revoke,
        other => {
            return Err(StoreError::Codec(format!(
                "bulk task {} is an {} task",
                task.id,
                other.as_str()
            ))
            .into())
        }
    };
    let enterprise = task
        .enterprise_id
        .ok_or(AssetError::NotFound("enterprise"))?;
    let e = granting_enterprise(store, &caller, enterprise).await?;
    let page = store
        .bulk_page(task.id, task.next_part)
        .await?
        .ok_or_else(|| StoreError::Codec(format!("bulk task {} lost a page", task.id)))?;
    let next = (task.next_part + 1 < task.pages).then(|| (task.next_part + 1, None));
    let names = match task.selection {
        SelectionKind::Ids => Named::Ids(page.ids),
        _ => Named::Identifiers(IdentifierKind::primary(A::TYPE), page.identifiers),
    };
    let (found, missing, _) = load::<A>(store, names).await?;
    let target = Arc::new(Target {
        enterprise: e,
        act,
        remark: task.remark.clone(),
    });
    let mut outcomes = apply_all(store, &caller, &target, found, now).await?;
    outcomes.extend(missing);
    let results: Vec<BulkResult> = outcomes
        .into_iter()
        .map(|o| BulkResult {
            identifier: o.identifier,
            result: match o.result {
                AuthResult::Refused => BulkOutcome::Failed,
                _ => BulkOutcome::Done,
            },
            reason: match o.result {
                AuthResult::Already => Some("already".into()),
                _ => o.reason,
            },
        })
        .collect();
    let done = results
        .iter()
        .filter(|r| r.result == BulkOutcome::Done)
        .count() as u64;
    store
        .put_bulk_refusals(task.id, &results, &crate::clock::rfc3339(now))
        .await?;
    Ok(SliceDone {
        moved: done,
        failed: results.len() as u64 - done,
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_its_assets_one_way() {
        let none: Vec<(IdentifierKind, Option<Vec<String>>)> = vec![
            (IdentifierKind::Iccid, None),
            (IdentifierKind::CardVirtualNo, None),
        ];
        assert!(named(None, none.clone(), ("x", "x")).is_err());
        assert!(named(Some(vec![]), none.clone(), ("x", "x")).is_err());
        let both = vec![
            (IdentifierKind::Iccid, Some(vec!["a".to_string()])),
            (IdentifierKind::CardVirtualNo, None),
        ];
        assert!(named(Some(vec![1]), both.clone(), ("x", "x")).is_err());
        let Ok(Named::Identifiers(kind, v)) = named(None, both, ("x", "x")) else {
            panic!("identifiers")
        };
        assert_eq!((kind, v), (IdentifierKind::Iccid, vec!["A".to_string()]));
        let Ok(Named::Ids(ids)) = named(Some(vec![3, 3, 4]), none.clone(), ("x", "x")) else {
            panic!("ids")
        };
        assert_eq!(ids, vec![3, 4], "named twice, done once");
        let too_many = (0..=MAX_MOVE as u64).collect();
        assert!(named(Some(too_many), none, ("x", "x")).is_err());
    }
}
