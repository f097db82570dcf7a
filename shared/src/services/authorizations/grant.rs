//! Authorising one asset to an enterprise, or revoking it: the rules of
//! `domain::authorization` applied to the asset as read, written in one transaction
//! conditioned on the versions read (a device with its bound cards), re-read and
//! redone when someone changed it in between.

use super::ItemOutcome;
use crate::clock::rfc3339;
use crate::domain::assets::{AssetStatus, AssetType, IotCard};
use crate::domain::authorization::{
    add_grant, ended, remove_grants, AuthGrant, AuthorizationRecord, EndReason, Granted,
};
use crate::domain::caller::Caller;
use crate::domain::entities::Enterprise;
use crate::domain::stamp::Stamped;
use crate::services::assets::{out_of_reach, without_device_grant, Asset};
use crate::store::authorizations::{AuthWrite, RECORD_IDS};
use crate::store::steps::Op;
use crate::store::{Store, StoreError};

/// Attempts one asset gets when others change it meanwhile.
const ATTEMPTS: usize = 3;

/// Grant or take back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    Authorize,
    Revoke,
}

/// What one request does to each of its assets.
pub struct Target {
    pub enterprise: Enterprise,
    pub act: Act,
    pub remark: Option<String>,
}

/// What the transaction for one asset holds, or why there is none.
enum Plan {
    Write(Box<AuthWrite>, Vec<String>),
    Already,
    Refused(String),
}

/// Authorises or revokes `asset` for `t` as `caller` at `now`; `result` makes the op
/// a bulk task writes with it. Never fails: every asset gets its outcome.
pub async fn apply<A: Asset>(
    store: &Store,
    caller: &Caller,
    t: &Target,
    mut asset: A,
    now: i64,
    result: impl Fn() -> Option<Op>,
) -> ItemOutcome {
    let identifier = asset.identifier().to_string();
    for attempt in 0..ATTEMPTS {
        let plan = match plan(store, caller, t, &asset, now).await {
            Ok(p) => p,
            Err(e) => return ItemOutcome::failed(&identifier, asset.id(), &e),
        };
        let (mut write, cards) = match plan {
            Plan::Write(w, cards) => (*w, cards),
            Plan::Already => return ItemOutcome::already(&identifier, asset.id()),
            Plan::Refused(why) => return ItemOutcome::refused(&identifier, asset.id(), why),
        };
        write.extra = result();
        match store.write_authorizations(write).await {
            Ok(()) => return ItemOutcome::done(&identifier, asset.id(), t.act, cards),
            Err(StoreError::ConditionFailed { .. }) if attempt + 1 < ATTEMPTS => {
                match store.get_as::<A>(&A::key(asset.id())).await {
                    Ok(Some(fresh)) => asset = fresh,
                    Ok(None) => return ItemOutcome::refused(&identifier, asset.id(), "not found"),
                    Err(e) => return ItemOutcome::failed(&identifier, asset.id(), &e),
                }
            }
            Err(StoreError::TooLarge { .. }) => {
                return ItemOutcome::refused(
                    &identifier,
                    asset.id(),
                    "too many bound cards for one transaction",
                )
            }
            Err(e) => return ItemOutcome::failed(&identifier, asset.id(), &e),
        }
    }
    ItemOutcome::refused(&identifier, asset.id(), "changed concurrently; retry")
}

async fn plan<A: Asset>(
    store: &Store,
    caller: &Caller,
    t: &Target,
    a: &A,
    now: i64,
) -> Result<Plan, StoreError> {
    // Platform staff reach any live asset, an agent those its subtree holds; the
    // others are answered as unknown.
    if out_of_reach(caller, a) {
        return Ok(Plan::Refused("not found".into()));
    }
    match t.act {
        Act::Authorize => grant(store, caller, t, a, now).await,
        Act::Revoke => revoke(store, caller, t, a, now).await,
    }
}

/// The cards bound to device `id`, live ones only.
async fn bound_cards(store: &Store, id: u64) -> Result<Vec<IotCard>, StoreError> {
    Ok(store
        .bound_cards(id)
        .await?
        .into_iter()
        .map(|(_, c)| c)
        .filter(|c| c.deleted_at.is_none())
        .collect())
}

fn record<A: Asset>(
    id: u64,
    t: &Target,
    a: &A,
    via: Option<u64>,
    g: &AuthGrant,
) -> AuthorizationRecord {
    AuthorizationRecord {
        id,
        enterprise_id: t.enterprise.id,
        enterprise_path: t.enterprise.owner_path.clone(),
        asset_type: A::TYPE,
        asset_id: a.id(),
        identifier: a.identifier().to_string(),
        via_device_id: via,
        branch: g.branch.clone(),
        authorized_by: g.authorized_by,
        authorized_at: g.authorized_at.clone(),
        remark: t.remark.clone(),
        revoked_by: None,
        revoked_at: None,
        end_reason: None,
    }
}

async fn grant<A: Asset>(
    store: &Store,
    caller: &Caller,
    t: &Target,
    a: &A,
    now: i64,
) -> Result<Plan, StoreError> {
    if a.asset_status() == AssetStatus::Deactivated {
        return Ok(Plan::Refused(
            "asset_status 4 (deactivated) cannot be authorised".into(),
        ));
    }
    let enterprise = t.enterprise.id;
    let mut g = AuthGrant {
        record_id: 0,
        via_device_id: None,
        // An agent's grant lives in its subtree; the platform's where the asset is.
        branch: caller.shop_path.clone().or_else(|| a.owner().cloned()),
        authorized_by: caller.account_id,
        authorized_at: rfc3339(now),
    };
    let mut probe = a.authorization().cloned();
    match add_grant(&mut probe, enterprise, g.clone()) {
        Granted::Already => return Ok(Plan::Already),
        Granted::Elsewhere(_) => {
            return Ok(Plan::Refused(
                "authorised to another enterprise; revoke it there first".into(),
            ))
        }
        Granted::New => {}
    }
    let cards = match A::TYPE {
        AssetType::Device => bound_cards(store, a.id()).await?,
        AssetType::Card => Vec::new(),
    };
    if let Some(c) = cards.iter().find(|c| {
        c.authorization
            .as_ref()
            .is_some_and(|x| x.enterprise_id != enterprise)
    }) {
        return Ok(Plan::Refused(format!(
            "bound card {} is authorised to another enterprise",
            c.iccid
        )));
    }
    let first = store.next_ids(RECORD_IDS, 1 + cards.len() as u64).await?;
    g.record_id = first;
    let mut moved = a.clone();
    add_grant(moved.authorization_mut(), enterprise, g.clone());
    moved.touch(caller.account_id, now);
    let mut w = AuthWrite {
        assets: vec![(moved.item()?, a.version())],
        created: vec![record(first, t, a, None, &g)],
        ..AuthWrite::default()
    };
    let mut carried = Vec::new();
    for (i, card) in cards.into_iter().enumerate() {
        let via = AuthGrant {
            record_id: first + 1 + i as u64,
            via_device_id: Some(a.id()),
            ..g.clone()
        };
        let mut c = card.clone();
        if add_grant(&mut c.authorization, enterprise, via.clone()) != Granted::New {
            continue;
        }
        c.touch(caller.account_id, now);
        w.created
            .push(record(via.record_id, t, &card, Some(a.id()), &via));
        w.assets.push((c.item()?, card.version));
        carried.push(card.iccid);
    }
    Ok(Plan::Write(Box::new(w), carried))
}

async fn revoke<A: Asset>(
    store: &Store,
    caller: &Caller,
    t: &Target,
    a: &A,
    now: i64,
) -> Result<Plan, StoreError> {
    let enterprise = t.enterprise.id;
    let at = rfc3339(now);
    let by = Some(caller.account_id);
    if a.authorization().map(|x| x.enterprise_id) != Some(enterprise) {
        return Ok(Plan::Already);
    }
    let mut moved = a.clone();
    let gone = remove_grants(moved.authorization_mut(), |g| g.via_device_id.is_none());
    if gone.is_empty() {
        let device = a
            .authorization()
            .and_then(|x| x.grants.iter().find_map(|g| g.via_device_id))
            .unwrap_or_default();
        return Ok(Plan::Refused(format!(
            "authorised through device {device}; revoke the device"
        )));
    }
    moved.touch(caller.account_id, now);
    let mut w = AuthWrite {
        assets: vec![(moved.item()?, a.version())],
        ended: ended(&gone, EndReason::Revoked, by, &at),
        ..AuthWrite::default()
    };
    let mut carried = Vec::new();
    if A::TYPE == AssetType::Device {
        for card in bound_cards(store, a.id()).await? {
            let by = caller.account_id;
            if let Some((c, gone)) =
                without_device_grant(&card, a.id(), EndReason::DeviceRevoked, by, now)
            {
                w.ended.extend(gone);
                w.assets.push((c.item()?, card.version));
                carried.push(card.iccid);
            }
        }
    }
    Ok(Plan::Write(Box::new(w), carried))
}
