//! Enterprises: customers owned by a shop or by the platform (api.md §6).

use crate::domain::stamp::Stamped;
use serde::{Deserialize, Serialize};

use super::org::{
    self, check_version, patch_opt, soft_delete_tx, stamp, tallied, version_conflict, OrgError,
    Rename,
};
use crate::domain::caller::{Caller, Scope, ANY_ADMIN, SA_PL_AG};
use crate::domain::entities::{Enterprise, Shop};
use crate::domain::org::{Status, UserType};
use crate::domain::validate::{self, filter_term};
use crate::paging::{CursorPage, PageQuery};
use crate::services::shops::shop_names_with;
use crate::store::keys::{self, gsi1};
use crate::store::lists::{self, Filter};
use crate::store::org::{enterprise_item, unique_item};
use crate::store::tally::{self, Counted, Tally};
use crate::store::tx::{Cond, Tx};
use crate::store::Store;

/// `POST /api/admin/enterprises` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateEnterprise {
    pub enterprise_name: String,
    pub enterprise_code: String,
    /// Owner shop; absent = the platform (agents: their own shop by default).
    pub owner_shop_id: Option<u64>,
    pub status: Option<Status>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
}

/// `PUT /api/admin/enterprises/:id` body (the owner shop cannot change).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateEnterprise {
    pub enterprise_name: Option<String>,
    pub enterprise_code: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    pub version: Option<i64>,
}

/// List filters of `GET /api/admin/enterprises`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EnterpriseFilter {
    pub enterprise_name: Option<String>,
    pub enterprise_code: Option<String>,
    pub owner_shop_id: Option<u64>,
    pub status: Option<i64>,
}

/// An enterprise with its owner shop's name (shown even if that shop is deleted).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EnterpriseView {
    #[serde(flatten)]
    pub enterprise: Enterprise,
    pub owner_shop_name: Option<String>,
}

/// Whether `caller` may see enterprise `e` (an enterprise account: its own).
pub fn sees(caller: &Caller, e: &Enterprise) -> bool {
    match caller.scope() {
        Scope::Enterprise(id) => e.id == id,
        _ => caller.sees_shop_owned(e.owner_path.as_ref()),
    }
}

/// A live enterprise the caller may see; others look missing.
pub async fn visible_enterprise(
    store: &Store,
    caller: &Caller,
    id: u64,
) -> Result<Enterprise, OrgError> {
    let e: Enterprise = store
        .live_entity(&keys::enterprise(id))
        .await?
        .ok_or(OrgError::NotFound("enterprise"))?;
    if !sees(caller, &e) {
        return Err(OrgError::NotFound("enterprise"));
    }
    Ok(e)
}

async fn views(store: &Store, list: Vec<Enterprise>) -> Result<Vec<EnterpriseView>, OrgError> {
    Ok(views_with(store, list, None).await?.0)
}

/// Adds the owner shops' names, reading the count `tally` in the same batch.
async fn views_with(
    store: &Store,
    list: Vec<Enterprise>,
    tally: Option<&Tally>,
) -> Result<(Vec<EnterpriseView>, Option<u64>), OrgError> {
    let mut ids: Vec<u64> = list.iter().filter_map(|e| e.owner_shop_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let (names, total) = shop_names_with(store, &ids, tally).await?;
    let views = list
        .into_iter()
        .map(|enterprise| {
            let owner_shop_name = enterprise
                .owner_shop_id
                .and_then(|sid| names.iter().find(|(id, _)| *id == sid))
                .map(|(_, n)| n.clone());
            EnterpriseView {
                enterprise,
                owner_shop_name,
            }
        })
        .collect();
    Ok((views, total))
}

/// Creates an enterprise owned by a shop of the caller's subtree or by the platform.
pub async fn create(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: CreateEnterprise,
) -> Result<EnterpriseView, OrgError> {
    caller.require(SA_PL_AG)?;
    let name = validate::text("enterprise_name", &req.enterprise_name, 100)?;
    let code = validate::code("enterprise_code", &req.enterprise_code)?;
    let contact_phone = validate::opt_phone("contact_phone", req.contact_phone.as_deref())?;
    let opt = |f: &str, v: &Option<String>, max| validate::opt_text(f, v.as_deref(), max);
    let owner_id = match (caller.user_type, req.owner_shop_id) {
        (UserType::Agent, None) => caller.shop_id,
        (_, o) => o,
    };
    let mut tx = Tx::new();
    let owner: Option<Shop> = match owner_id {
        None => None,
        Some(sid) => {
            let shop: Shop = store
                .live_entity(&keys::shop(sid))
                .await?
                .filter(|s: &Shop| caller.sees_shop_owned(Some(&s.path)))
                .ok_or(OrgError::OwnerShopNotFound)?;
            tx = tx.check("owner", &keys::shop(sid), Cond::live());
            Some(shop)
        }
    };
    let id = store.next_id("enterprise").await?;
    let at = stamp(now);
    let e = Enterprise {
        id,
        enterprise_name: name,
        enterprise_code: code.clone(),
        owner_shop_id: owner.as_ref().map(|s| s.id),
        owner_path: owner.as_ref().map(|s| s.path.clone()),
        status: req.status.unwrap_or(Status::Enabled),
        contact_name: opt("contact_name", &req.contact_name, 50)?,
        contact_phone,
        province: opt("province", &req.province, 50)?,
        city: opt("city", &req.city, 50)?,
        district: opt("district", &req.district, 50)?,
        address: opt("address", &req.address, 200)?,
        created_at: at.clone(),
        updated_at: at,
        deleted_at: None,
        creator: caller.account_id,
        updater: caller.account_id,
        version: 1,
    };
    let tx = tx
        .put_new("enterprise", enterprise_item(&e)?)
        .put_new("enterprise_code", unique_item("enterprise_code", &code, id));
    let tx = tally::count(tx, e.owner_path.as_ref(), &[(Counted::Enterprises, 1)]);
    store
        .transact(tx)
        .await
        .map_err(|err| match err.failed_label() {
            Some("enterprise_code") => OrgError::DuplicateEnterpriseCode,
            Some("owner") => OrgError::OwnerShopNotFound,
            _ => err.into(),
        })?;
    Ok(views(store, vec![e]).await?.remove(0))
}

/// One enterprise.
pub async fn get(store: &Store, caller: &Caller, id: u64) -> Result<EnterpriseView, OrgError> {
    caller.require(ANY_ADMIN)?;
    let e = visible_enterprise(store, caller, id).await?;
    Ok(views(store, vec![e]).await?.remove(0))
}

/// One page of the enterprises of the caller's scope matching `f` (an enterprise
/// account sees only its own), by owner path: one Query (two when a filter drops
/// items), then one batch read of the owner shops' names and, unfiltered, the
/// scope's enterprise count.
pub async fn list(
    store: &Store,
    caller: &Caller,
    f: &EnterpriseFilter,
    page: &PageQuery,
) -> Result<CursorPage<EnterpriseView>, OrgError> {
    caller.require(ANY_ADMIN)?;
    let (cursor, size) = page.parse()?;
    let name = filter_term(f.enterprise_name.as_deref());
    let code = filter_term(f.enterprise_code.as_deref());
    let filtered =
        name.is_some() || code.is_some() || f.owner_shop_id.is_some() || f.status.is_some();
    let prefix = match caller.scope() {
        Scope::Enterprise(id) => {
            // One enterprise at most: read it and apply the filters here.
            let own: Option<Enterprise> = store.live_entity(&keys::enterprise(id)).await?;
            let list: Vec<Enterprise> = own
                .into_iter()
                .filter(|e| name.is_none_or(|n| e.enterprise_name.contains(n)))
                .filter(|e| code.is_none_or(|c| e.enterprise_code == c))
                .filter(|e| f.owner_shop_id.is_none_or(|o| e.owner_shop_id == Some(o)))
                .filter(|e| f.status.is_none_or(|s| i64::from(e.status) == s))
                .collect();
            let total = (!filtered).then_some(list.len() as u64);
            let list = views(store, list).await?;
            return Ok(CursorPage::new(list, size, None).with_total(total));
        }
        Scope::Subtree(p) => p.as_str(),
        Scope::All => "",
    };
    let filter = Filter::new()
        .contains("enterprise_name", name)
        .eq_str("enterprise_code", code)
        .eq_id("owner_shop_id", f.owner_shop_id)
        .eq("status", f.status);
    let source = lists::scope(gsi1::ENTERPRISES, prefix);
    let mut page = store
        .read_page(&source, filter.cond(), size, cursor, |e: &Enterprise| {
            sees(caller, e)
        })
        .await?;
    let tally = tallied(caller)
        .filter(|_| !filtered)
        .map(|t| Tally::of(t, Counted::Enterprises));
    let (list, total) = views_with(store, std::mem::take(&mut page.list), tally.as_ref()).await?;
    Ok(page.with_list(list).with_total(total))
}

/// Updates name, code and contact fields.
pub async fn update(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: UpdateEnterprise,
) -> Result<EnterpriseView, OrgError> {
    caller.require(SA_PL_AG)?;
    let old = visible_enterprise(store, caller, id).await?;
    check_version(req.version, old.version)?;
    let mut e = old.clone();
    if let Some(n) = &req.enterprise_name {
        e.enterprise_name = validate::text("enterprise_name", n, 100)?;
    }
    if let Some(c) = &req.enterprise_code {
        e.enterprise_code = validate::code("enterprise_code", c)?;
    }
    if let Some(p) = &req.contact_phone {
        e.contact_phone = validate::opt_phone("contact_phone", Some(p))?;
    }
    patch_opt(
        &mut e.contact_name,
        "contact_name",
        req.contact_name.as_deref(),
        50,
    )?;
    patch_opt(&mut e.province, "province", req.province.as_deref(), 50)?;
    patch_opt(&mut e.city, "city", req.city.as_deref(), 50)?;
    patch_opt(&mut e.district, "district", req.district.as_deref(), 50)?;
    patch_opt(&mut e.address, "address", req.address.as_deref(), 200)?;
    save(store, caller, now, &old, e).await
}

/// Enables or disables an enterprise (its account cannot log in while disabled).
pub async fn set_status(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    status: Status,
) -> Result<EnterpriseView, OrgError> {
    caller.require(SA_PL_AG)?;
    let old = visible_enterprise(store, caller, id).await?;
    let mut e = old.clone();
    e.status = status;
    save(store, caller, now, &old, e).await
}

async fn save(
    store: &Store,
    caller: &Caller,
    now: i64,
    old: &Enterprise,
    mut e: Enterprise,
) -> Result<EnterpriseView, OrgError> {
    e.touch(caller.account_id, now);
    let rename = Rename::of(
        "enterprise_code",
        &old.enterprise_code,
        &e.enterprise_code,
        e.id,
    );
    org::save(
        store,
        enterprise_item(&e)?,
        old.version,
        rename,
        OrgError::DuplicateEnterpriseCode,
    )
    .await?;
    Ok(views(store, vec![e]).await?.remove(0))
}

/// Soft-deletes an enterprise that no longer has an account.
pub async fn delete(store: &Store, caller: &Caller, now: i64, id: u64) -> Result<(), OrgError> {
    caller.require(SA_PL_AG)?;
    let old = visible_enterprise(store, caller, id).await?;
    let mut e = old.clone();
    e.touch(caller.account_id, now);
    let release = [keys::unique("enterprise_code", &old.enterprise_code)];
    let tx = soft_delete_tx(enterprise_item(&e)?, old.version, now, None, &release).check(
        "enterprise_account",
        &keys::unique("enterprise_account", &id.to_string()),
        Cond::absent(),
    );
    let tx = tally::count(tx, old.owner_path.as_ref(), &[(Counted::Enterprises, -1)]);
    store
        .transact(tx)
        .await
        .map_err(|err| match err.failed_label() {
            Some("enterprise_account") => OrgError::EnterpriseHasAccount,
            _ => version_conflict(err),
        })
}
