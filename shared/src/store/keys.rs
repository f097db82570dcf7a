//! Every key of the table, in one place (long because it is that one place; split
//! by entity if it keeps growing). See `docs/data-model.md`.

use super::Key;

/// Sort key of an entity's own item.
pub const ENTITY: &str = "#";

/// Shop `id`.
pub fn shop(id: u64) -> Key {
    Key::new(format!("SHOP#{id}"), ENTITY)
}

/// Agent wallet `kind` (`main`, `commission`) of a shop.
pub fn agent_wallet(shop_id: u64, kind: &str) -> Key {
    Key::new(format!("SHOP#{shop_id}"), format!("WALLET#{kind}"))
}

/// Account `id`.
pub fn account(id: u64) -> Key {
    Key::new(format!("ACCOUNT#{id}"), ENTITY)
}

/// Login session `sid` of an account (holds the current token ids).
pub fn session(account_id: u64, sid: &str) -> Key {
    Key::new(format!("ACCOUNT#{account_id}"), format!("SESSION#{sid}"))
}

/// Partition of an account's operation log.
pub fn account_log_pk(account_id: u64) -> String {
    format!("AUDIT#ACCOUNT#{account_id}")
}

/// Entry `entry_id` of an account's operation log, written at wall-clock `nanos`
/// (the sort key keeps entries of the same second in order).
pub fn account_log(account_id: u64, nanos: u128, entry_id: &str) -> Key {
    Key::new(
        account_log_pk(account_id),
        format!("{nanos:024}#{entry_id}"),
    )
}

/// Rate-limit scope of login attempts from one client IP.
pub fn login_ip_scope(ip: &str) -> String {
    format!("login#ip#{ip}")
}

/// Rate-limit scope of payment notifications from client IP `ip`.
pub fn callback_ip_scope(ip: &str) -> String {
    format!("callback#ip#{ip}")
}

/// Rate-limit scope of failed logins for one username from all IPs.
pub fn login_user_scope(username: &str) -> String {
    format!("login#user#{username}")
}

/// Rate-limit scope of failed logins for one username from one client IP.
pub fn login_pair_scope(username: &str, ip: &str) -> String {
    format!("login#pair#{username}#{ip}")
}

/// Rate-limit scope of wrong current passwords given by one account from one IP.
pub fn password_pair_scope(account_id: u64, ip: &str) -> String {
    format!("password#pair#{account_id}#{ip}")
}

/// Rate-limit scope of the upload URLs one account asks for.
pub fn upload_scope(account_id: u64) -> String {
    format!("upload#account#{account_id}")
}

/// Rate-limit scope of wrong current passwords given by one account from all IPs.
pub fn password_account_scope(account_id: u64) -> String {
    format!("password#account#{account_id}")
}

/// Enterprise `id`.
pub fn enterprise(id: u64) -> Key {
    Key::new(format!("ENTERPRISE#{id}"), ENTITY)
}

/// Role `id`.
pub fn role(id: u64) -> Key {
    Key::new(format!("ROLE#{id}"), ENTITY)
}

/// Permission `id`.
pub fn permission(id: u64) -> Key {
    Key::new(format!("PERMISSION#{id}"), ENTITY)
}

/// The permission index: one item with an attribute per live permission (its code
/// and whether it is enabled), read with every authenticated request.
pub fn permission_index() -> Key {
    Key::new("PERMINDEX", ENTITY)
}

/// Carrier `id`.
pub fn carrier(id: u64) -> Key {
    Key::new(format!("CARRIER#{id}"), ENTITY)
}

/// Package series `id`.
pub fn series(id: u64) -> Key {
    Key::new(format!("SERIES#{id}"), ENTITY)
}

/// Package `id`.
pub fn package(id: u64) -> Key {
    Key::new(format!("PACKAGE#{id}"), ENTITY)
}

/// Series grant `id`.
pub fn grant(id: u64) -> Key {
    Key::new(format!("GRANT#{id}"), ENTITY)
}

/// Claim of shop `shop_id` on series `series_id`: one live grant per shop and series;
/// holds the grant id.
pub fn grant_claim(shop_id: u64, series_id: u64) -> Key {
    Key::new(format!("SHOP#{shop_id}"), format!("GRANT#{series_id}"))
}

/// Sort-key prefix of a shop's grant claims.
pub const GRANT_CLAIM_PREFIX: &str = "GRANT#";

/// Allocation of package `package_id` to shop `shop_id` (one per shop and package).
pub fn allocation(shop_id: u64, package_id: u64) -> Key {
    Key::new(format!("SHOP#{shop_id}"), format!("PKG#{package_id}"))
}

/// Sort-key prefix of a shop's package allocations.
pub const ALLOCATION_PREFIX: &str = "PKG#";

/// Partition of the cost-price history of allocation `allocation_id`.
pub fn price_history_pk(allocation_id: u64) -> String {
    format!("PRICEHIST#{allocation_id}")
}

/// Uniqueness item for `value` of attribute `kind` (`shop_code`, `username`, ...).
pub fn unique(kind: &str, value: &str) -> Key {
    Key::new(format!("UNIQUE#{kind}#{value}"), ENTITY)
}

/// Id counter of an entity kind.
pub fn counter(kind: &str) -> Key {
    Key::new(format!("COUNTER#{kind}"), ENTITY)
}

/// Platform-wide count of the live items of one kind (`shops`, `accounts`, ...),
/// kept by the transactions that create and delete them.
pub fn tally(kind: &str) -> Key {
    Key::new(format!("TALLY#{kind}"), ENTITY)
}

/// Counts of the live shops, accounts and enterprises in a shop's subtree (the shop
/// included) and of the grants it issued, kept like [`tally`].
pub fn shop_tally(shop_id: u64) -> Key {
    Key::new(format!("SHOP#{shop_id}"), "TALLY")
}

/// Fixed-window rate-limit counter.
pub fn rate_limit(scope: &str, window_start: i64) -> Key {
    Key::new(format!("RL#{scope}#{window_start}"), ENTITY)
}

/// Idempotency record.
pub fn idempotency(key: &str) -> Key {
    Key::new(format!("IDEMP#{key}"), ENTITY)
}

/// Scope-index partitions (`gsi1pk`) of the organisation lists.
pub mod gsi1 {
    /// All live shops; sort key = shop path.
    pub const SHOPS: &str = "SHOPS";
    /// All live accounts; sort key = owner path + account id.
    pub const ACCOUNTS: &str = "ACCOUNTS";
    /// All live enterprises; sort key = owner path + enterprise id.
    pub const ENTERPRISES: &str = "ENTERPRISES";
    /// All live roles.
    pub const ROLES: &str = "ROLES";
    /// All live permissions.
    pub const PERMISSIONS: &str = "PERMISSIONS";
    /// All live carriers.
    pub const CARRIERS: &str = "CARRIERS";
    /// All live package series.
    pub const SERIES: &str = "SERIES";
    /// All live packages.
    pub const PACKAGES: &str = "PACKAGES";
    /// All live series grants; sort key = grantor, series, grant id.
    pub const GRANTS: &str = "GRANTS";
    /// Sort-key prefix of platform-owned items (sorts before any shop path `/...`).
    pub const PLATFORM: &str = "!P";

    /// Partition listing the live allocations of package `id` (by shop).
    pub fn package_allocations(id: u64) -> String {
        format!("ALLOCS#PKG#{id}")
    }

    /// Zero-padded id, so sort keys order numerically.
    pub fn padded(id: u64) -> String {
        format!("{id:020}")
    }
}

// ---- imports

/// Import task `id`.
pub fn import(id: u64) -> Key {
    Key::new(format!("IMPORT#{id}"), ENTITY)
}

/// Sort-key prefix of an import task's rejected rows.
pub const IMPORT_FAILURE_PREFIX: &str = "FAIL#";

/// Rejected row `row` of import task `id` (zero-padded, so rows sort in order).
pub fn import_failure(id: u64, row: u64) -> Key {
    Key::new(
        format!("IMPORT#{id}"),
        format!("{IMPORT_FAILURE_PREFIX}{row:010}"),
    )
}

/// Scope-index partition listing the import tasks of one type (sort key: padded id).
pub fn imports_partition(import_type: crate::domain::assets::ImportType) -> String {
    format!("IMPORTS#{}", import_type.as_str())
}

// ---- bulk moves

/// Bulk task `id`.
pub fn bulk_task(id: u64) -> Key {
    Key::new(format!("BULK#{id}"), ENTITY)
}

/// Page `page` of the listed selection of bulk task `id`.
pub fn bulk_page(id: u64, page: u32) -> Key {
    Key::new(format!("BULK#{id}"), format!("SEL#{page:06}"))
}

/// Sort-key prefix of a bulk task's per-asset results.
pub const BULK_RESULT_PREFIX: &str = "R#";

/// The result of bulk task `id` for the asset named `identifier` (identifiers hold
/// no whitespace, so a name like `id 5` never meets one).
pub fn bulk_result(id: u64, identifier: &str) -> Key {
    Key::new(
        format!("BULK#{id}"),
        format!("{BULK_RESULT_PREFIX}{identifier}"),
    )
}

/// `gsi2` partition of bulk tasks not started yet (the sweep re-sends them).
pub const BULK_PENDING: &str = "BULK#PENDING";

// ---- assets

use crate::domain::assets::AssetType;

/// Card `id`.
pub fn card(id: u64) -> Key {
    Key::new(format!("CARD#{id}"), ENTITY)
}

/// Device `id`.
pub fn device(id: u64) -> Key {
    Key::new(format!("DEVICE#{id}"), ENTITY)
}

/// Asset `id` of type `t`.
pub fn asset(t: AssetType, id: u64) -> Key {
    match t {
        AssetType::Card => card(id),
        AssetType::Device => device(id),
    }
}

/// Package usage `id` of asset `asset_id` of type `t` (in the asset's partition).
pub fn usage(t: AssetType, asset_id: u64, id: u64) -> Key {
    Key::new(asset(t, asset_id).pk, format!("USAGE#{id:020}"))
}

/// The pointer of package usage `id` to its asset.
pub fn usage_pointer(id: u64) -> Key {
    Key::new(format!("USAGE#{id}"), ENTITY)
}

/// Daily record of package usage `id` on `date` (`YYYY-MM-DD`).
pub fn daily_record(id: u64, date: &str) -> Key {
    Key::new(format!("USAGE#{id}"), format!("DAY#{date}"))
}

/// The head of an asset's package usages: its `version` moves with every purchase,
/// so two purchases of one asset cannot both start a main package.
pub fn usage_head(t: AssetType, asset_id: u64) -> Key {
    Key::new(asset(t, asset_id).pk, "USAGEHEAD")
}

// ---- package lifecycle due indexes (jobs.md J10, J13)

/// Shards of each usage due index: a usage's shard is its id modulo this.
pub const USAGE_DUE_SHARDS: u64 = 64;

/// Expiry due-index partition (`gsi3pk`) of shard `shard`: live mains and live
/// add-ons with their own validity, sorted by `valid_until`.
pub fn usage_expiry_due(shard: u64) -> String {
    format!("USAGES#EXPIRY#{shard}")
}

/// Reset due-index partition (`gsi4pk`) of shard `shard`: live usages with a reset
/// cycle, sorted by `next_reset_at`.
pub fn usage_reset_due(shard: u64) -> String {
    format!("USAGES#RESET#{shard}")
}

/// Sort key of usage `id` due at `at` in a usage due index.
pub fn usage_due_sort(at: i64, id: u64) -> String {
    format!("{:012}#{id:020}", at.max(0))
}

/// Order `id`.
pub fn order(id: u64) -> Key {
    Key::new(format!("ORDER#{id}"), ENTITY)
}

/// The `gsi2` partition of every order (the platform's list).
pub const ORDERS_ALL: &str = "ORDERS";

/// The sparse `gsi3` partition of orders whose commission is due.
pub const ORDERS_COMMISSION_DUE: &str = "ORDERS#COMMISSION_DUE";

/// The copy of order `id` in shop `shop`'s list.
pub fn shop_order(shop: u64, id: u64) -> Key {
    Key::new(format!("SHOPORDER#{shop}"), format!("{id:020}"))
}

/// The `gsi1` partition of a shop's orders (as buyer or operator).
pub fn shop_orders(shop: u64) -> String {
    format!("ORDERS#SHOP#{shop}")
}

/// A purchase's business key (buyer, order type, asset, packages): returns the
/// first order for 3 minutes.
pub fn order_key(key: &str) -> Key {
    Key::new(format!("ORDERKEY#{key}"), ENTITY)
}

/// SIM binding in slot `slot` of device `device_id`.
pub fn sim_slot(device_id: u64, slot: u32) -> Key {
    Key::new(format!("DEVICE#{device_id}"), format!("SLOT#{slot:02}"))
}

/// Sort-key prefix of a device's SIM bindings.
pub const SIM_SLOT_PREFIX: &str = "SLOT#";

/// Asset allocation record `id`.
pub fn allocation_record(id: &str) -> Key {
    Key::new(format!("ALLOC#{id}"), ENTITY)
}

/// The protect period of a device: one TTL item naming its direction, so a stop and
/// a start cannot both hold one.
pub fn device_protect(device_id: u64) -> Key {
    Key::new(format!("PROTECT#device#{device_id}"), ENTITY)
}

/// Refresh cooldown of an asset (a TTL item).
pub fn refresh_cooldown(t: AssetType, id: u64) -> Key {
    Key::new(format!("COOLDOWN#refresh#{}#{id}", t.as_str()), ENTITY)
}

fn asset_list_prefix(t: AssetType) -> &'static str {
    match t {
        AssetType::Card => "CARDS",
        AssetType::Device => "DEVICES",
    }
}

/// Scope-index partition of the assets held in a top-level shop's subtree.
pub fn assets_tree(t: AssetType, root_shop: u64) -> String {
    format!("{}#{root_shop}", asset_list_prefix(t))
}

/// Scope-index partition of one shard of platform stock.
pub fn assets_platform_stock(t: AssetType, shard: u32) -> String {
    format!("{}#P#{shard}", asset_list_prefix(t))
}

/// Platform-list partition of one shard of every asset.
pub fn assets_all(t: AssetType, shard: u32) -> String {
    format!("{}#ALL#{shard}", asset_list_prefix(t))
}

/// Batch-index partition (`gsi3pk`) of the assets of batch `batch_no`; sort keys are
/// `<owner path or !P>#<identifier>`.
pub fn assets_batch(t: AssetType, batch_no: &str) -> String {
    format!("{}#BATCH#{batch_no}", asset_list_prefix(t))
}

/// Range-index partition (`gsi4pk`) of the assets whose identifiers fall in `bucket`
/// (see [`crate::domain::assets::ranges::range_bucket`]); sort key = identifier.
pub fn assets_range(t: AssetType, bucket: &str) -> String {
    format!("{}#RANGE#{bucket}", asset_list_prefix(t))
}

/// Scope-index partition of the allocation records of a top-level shop's subtree.
pub fn allocation_records_tree(root_shop: u64) -> String {
    format!("ALLOCS#{root_shop}")
}

/// Platform-list partition of one shard of every allocation record.
pub fn allocation_records_all(shard: u32) -> String {
    format!("ALLOCS#ALL#{shard}")
}

// ---- enterprise authorisations (docs/authorizations.md)

/// Authorisation record `id`.
pub fn authorization(id: u64) -> Key {
    Key::new(format!("ENTAUTH#{id}"), ENTITY)
}

/// Enterprise-index partition (`gsi5pk`) of the assets of type `t` authorised to
/// enterprise `enterprise`; sort key = identifier.
pub fn enterprise_assets(t: AssetType, enterprise: u64) -> String {
    format!("ENT{}#{enterprise}", asset_list_prefix(t))
}

/// Enterprise-index partition (`gsi5pk`) of an enterprise's authorisation records;
/// sort key `<authorized_at>#<id:020>`.
pub fn enterprise_authorizations(enterprise: u64) -> String {
    format!("ENTAUTHS#{enterprise}")
}

/// Scope-index partition (`gsi1pk`) of the authorisation records of the enterprises
/// owned in a top-level shop's subtree (`None`: owned by the platform); sort key
/// `<owner path or !P>#<authorized_at>#<id:020>`.
pub fn authorizations_tree(root_shop: Option<u64>) -> String {
    match root_shop {
        Some(root) => format!("ENTAUTHS#T{root}"),
        None => "ENTAUTHS#P".to_string(),
    }
}

/// Platform-list partition (`gsi2pk`) of one shard of every authorisation record;
/// sort key `<authorized_at>#<id:020>`.
pub fn authorizations_all(shard: u32) -> String {
    format!("ENTAUTHS#ALL#{shard}")
}

/// Sort key of an authorisation record in its time-ordered indexes.
pub fn authorization_sort(at: &str, id: u64) -> String {
    format!("{at}#{id:020}")
}

// ---- agent wallets, ledger, recharges

/// Sort-key prefix of a shop's wallets.
pub const WALLET_PREFIX: &str = "WALLET#";

/// The ledger line of event `event_id`: one per event, so a replay finds it.
pub fn ledger_line(event_id: &str) -> Key {
    Key::new(format!("LEDGER#{event_id}"), ENTITY)
}

/// Scope-index partition of the ledger lines of a shop's wallet of `kind`.
pub fn wallet_lines(shop_id: u64, kind: &str) -> String {
    format!("WLEDGER#{shop_id}#{kind}")
}

/// Scope-index sort key of a ledger line: its time (epoch seconds, never before the
/// wallet's previous line) and the wallet version it produced.
pub fn wallet_line_sort(at: i64, version: i64) -> String {
    format!("{:012}#{version:012}", at.max(0))
}

/// The lowest and highest sort keys `<time:012>#…` (ledger lines, recharges) of
/// items written from `from` to `to` (epoch seconds, inclusive).
pub fn time_range(from: i64, to: i64) -> (String, String) {
    (
        format!("{:012}#", from.max(0)),
        format!("{:012}#~", to.max(0)),
    )
}

/// Agent recharge `id`.
pub fn recharge(id: u64) -> Key {
    Key::new(format!("RECHARGE#{id}"), ENTITY)
}

/// Platform-index partition (`gsi2pk`) of every agent recharge.
pub const RECHARGES: &str = "RECHARGES";

/// Sparse due-index partition (`gsi3pk`) of the online payments still waiting:
/// sort keys `<expires_at:012>#<kind>#<id>`, removed when the payment completes or is
/// cancelled.
pub const PAYMENTS_DUE: &str = "PAYMENTS#DUE";

/// Sort key of a pending payment of `kind` (`ARCH`) in [`PAYMENTS_DUE`].
pub fn payment_due_sort(expires_at: i64, kind: &str, id: u64) -> String {
    format!("{:012}#{kind}#{id:020}", expires_at.max(0))
}

/// Scope-index partition (`gsi1pk`) of one shop's recharges.
pub fn shop_recharges(shop_id: u64) -> String {
    format!("RECHARGES#SHOP#{shop_id}")
}

/// Sort key of a recharge in both lists: creation time (epoch seconds) and id.
pub fn recharge_sort(at: i64, id: u64) -> String {
    format!("{:012}#{id:020}", at.max(0))
}

/// Operation audit entry `entry_id` about object `target_id` of `target_type`,
/// written at wall-clock `nanos`.
pub fn operation_audit(target_type: &str, target_id: u64, nanos: u128, entry_id: &str) -> Key {
    Key::new(
        format!("AUDIT#{target_type}#{target_id}"),
        format!("{nanos:024}#{entry_id}"),
    )
}

// ---- polling

/// Partition of the cohorts of polling task `task`.
pub fn cohorts_pk(task: crate::domain::polling::TaskType) -> String {
    format!("POLLQ#{}", task.as_str())
}

/// Cohort `shard` of `task` due at `minute` (epoch minutes).
pub fn cohort(task: crate::domain::polling::TaskType, minute: i64, shard: u64) -> Key {
    Key::new(
        cohorts_pk(task),
        format!("{:012}#{shard:02}", minute.max(0)),
    )
}

/// The highest cohort sort key of `minute` (every shard of it sorts below).
pub fn cohort_sk_end(minute: i64) -> String {
    format!("{:012}#~", minute.max(0))
}

/// The concurrency semaphore of polling task `task`.
pub fn poll_semaphore(task: crate::domain::polling::TaskType) -> Key {
    Key::new(format!("POLLSEM#{}", task.as_str()), ENTITY)
}

/// Running counters of polling task `task`.
pub fn poll_stats(task: crate::domain::polling::TaskType) -> Key {
    Key::new(format!("POLLSTAT#{}", task.as_str()), ENTITY)
}

/// Counters of polling task `task` in `minute`.
pub fn poll_stats_minute(task: crate::domain::polling::TaskType, minute: i64) -> Key {
    Key::new(
        format!("POLLSTAT#{}", task.as_str()),
        format!("MIN#{:012}", minute.max(0)),
    )
}

/// A card's data usage on `date` (`YYYY-MM-DD`, Asia/Shanghai), in its partition.
pub fn card_daily(card_id: u64, date: &str) -> Key {
    Key::new(card(card_id).pk, format!("DAY#{date}"))
}

// ---- polling configurations, data cleanup (admin-polling; docs/data-model.md
// "Data cleanup")

/// The polling configuration of task type `task` (at most one per task type; the
/// dispatcher reads it with one GetItem).
pub fn polling_config(task: crate::domain::polling::TaskType) -> Key {
    Key::new(format!("POLLCFG#{}", task.as_str()), ENTITY)
}

/// Manual polling trigger log `id`.
pub fn poll_trigger(id: u64) -> Key {
    Key::new(format!("POLLTRIG#{id}"), ENTITY)
}

/// The polling backfill's position (one item).
pub fn poll_backfill() -> Key {
    Key::new("POLLBACKFILL", ENTITY)
}

/// The `gsi2` partition listing manual polling trigger logs.
pub const POLL_TRIGGERS: &str = "POLLTRIGS";

/// The pointer of polling configuration `id` to its task type (`task_type`).
pub fn polling_config_id(id: u64) -> Key {
    Key::new(format!("POLLCFGID#{id}"), ENTITY)
}

/// The cleanup configuration of `target` (at most one per target).
pub fn cleanup_config(target: CleanupTarget) -> Key {
    Key::new(format!("CLEANCFG#{}", target.as_str()), ENTITY)
}

/// The pointer of cleanup configuration `id` to its target (`target`).
pub fn cleanup_config_id(id: u64) -> Key {
    Key::new(format!("CLEANCFGID#{id}"), ENTITY)
}

/// Cleanup log `id`.
pub fn cleanup_log(id: u64) -> Key {
    Key::new(format!("CLEANLOG#{id}"), ENTITY)
}

/// `gsi2` partition of every cleanup log; sort key `<started:012>#<id:020>`.
pub const CLEANUP_LOGS: &str = "CLEANLOGS";

/// The cleanup job's run lock (a TTL item, one hour).
pub fn cleanup_lock() -> Key {
    Key::new("LOCK#data_cleanup", ENTITY)
}

use crate::domain::data_cleanup::CleanupTarget;

/// The cleanup index: every item of a cleanable kind carries `gsi4pk`/`gsi4sk` from
/// [`cleanup_index`] and `expires_at` = [`CleanupTarget::expires_at`] (TTL). `gsi4`
/// is otherwise used only by card and device items (identifier ranges), which are
/// never cleaned, so the kinds' own lists keep `gsi1`–`gsi3` free.
pub const CLEANUP_INDEX: super::On = super::On::Gsi4;
/// Attribute holding an item's cleanup partition.
pub const CLEANUP_PK_ATTR: &str = "gsi4pk";
/// Attribute holding an item's cleanup sort key.
pub const CLEANUP_SK_ATTR: &str = "gsi4sk";
/// Partitions per kind: a kind written a million times a day (daily records) spreads
/// its index writes over 16 partitions.
pub const CLEANUP_SHARDS: u32 = 16;

/// The cleanup shard of `tiebreak` (FNV-1a, stable across builds).
pub fn cleanup_shard(tiebreak: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in tiebreak.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % CLEANUP_SHARDS
}

/// Cleanup partition `shard` of `kind`: `CLEAN#<kind>#<shard>`.
pub fn cleanup_partition(kind: CleanupTarget, shard: u32) -> String {
    format!("CLEAN#{}#{shard}", kind.as_str())
}

/// The cleanup index key (`gsi4pk`, `gsi4sk`) of an item of `kind` written at `at`
/// (epoch seconds; the time it ages from, never changed afterwards) and told apart
/// from others of the same second by `tiebreak` (its id, or its `pk#sk`):
/// `CLEAN#<kind>#<fnv1a(tiebreak) % 16>`, `<at:012>#<tiebreak>`.
pub fn cleanup_index(kind: CleanupTarget, at: i64, tiebreak: &str) -> (String, String) {
    (
        cleanup_partition(kind, cleanup_shard(tiebreak)),
        format!("{:012}#{tiebreak}", at.max(0)),
    )
}

/// The highest cleanup sort key below which items were written before `cutoff`.
pub fn cleanup_cutoff_sort(cutoff: i64) -> String {
    format!("{:012}#", cutoff.max(0))
}

/// Marks `item` cleanable: its cleanup index key and its default expiry (`expires_at`).
pub fn mark_cleanable(item: &mut super::Item, kind: CleanupTarget, at: i64, tiebreak: &str) {
    let (pk, sk) = cleanup_index(kind, at, tiebreak);
    item.insert(CLEANUP_PK_ATTR.into(), super::s(pk));
    item.insert(CLEANUP_SK_ATTR.into(), super::s(sk));
    item.insert("expires_at".into(), super::n(kind.expires_at(at)));
}

// ---- commissions and withdrawals (docs/commissions.md)

/// Commission record of order `order_id` for the chain shop at `level` of `kind`
/// (in the order's partition, so an order's records are one Query).
pub fn commission_record(order_id: u64, level: u8, kind: &str) -> Key {
    Key::new(format!("ORDER#{order_id}"), format!("COMM#{level}#{kind}"))
}

/// Sort-key prefix of an order's commission records.
pub const COMMISSION_RECORD_PREFIX: &str = "COMM#";

/// The `gsi2` partition of every commission record (the platform's list).
pub const COMMISSIONS_ALL: &str = "COMMISSIONS";

/// The `gsi1` partition of a shop's commission records.
pub fn shop_commissions(shop: u64) -> String {
    format!("COMMISSIONS#SHOP#{shop}")
}

/// Shards of the unfreeze due index: a record's shard is its id modulo this.
pub const UNFREEZE_SHARDS: u64 = 16;

/// The sparse `gsi3` partition of frozen commission records of shard `shard`,
/// sorted by the time they become withdrawable.
pub fn commission_unfreeze_due(shard: u64) -> String {
    format!("COMMISSIONS#UNFREEZE#{shard}")
}

/// The sparse `gsi3` partition of orders whose commission calculation failed.
pub const ORDERS_COMMISSION_FAILED: &str = "ORDERS#COMMISSION_FAILED";

/// The marker of the one-time commission of an asset's generation and series.
pub fn one_time_marker(t: AssetType, asset_id: u64, generation: i64, series_id: u64) -> Key {
    Key::new(
        format!("ONETIME#{}#{asset_id}#{generation}#{series_id}", t.as_str()),
        ENTITY,
    )
}

/// A shop's sales statistics of a series in month `yyyymm`.
pub fn series_stats(shop: u64, series_id: u64, yyyymm: u32) -> Key {
    Key::new(
        format!("SHOP#{shop}"),
        format!("COMMSTATS#{series_id}#{yyyymm}"),
    )
}

/// A shop's commission wallet movements of month `yyyymm` (its statement's totals).
pub fn commission_month(shop: u64, yyyymm: u32) -> Key {
    Key::new(format!("SHOP#{shop}"), format!("COMMSTMT#{yyyymm}"))
}

/// An asset's recharge totals in generation `generation` (first recharge,
/// accumulated recharge: the one-time commission's trigger).
pub fn asset_recharges(t: AssetType, asset_id: u64, generation: i64) -> Key {
    Key::new(asset(t, asset_id).pk, format!("RECHARGES#{generation}"))
}

/// The marker of an asset recharge event (its totals count it once).
pub fn asset_recharge_event(event_id: &str) -> Key {
    Key::new(format!("ASSETRECHARGE#{event_id}"), ENTITY)
}

/// Withdrawal request `id`.
pub fn withdrawal(id: u64) -> Key {
    Key::new(format!("WITHDRAWAL#{id}"), ENTITY)
}

/// The `gsi2` partition of every withdrawal request (the platform's list).
pub const WITHDRAWALS_ALL: &str = "WITHDRAWALS";

/// The `gsi1` partition of a shop's withdrawal requests.
pub fn shop_withdrawals(shop: u64) -> String {
    format!("WITHDRAWALS#SHOP#{shop}")
}

/// What a shop requested on day `day` (`YYYY-MM-DD`), for the daily maximum.
pub fn withdrawal_day(shop: u64, day: &str) -> Key {
    Key::new(format!("SHOP#{shop}"), format!("WDDAY#{day}"))
}

/// The platform's withdrawal settings.
pub fn withdrawal_settings() -> Key {
    Key::new("SETTINGS#WITHDRAWAL", ENTITY)
}
