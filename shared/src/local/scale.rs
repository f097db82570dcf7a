//! A tenant of a given size written straight into the table, for the scale test and
//! `scripts/bench-scale.sh`: one top-level shop over a tree of sub-shops (levels 2
//! and 3), agent accounts spread over the shops, cards spread over their stocks. The
//! items come from the builders the services use and the counters the services keep
//! move to match (child counts, role holders, list tallies); only the way in differs:
//! batches of 25 puts instead of one transaction (and one password hash) per item,
//! which at this size would take minutes. Wallets are not written.

use crate::clock::rfc3339;
use crate::domain::assets::{AssetStatus, IotCard};
use crate::domain::entities::{AccountRecord, Carrier, RealnameLinkType, Shop};
use crate::domain::org::{Status, UserType};
use crate::domain::password;
use crate::domain::shop_path::ShopPath;
use crate::services::auth::username_item;
use crate::store::assets::card_item;
use crate::store::links::hold_role;
use crate::store::org::{account_item, carrier_item, shop_item, unique_item};
use crate::store::tally::{count, subtree_tally, Counted};
use crate::store::tx::{Cond, Tx};
use crate::store::{Item, Store};

use super::LocalError;

/// Sub-shops of the top-level shop (level 2); the other shops are level 3.
const LEVEL_2: usize = 40;

/// How big a tenant to seed.
#[derive(Clone, Copy, Debug)]
pub struct Size {
    pub shops: usize,
    pub accounts: usize,
    pub cards: usize,
}

/// What was seeded: the top-level shop, one of its level-3 shops, and the password of
/// every seeded account (username `<prefix>-<shop id>-<n>`).
#[derive(Clone, Debug)]
pub struct Seeded {
    pub top: Shop,
    pub deep: Shop,
    pub top_username: String,
    pub deep_username: String,
    pub password: String,
}

/// Seeds a tenant of `size` under a new top-level shop coded `prefix`: its accounts
/// hold `role` (an enabled customer role), its cards are of `carrier`.
pub async fn seed_tenant(
    store: &Store,
    now: i64,
    prefix: &str,
    size: Size,
    role: u64,
    carrier: &Carrier,
) -> Result<Seeded, LocalError> {
    let shops_n = size.shops.max(LEVEL_2 + 2);
    let at = rfc3339(now);
    let first_shop = store.next_ids("shop", shops_n as u64).await?;
    let shops = tree(prefix, first_shop, shops_n, role, &at);
    let top = shops.first().cloned().ok_or("no shop seeded")?;
    let deep = shops.last().cloned().ok_or("no shop seeded")?;
    let nth = |i: usize| shops.get(i % shops.len()).unwrap_or(&top);
    let password = "Scale#2026pass".to_string();
    let hash = password::hash(&password)?;
    let accounts_n = size.accounts.max(2);
    let first_account = store.next_ids("account", accounts_n as u64).await?;
    let accounts: Vec<AccountRecord> = (0..accounts_n)
        .map(|i| {
            // The top-level shop and the last (level-3) shop get the first two.
            let shop = match i {
                0 => &top,
                1 => &deep,
                _ => nth(i),
            };
            account(first_account + i as u64, prefix, shop, role, &hash, &at)
        })
        .collect();
    let first_card = store.next_ids("card", size.cards.max(1) as u64).await?;
    let cards: Vec<IotCard> = (0..size.cards)
        .map(|i| {
            // Two in five cards in the top-level shop's own stock, the others spread.
            let owner = if i % 5 < 2 { &top } else { nth(i) };
            card(first_card + i as u64, i, prefix, owner, carrier, &at)
        })
        .collect();

    let mut items: Vec<Item> = Vec::new();
    for s in &shops {
        items.push(shop_item(s)?);
        items.push(unique_item("shop_code", &s.shop_code, s.id));
    }
    for a in &accounts {
        items.push(account_item(a)?);
        items.push(username_item(a));
    }
    for c in &cards {
        items.push(card_item(c)?);
        items.push(unique_item("iccid", &c.iccid, c.id));
    }
    store.put_all(items).await?;
    recount(store, &shops, &accounts, role).await?;
    let (top_username, deep_username) = match (accounts.first(), accounts.get(1)) {
        (Some(a), Some(b)) => (a.username.clone(), b.username.clone()),
        _ => return Err("no account seeded".into()),
    };
    Ok(Seeded {
        top,
        deep,
        top_username,
        deep_username,
        password,
    })
}

/// Moves the counters the services keep: role holders, the platform tallies, and
/// each new shop's subtree tally (written whole: the shops are new).
async fn recount(
    store: &Store,
    shops: &[Shop],
    accounts: &[AccountRecord],
    role: u64,
) -> Result<(), LocalError> {
    let holders = (shops.len() + accounts.len()) as i64;
    let tx = hold_role(Tx::new(), "role", role, holders, Cond::live());
    let platform = [
        (Counted::Shops, shops.len() as i64),
        (Counted::Accounts, accounts.len() as i64),
    ];
    store.transact(count(tx, None, &platform)).await?;
    let mut tallies = Vec::new();
    for s in shops {
        let inside = |p: &ShopPath| s.path.contains(p);
        let sub_shops = shops.iter().filter(|c| inside(&c.path)).count() as u64;
        let sub_accounts = accounts
            .iter()
            .filter(|a| a.owner_path.as_ref().is_some_and(inside))
            .count() as u64;
        tallies.push(subtree_tally(s.id, sub_shops, sub_accounts));
    }
    store.put_all(tallies).await?;
    Ok(())
}

fn tree(prefix: &str, first: u64, n: usize, role: u64, at: &str) -> Vec<Shop> {
    let top = shop(first, prefix, None, ShopPath::top(first), role, at);
    let mut shops = vec![top.clone()];
    for i in 1..n {
        let id = first + i as u64;
        let parent = if i <= LEVEL_2 {
            &top
        } else {
            shops.get(1 + (i % LEVEL_2)).unwrap_or(&top)
        };
        let s = shop(id, prefix, Some(parent.id), parent.path.child(id), role, at);
        shops.push(s);
    }
    let counts: Vec<u32> = shops
        .iter()
        .map(|s| shops.iter().filter(|c| c.parent_id == Some(s.id)).count() as u32)
        .collect();
    for (s, c) in shops.iter_mut().zip(counts) {
        s.child_count = c;
    }
    shops
}

fn shop(id: u64, prefix: &str, parent: Option<u64>, path: ShopPath, role: u64, at: &str) -> Shop {
    Shop {
        id,
        shop_name: format!("{prefix} shop {id}"),
        shop_code: format!("{prefix}-{id}"),
        parent_id: parent,
        level: path.level(),
        path,
        status: Status::Enabled,
        contact_name: None,
        contact_phone: None,
        province: None,
        city: None,
        district: None,
        address: None,
        child_count: 0,
        role_ids: vec![role],
        created_at: at.to_string(),
        updated_at: at.to_string(),
        deleted_at: None,
        creator: 0,
        updater: 0,
        version: 1,
    }
}

fn account(id: u64, prefix: &str, shop: &Shop, role: u64, hash: &str, at: &str) -> AccountRecord {
    AccountRecord {
        id,
        username: format!("{prefix}-{}-{id}", shop.id).to_lowercase(),
        phone: None,
        password_hash: hash.to_string(),
        user_type: UserType::Agent,
        shop_id: Some(shop.id),
        enterprise_id: None,
        owner_path: Some(shop.path.clone()),
        status: Status::Enabled,
        credential_version: 0,
        role_ids: vec![role],
        created_at: at.to_string(),
        updated_at: at.to_string(),
        deleted_at: None,
        creator: 0,
        updater: 0,
        version: 1,
    }
}

fn card(id: u64, n: usize, prefix: &str, owner: &Shop, carrier: &Carrier, at: &str) -> IotCard {
    IotCard {
        id,
        iccid: format!("8986{:016}", 7_000_000_000_000 + id),
        msisdn: None,
        imsi: None,
        virtual_no: None,
        carrier_id: carrier.id,
        carrier_type: carrier.carrier_type.clone(),
        carrier_name: carrier.carrier_name.clone(),
        card_category: None,
        supplier: None,
        batch_no: Some(format!("{prefix}-B{}", n % 10)),
        shop_id: Some(owner.id),
        owner_path: Some(owner.path.clone()),
        series_id: None,
        status: 1,
        asset_status: AssetStatus::InStock,
        generation: 1,
        network_status: 0,
        real_name_status: 0,
        activation_status: 0,
        activated_at: None,
        enable_polling: true,
        polling_scheduled: false,
        current_month_usage_mb: rust_decimal::Decimal::ZERO,
        last_data_check_at: None,
        last_sync_time: None,
        is_standalone: true,
        bound_device_id: None,
        slot_position: None,
        stopped_at: None,
        resumed_at: None,
        stop_reason: None,
        rule_stop: None,
        remark: None,
        authorization: None,
        import_task_id: None,
        created_at: at.to_string(),
        updated_at: at.to_string(),
        deleted_at: None,
        creator: 0,
        updater: 0,
        version: 1,
    }
}

/// Who reads a list page of the scale check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// The super admin (platform scope).
    Platform,
    /// The seeded top-level agent (the whole tenant is its subtree).
    TopAgent,
    /// The seeded level-3 agent.
    DeepAgent,
}

/// One list request of the scale check and its DynamoDB call budget (authentication
/// included).
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub reader: Reader,
    /// Path and query; `{iccid}` stands for a seeded card's ICCID.
    pub path: &'static str,
    pub budget: usize,
}

/// The requests `scripts/bench-scale.sh` prints and the scale test holds to budget:
/// every list route, unfiltered and with one filter, the resolve of a card, and who
/// am I. Platform-wide card lists merge 16 shards and are listed without a budget
/// of their own (`usize::MAX`).
pub const PAGES: &[Page] = &[
    Page {
        reader: Reader::TopAgent,
        path: "/api/admin/me",
        budget: 3,
    },
    Page {
        reader: Reader::TopAgent,
        path: "/api/admin/shops?page_size=20",
        budget: 3,
    },
    Page {
        reader: Reader::TopAgent,
        path: "/api/admin/shops?page_size=20&level=3",
        budget: 4,
    },
    Page {
        reader: Reader::TopAgent,
        path: "/api/admin/shops?page_size=20&shop_name=shop%201999",
        budget: 4,
    },
    Page {
        reader: Reader::DeepAgent,
        path: "/api/admin/shops?page_size=20",
        budget: 3,
    },
    Page {
        reader: Reader::Platform,
        path: "/api/admin/shops?page_size=20",
        budget: 3,
    },
    Page {
        reader: Reader::TopAgent,
        path: "/api/admin/accounts?page_size=20",
        budget: 3,
    },
    Page {
        reader: Reader::TopAgent,
        path: "/api/admin/accounts?page_size=20&status=1",
        budget: 4,
    },
    Page {
        reader: Reader::Platform,
        path: "/api/admin/accounts?page_size=20",
        budget: 3,
    },
    Page {
        reader: Reader::TopAgent,
        path: "/api/admin/enterprises?page_size=20",
        budget: 3,
    },
    Page {
        reader: Reader::Platform,
        path: "/api/admin/roles?page_size=20",
        budget: 3,
    },
    Page {
        reader: Reader::Platform,
        path: "/api/admin/carriers?page_size=20",
        budget: 3,
    },
    Page {
        reader: Reader::Platform,
        path: "/api/admin/package-series?page_size=20",
        budget: 3,
    },
    Page {
        reader: Reader::Platform,
        path: "/api/admin/packages?page_size=20",
        budget: 3,
    },
    Page {
        reader: Reader::Platform,
        path: "/api/admin/shop-series-grants?page_size=20",
        budget: 3,
    },
    Page {
        reader: Reader::TopAgent,
        path: "/api/admin/iot-cards/standalone?page_size=20",
        budget: 4,
    },
    Page {
        reader: Reader::TopAgent,
        path: "/api/admin/iot-cards/standalone?page_size=20&batch_no=SC-B3",
        budget: 4,
    },
    Page {
        reader: Reader::TopAgent,
        path: "/api/admin/iot-cards/standalone?page_size=20&asset_status=1",
        budget: 4,
    },
    Page {
        reader: Reader::DeepAgent,
        path: "/api/admin/iot-cards/standalone?page_size=20",
        budget: 4,
    },
    Page {
        reader: Reader::TopAgent,
        path: "/api/admin/devices?page_size=20",
        budget: 4,
    },
    Page {
        reader: Reader::TopAgent,
        path: "/api/admin/asset-allocation-records?page_size=20",
        budget: 4,
    },
    Page {
        reader: Reader::Platform,
        path: "/api/admin/iot-cards/import/tasks?page_size=20",
        budget: 4,
    },
    Page {
        reader: Reader::TopAgent,
        path: "/api/admin/assets/resolve/{iccid}",
        // Authentication with the identifier lookups, the card, its shop and device
        // beside its package usages.
        budget: 4,
    },
    Page {
        reader: Reader::Platform,
        path: "/api/admin/iot-cards/standalone?page_size=20",
        budget: usize::MAX,
    },
];

/// Stores carrier 1 (China Mobile, code `CMCC`) for a benchmark's fresh table.
pub async fn bench_carrier(store: &Store) -> Result<Carrier, LocalError> {
    let carrier = Carrier {
        id: 1,
        carrier_name: "China Mobile".into(),
        carrier_type: "CMCC".into(),
        carrier_code: Some("CMCC".into()),
        billing_day: 1,
        realname_link_type: RealnameLinkType::None,
        realname_link_template: None,
        status: Status::Enabled,
        created_at: String::new(),
        updated_at: String::new(),
        deleted_at: None,
        creator: 0,
        updater: 0,
        version: 1,
    };
    store.put(carrier_item(&carrier)?).await?;
    Ok(carrier)
}
