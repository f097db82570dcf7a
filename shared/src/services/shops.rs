//! Shops: the agent tree of up to 7 levels (domain.md §2.2–2.3, api.md §5).

use crate::domain::stamp::Stamped;
use serde::{Deserialize, Serialize};

use super::org::{
    self, check_version, distinct, links_failed, live_roles, patch_opt, soft_delete_tx, stamp,
    tallied, version_conflict, OrgError, Rename,
};
use crate::domain::caller::{Caller, SA_PL, SA_PL_AG};
use crate::domain::entities::{AccountRecord, AgentWallet, Role, Shop};
use crate::domain::org::{RoleType, Status, UserType, WalletKind};
use crate::domain::password;
use crate::domain::shop_path::{ShopPath, MAX_SHOP_LEVEL};
use crate::domain::validate::{self, filter_term};
use crate::paging::{CursorPage, PageQuery};
use crate::services::auth::username_item;
use crate::store::keys::{self, gsi1};
use crate::store::links::{hold_role, release_roles, Links};
use crate::store::lists::{self, Filter};
use crate::store::org::{
    account_item, role_is, role_is_enabled, shop_has_no_children, shop_item, unique_item,
};
use crate::store::tally::{self, Counted, Tally};
use crate::store::tx::{Cond, Tx, Upd};
use crate::store::{from_item, num_attr, to_item, Key, Store, StoreError};

/// Initial agent account created with a shop.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InitialAccount {
    pub username: String,
    pub password: String,
    pub phone: Option<String>,
}

/// `POST /api/admin/shops` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateShop {
    pub shop_name: String,
    pub shop_code: String,
    pub parent_id: Option<u64>,
    pub default_role_id: u64,
    pub initial_account: InitialAccount,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
}

/// `PUT /api/admin/shops/:id` body; absent fields stay, `""` clears optional text.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateShop {
    pub shop_name: Option<String>,
    pub shop_code: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    /// When given, the update applies only to this version.
    pub version: Option<i64>,
}

/// List filters of `GET /api/admin/shops`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShopFilter {
    /// Substring of the name.
    pub shop_name: Option<String>,
    /// Exact code.
    pub shop_code: Option<String>,
    pub parent_id: Option<u64>,
    pub level: Option<u8>,
    pub status: Option<i64>,
}

/// A shop with its parent's name (shown even when the parent is soft-deleted).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShopView {
    #[serde(flatten)]
    pub shop: Shop,
    pub parent_shop_name: Option<String>,
}

/// `PUT /api/admin/shops/:id/roles` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ShopRoles {
    pub role_ids: Vec<u64>,
}

/// Most roles a shop may be given in one request.
pub const MAX_SHOP_ROLES: usize = 40;

/// Loads a live shop the caller may see; out-of-scope shops look missing.
pub async fn visible_shop(store: &Store, caller: &Caller, id: u64) -> Result<Shop, OrgError> {
    let shop: Shop = store
        .live_entity(&keys::shop(id))
        .await?
        .ok_or(OrgError::NotFound("shop"))?;
    if !caller.sees_shop_owned(Some(&shop.path)) {
        return Err(OrgError::NotFound("shop"));
    }
    Ok(shop)
}

/// Creates a shop with its initial account, default role links and two wallets, all
/// in one transaction.
pub async fn create(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: CreateShop,
) -> Result<ShopView, OrgError> {
    caller.require(SA_PL_AG)?;
    let shop_name = validate::text("shop_name", &req.shop_name, 100)?;
    let shop_code = validate::code("shop_code", &req.shop_code)?;
    let username = validate::username(&req.initial_account.username)?;
    let pass = validate::password("initial_account.password", &req.initial_account.password)?;
    let phone = validate::opt_phone(
        "initial_account.phone",
        req.initial_account.phone.as_deref(),
    )?;
    let contact_phone = validate::opt_phone("contact_phone", req.contact_phone.as_deref())?;
    let opt = |f: &str, v: &Option<String>, max| validate::opt_text(f, v.as_deref(), max);

    let parent_id = match (caller.user_type, req.parent_id) {
        (UserType::Agent, None) => caller.shop_id,
        (_, p) => p,
    };
    let parent = match parent_id {
        None => None,
        Some(pid) => {
            let parent: Option<Shop> = store.live_entity(&keys::shop(pid)).await?;
            match parent {
                Some(p) if caller.sees_shop_owned(Some(&p.path)) => Some(p),
                Some(_) => {
                    return Err(OrgError::Forbidden("the parent shop is outside your shops"))
                }
                None => return Err(OrgError::ParentNotFound),
            }
        }
    };
    let level = parent.as_ref().map_or(1, |p| p.level + 1);
    if level > MAX_SHOP_LEVEL {
        return Err(OrgError::LevelExceeded);
    }
    let role: Option<Role> = store.live_entity(&keys::role(req.default_role_id)).await?;
    if !role.is_some_and(|r| r.role_type == RoleType::Customer && r.status == Status::Enabled) {
        return Err(OrgError::InvalidDefaultRole);
    }
    if caller.user_type == UserType::Agent {
        let own = match (&parent, caller.shop_id) {
            (Some(p), Some(sid)) if p.id == sid => Some(p.clone()),
            (_, Some(sid)) => store.live_entity::<Shop>(&keys::shop(sid)).await?,
            (_, None) => None,
        };
        if !own.is_some_and(|s| s.role_ids.contains(&req.default_role_id)) {
            return Err(OrgError::Forbidden(
                "agents can only offer roles their own shop holds",
            ));
        }
    }

    let id = store.next_id("shop").await?;
    let account_id = store.next_id("account").await?;
    let path = parent
        .as_ref()
        .map_or_else(|| ShopPath::top(id), |p| p.path.child(id));
    let at = stamp(now);
    let shop = Shop {
        id,
        shop_name,
        shop_code: shop_code.clone(),
        parent_id: parent.as_ref().map(|p| p.id),
        level,
        path: path.clone(),
        status: Status::Enabled,
        contact_name: opt("contact_name", &req.contact_name, 50)?,
        contact_phone,
        province: opt("province", &req.province, 50)?,
        city: opt("city", &req.city, 50)?,
        district: opt("district", &req.district, 50)?,
        address: opt("address", &req.address, 200)?,
        child_count: 0,
        role_ids: vec![req.default_role_id],
        created_at: at.clone(),
        updated_at: at.clone(),
        deleted_at: None,
        creator: caller.account_id,
        updater: caller.account_id,
        version: 1,
    };
    let account = AccountRecord {
        id: account_id,
        username,
        phone,
        password_hash: password::hash(&pass)?,
        user_type: UserType::Agent,
        shop_id: Some(id),
        enterprise_id: None,
        owner_path: Some(path),
        status: Status::Enabled,
        credential_version: 0,
        role_ids: vec![req.default_role_id],
        created_at: at.clone(),
        updated_at: at.clone(),
        deleted_at: None,
        creator: caller.account_id,
        updater: caller.account_id,
        version: 1,
    };
    let role_id = req.default_role_id;
    let tx = Tx::new()
        .put_new("shop", shop_item(&shop)?)
        .put_new("shop_code", unique_item("shop_code", &shop_code, id))
        .put_new("account", account_item(&account)?)
        .put_new("username", username_item(&account));
    // The shop and its first account both hold the default role.
    let mut tx = hold_role(
        tx,
        "default_role",
        role_id,
        2,
        role_is_enabled(RoleType::Customer),
    );
    for kind in [WalletKind::Main, WalletKind::Commission] {
        let wallet = AgentWallet {
            shop_id: id,
            wallet_type: kind.as_str().into(),
            balance: 0,
            frozen_balance: 0,
            currency: "CNY".into(),
            status: Status::Enabled,
            shop_id_tag: id,
            created_at: at.clone(),
            updated_at: at.clone(),
            version: 1,
            ledger_at: 0,
        };
        tx = tx.put_new(
            "wallet",
            to_item(&wallet, &keys::agent_wallet(id, kind.as_str()))?,
        );
    }
    if let Some(p) = &parent {
        tx = tx.update(
            "parent",
            &keys::shop(p.id),
            Upd::counter("child_count", 1),
            Some(Cond::live()),
        );
    }
    // The new shop and its account count in its own subtree and every ancestor's.
    let moves = [(Counted::Shops, 1), (Counted::Accounts, 1)];
    let tx = tally::count(tx, Some(&shop.path), &moves);
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("shop_code") => OrgError::DuplicateShopCode,
            Some("username") => OrgError::DuplicateUsername,
            Some("default_role") => OrgError::InvalidDefaultRole,
            Some("parent") => OrgError::ParentNotFound,
            _ => e.into(),
        })?;
    tracing::info!(shop_id = id, level, "shop created");
    Ok(ShopView {
        parent_shop_name: parent.map(|p| p.shop_name),
        shop,
    })
}

/// One shop with its parent's name.
pub async fn get(store: &Store, caller: &Caller, id: u64) -> Result<ShopView, OrgError> {
    caller.require(SA_PL_AG)?;
    let shop = visible_shop(store, caller, id).await?;
    Ok(with_parent_names(store, vec![shop]).await?.remove(0))
}

fn shop_filter(f: &ShopFilter) -> Filter {
    Filter::new()
        .contains("shop_name", filter_term(f.shop_name.as_deref()))
        .eq_str("shop_code", filter_term(f.shop_code.as_deref()))
        .eq_id("parent_id", f.parent_id)
        .eq("level", f.level.map(i64::from))
        .eq("status", f.status)
}

/// One page of the shops of the caller's scope matching `f`, in tree order (by
/// path): one Query (two when a filter drops items).
pub async fn list_shops(
    store: &Store,
    caller: &Caller,
    f: &ShopFilter,
    page: &PageQuery,
) -> Result<CursorPage<Shop>, OrgError> {
    caller.require(SA_PL_AG)?;
    let (cursor, size) = page.parse()?;
    let prefix = caller.shop_path.as_ref().map_or("", |p| p.as_str());
    let filter = shop_filter(f);
    let source = lists::scope(gsi1::SHOPS, prefix);
    Ok(store
        .read_page(&source, filter.cond(), size, cursor, |s: &Shop| {
            caller.sees_shop_owned(Some(&s.path))
        })
        .await?)
}

/// One page of the shops of the caller's scope matching `f`, in tree order (by
/// path), with their parents' names: [`list_shops`], then one batch read of the
/// parents and, unfiltered, the scope's shop count.
pub async fn list(
    store: &Store,
    caller: &Caller,
    f: &ShopFilter,
    page: &PageQuery,
) -> Result<CursorPage<ShopView>, OrgError> {
    let mut shops = list_shops(store, caller, f, page).await?;
    let tally = tallied(caller)
        .filter(|_| shop_filter(f).cond().is_none())
        .map(|t| Tally::of(t, Counted::Shops));
    let (list, total) =
        parent_names_with(store, std::mem::take(&mut shops.list), tally.as_ref()).await?;
    Ok(shops.with_list(list).with_total(total))
}

/// Adds each shop's parent name (one batch read; soft-deleted parents included).
pub async fn with_parent_names(
    store: &Store,
    shops: Vec<Shop>,
) -> Result<Vec<ShopView>, StoreError> {
    Ok(parent_names_with(store, shops, None).await?.0)
}

/// [`with_parent_names`], reading the count `tally` in the same batch.
async fn parent_names_with(
    store: &Store,
    shops: Vec<Shop>,
    tally: Option<&Tally>,
) -> Result<(Vec<ShopView>, Option<u64>), StoreError> {
    let parent_keys: Vec<Key> = shops
        .iter()
        .filter_map(|s| s.parent_id)
        .map(keys::shop)
        .collect();
    let (items, total) = store.get_with_tally(&parent_keys, tally).await?;
    let parents: Vec<Shop> = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    let views = shops
        .into_iter()
        .map(|shop| {
            let parent_shop_name = shop
                .parent_id
                .and_then(|pid| parents.iter().find(|p| p.id == pid))
                .map(|p| p.shop_name.clone());
            ShopView {
                shop,
                parent_shop_name,
            }
        })
        .collect();
    Ok((views, total))
}

/// Names of shops by id, soft-deleted ones included (for display in other lists).
pub async fn shop_names(store: &Store, ids: &[u64]) -> Result<Vec<(u64, String)>, StoreError> {
    Ok(shop_names_with(store, ids, None).await?.0)
}

/// [`shop_names`], reading the count `tally` in the same batch.
pub async fn shop_names_with(
    store: &Store,
    ids: &[u64],
    tally: Option<&Tally>,
) -> Result<(Vec<(u64, String)>, Option<u64>), StoreError> {
    let keys_: Vec<Key> = ids.iter().copied().map(keys::shop).collect();
    let (items, total) = store.get_with_tally(&keys_, tally).await?;
    let names = items
        .into_iter()
        .map(|i| from_item::<Shop>(i).map(|s| (s.id, s.shop_name)))
        .collect::<Result<_, _>>()?;
    Ok((names, total))
}

/// Updates name, code and contact fields (optimistic lock on `version`).
pub async fn update(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: UpdateShop,
) -> Result<ShopView, OrgError> {
    caller.require(SA_PL_AG)?;
    let old = visible_shop(store, caller, id).await?;
    check_version(req.version, old.version)?;
    let mut shop = old.clone();
    if let Some(name) = &req.shop_name {
        shop.shop_name = validate::text("shop_name", name, 100)?;
    }
    if let Some(code) = &req.shop_code {
        shop.shop_code = validate::code("shop_code", code)?;
    }
    if let Some(phone) = &req.contact_phone {
        shop.contact_phone = validate::opt_phone("contact_phone", Some(phone))?;
    }
    patch_opt(
        &mut shop.contact_name,
        "contact_name",
        req.contact_name.as_deref(),
        50,
    )?;
    patch_opt(&mut shop.province, "province", req.province.as_deref(), 50)?;
    patch_opt(&mut shop.city, "city", req.city.as_deref(), 50)?;
    patch_opt(&mut shop.district, "district", req.district.as_deref(), 50)?;
    patch_opt(&mut shop.address, "address", req.address.as_deref(), 200)?;
    save(store, caller, now, &old, shop).await
}

/// Enables or disables a shop. Agents cannot change their own shop.
pub async fn set_status(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    status: Status,
) -> Result<ShopView, OrgError> {
    caller.require(SA_PL_AG)?;
    let old = visible_shop(store, caller, id).await?;
    if caller.shop_id == Some(id) {
        return Err(OrgError::Forbidden(
            "agents cannot change the status of their own shop",
        ));
    }
    let mut shop = old.clone();
    shop.status = status;
    save(store, caller, now, &old, shop).await
}

async fn save(
    store: &Store,
    caller: &Caller,
    now: i64,
    old: &Shop,
    mut shop: Shop,
) -> Result<ShopView, OrgError> {
    shop.touch(caller.account_id, now);
    let rename = Rename::of("shop_code", &old.shop_code, &shop.shop_code, shop.id);
    org::save(
        store,
        shop_item(&shop)?,
        old.version,
        rename,
        OrgError::DuplicateShopCode,
    )
    .await?;
    Ok(with_parent_names(store, vec![shop]).await?.remove(0))
}

/// Soft-deletes a shop without live sub-shops; its code becomes reusable and its name
/// still resolves for display.
pub async fn delete(store: &Store, caller: &Caller, now: i64, id: u64) -> Result<(), OrgError> {
    caller.require(SA_PL)?;
    let old = visible_shop(store, caller, id).await?;
    if old.child_count > 0 {
        return Err(OrgError::ShopHasChildren);
    }
    let mut shop = old.clone();
    shop.touch(caller.account_id, now);
    let no_children = shop_has_no_children();
    let release = [keys::unique("shop_code", &old.shop_code)];
    let mut tx = soft_delete_tx(
        shop_item(&shop)?,
        old.version,
        now,
        Some(no_children),
        &release,
    );
    if let Some(pid) = old.parent_id {
        tx = tx.update(
            "parent",
            &keys::shop(pid),
            Upd::counter("child_count", -1),
            None,
        );
    }
    // The shop no longer holds its roles (its accounts keep theirs until deleted).
    let tx = release_roles(tx, &old.role_ids);
    let tx = tally::count(tx, Some(&old.path), &[(Counted::Shops, -1)]);
    store.transact(tx).await.map_err(|e| match &e {
        // A sub-shop created meanwhile, or another change: tell which.
        StoreError::ConditionFailed {
            label: "entity",
            old: Some(item),
        } if num_attr(item, "child_count").unwrap_or(0) > 0 => OrgError::ShopHasChildren,
        _ => version_conflict(e),
    })?;
    tracing::info!(shop_id = id, "shop deleted");
    Ok(())
}

/// Ids of the shop and all its descendants (one Query on the scope index).
pub async fn subordinate_ids(
    store: &Store,
    caller: &Caller,
    id: u64,
) -> Result<Vec<u64>, OrgError> {
    caller.require(SA_PL_AG)?;
    let shop = visible_shop(store, caller, id).await?;
    let shops: Vec<Shop> = store.list_scope(gsi1::SHOPS, shop.path.as_str()).await?;
    Ok(shops.into_iter().map(|s| s.id).collect())
}

/// Roles available to a shop (ShopRole).
pub async fn roles(store: &Store, caller: &Caller, id: u64) -> Result<Vec<Role>, OrgError> {
    caller.require(SA_PL_AG)?;
    let shop = visible_shop(store, caller, id).await?;
    Ok(live_roles(store, &shop.role_ids).await?)
}

/// Live roles available to shop `shop_id` (none when it is gone).
pub async fn shop_roles(store: &Store, shop_id: u64) -> Result<Vec<Role>, StoreError> {
    let shop: Option<Shop> = store.live_entity(&keys::shop(shop_id)).await?;
    live_roles(store, shop.as_ref().map_or(&[], |s| &s.role_ids)).await
}

/// Replaces the roles available to a shop (customer roles only).
pub async fn set_roles(
    store: &Store,
    caller: &Caller,
    id: u64,
    req: ShopRoles,
) -> Result<Vec<Role>, OrgError> {
    caller.require(SA_PL)?;
    visible_shop(store, caller, id).await?;
    let wanted = distinct(req.role_ids);
    if wanted.len() > MAX_SHOP_ROLES {
        return Err(validate::Invalid::new(
            format!("role_ids最多{MAX_SHOP_ROLES}个"),
            format!("at most {MAX_SHOP_ROLES} roles"),
        )
        .into());
    }
    store
        .replace_links(Links::ShopRoles(id), &wanted, role_is(RoleType::Customer))
        .await
        .map_err(|e| {
            let bad = validate::Invalid::new(
                "role_ids须为已存在的客户角色",
                "role_ids must name existing customer roles",
            );
            links_failed(e, "shop", bad)
        })?;
    Ok(live_roles(store, &wanted).await?)
}
