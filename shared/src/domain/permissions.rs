//! Role permissions (decisions.md B2): the seeded permission catalogue every route's
//! code comes from, and the rule that turns an account's roles into the codes it
//! holds.

use std::collections::{BTreeMap, BTreeSet};

use super::entities::Role;
use super::org::{PermType, Status};

/// Who a permission is meant for: the seeded customer role holds the codes agents
/// and enterprises may use, the seeded platform role holds all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Platform staff only (the routes refuse other user types anyway).
    Platform,
    /// Platform staff, agents and enterprises.
    Everyone,
}

/// One entry of the catalogue.
#[derive(Clone, Copy, Debug)]
pub struct PermDef {
    /// The code routes name.
    pub code: &'static str,
    /// Display name (zh).
    pub name: &'static str,
    /// The menu it sits under (`None` for a menu).
    pub parent: Option<&'static str>,
    /// Who it is meant for.
    pub audience: Audience,
}

impl PermDef {
    /// Menu or button.
    pub fn perm_type(&self) -> PermType {
        match self.parent {
            None => PermType::Menu,
            Some(_) => PermType::Button,
        }
    }
}

const fn menu(code: &'static str, name: &'static str) -> PermDef {
    PermDef {
        code,
        name,
        parent: None,
        audience: Audience::Everyone,
    }
}

const fn button(
    parent: &'static str,
    code: &'static str,
    name: &'static str,
    audience: Audience,
) -> PermDef {
    PermDef {
        code,
        name,
        parent: Some(parent),
        audience,
    }
}

const fn all(parent: &'static str, code: &'static str, name: &'static str) -> PermDef {
    button(parent, code, name, Audience::Everyone)
}

const fn platform(parent: &'static str, code: &'static str, name: &'static str) -> PermDef {
    button(parent, code, name, Audience::Platform)
}

/// The permission tree a fresh install is seeded with: five menus and the codes of
/// every route (`api::access` names one per route). Menus come before their buttons.
pub const CATALOGUE: &[PermDef] = &[
    menu("org", "组织管理"),
    all("org", "shop:view", "查看店铺"),
    all("org", "shop:create", "新建店铺"),
    all("org", "shop:update", "编辑店铺"),
    platform("org", "shop:delete", "删除店铺"),
    platform("org", "shop:roles", "设置店铺角色"),
    all("org", "account:view", "查看账号"),
    all("org", "account:create", "新建账号"),
    all("org", "account:update", "编辑账号"),
    all("org", "account:delete", "删除账号"),
    all("org", "account:password", "重置账号密码"),
    all("org", "account:roles", "分配账号角色"),
    platform("org", "account:logs", "查看账号操作日志"),
    all("org", "enterprise:view", "查看企业"),
    all("org", "enterprise:create", "新建企业"),
    all("org", "enterprise:update", "编辑企业"),
    all("org", "enterprise:delete", "删除企业"),
    all("org", "enterprise:authorize", "授权/回收企业卡和设备"),
    all("org", "authorization:view", "查看企业授权记录"),
    all("org", "role:view", "查看角色"),
    platform("org", "role:create", "新建角色"),
    platform("org", "role:update", "编辑角色"),
    platform("org", "role:delete", "删除角色"),
    platform("org", "role:permissions", "设置角色权限"),
    menu("assets", "资产管理"),
    all("assets", "card:view", "查看物联网卡"),
    all("assets", "card:update", "编辑物联网卡"),
    all("assets", "card:deactivate", "停用物联网卡"),
    all("assets", "card:allocate", "分配/回收物联网卡"),
    platform("assets", "card:import", "导入物联网卡"),
    all("assets", "device:view", "查看设备"),
    all("assets", "device:update", "编辑设备"),
    platform("assets", "device:delete", "删除设备"),
    all("assets", "device:deactivate", "停用设备"),
    all("assets", "device:bind", "绑定/解绑设备卡"),
    all("assets", "device:allocate", "分配/回收设备"),
    platform("assets", "device:import", "导入设备"),
    all("assets", "device:command", "设备远程指令"),
    all("assets", "asset:view", "查看资产状态"),
    all("assets", "asset:operate", "资产操作"),
    all("assets", "allocation:view", "查看分配记录"),
    all("assets", "bulk_task:view", "查看批量分配/回收任务"),
    all("assets", "storage:upload", "上传文件"),
    all("assets", "storage:download", "下载文件"),
    menu("catalog", "套餐管理"),
    all("catalog", "carrier:view", "查看运营商"),
    platform("catalog", "carrier:create", "新建运营商"),
    platform("catalog", "carrier:update", "编辑运营商"),
    platform("catalog", "carrier:delete", "删除运营商"),
    all("catalog", "series:view", "查看套餐系列"),
    platform("catalog", "series:create", "新建套餐系列"),
    platform("catalog", "series:update", "编辑套餐系列"),
    platform("catalog", "series:delete", "删除套餐系列"),
    all("catalog", "package:view", "查看套餐"),
    platform("catalog", "package:create", "新建套餐"),
    platform("catalog", "package:update", "编辑套餐"),
    platform("catalog", "package:delete", "删除套餐"),
    all("catalog", "package:price", "设置套餐售价"),
    all("catalog", "package:shelf", "套餐上下架"),
    all("catalog", "package:allocate", "分配套餐"),
    all("catalog", "grant:view", "查看系列授权"),
    all("catalog", "grant:create", "新建系列授权"),
    all("catalog", "grant:update", "编辑系列授权"),
    all("catalog", "grant:delete", "删除系列授权"),
    menu("finance", "财务管理"),
    all("finance", "wallet:view", "查看代理钱包"),
    all("finance", "recharge:view", "查看代理充值"),
    all("finance", "recharge:create", "发起代理充值"),
    platform("finance", "recharge:offline_pay", "确认线下充值到账"),
    all("finance", "order:view", "查看订单"),
    all("finance", "order:create", "下单购买套餐"),
    all("finance", "order:cancel", "取消待支付订单"),
    platform("finance", "payment_config:view", "查看支付配置"),
    platform("finance", "payment_config:manage", "管理支付配置"),
    menu("system", "系统管理"),
    all("system", "permission:view", "查看权限"),
    platform("system", "permission:manage", "管理权限"),
    all("system", "audit:view", "查看操作审计"),
    platform("system", "polling:view", "查看轮询与监控"),
    platform("system", "polling:manage", "管理轮询、告警与数据清理"),
    all("assets", "usage_rule:view", "查看用量规则"),
    all("assets", "usage_rule:manage", "管理用量规则"),
    all("finance", "commission:view", "查看佣金与提现"),
    all("finance", "commission:withdraw", "申请佣金提现"),
    platform("finance", "commission:review", "审核提现与佣金计算"),
    platform("finance", "commission:settings", "修改提现设置"),
];

/// Whether `code` is in the catalogue.
pub fn is_catalogued(code: &str) -> bool {
    CATALOGUE.iter().any(|d| d.code == code)
}

/// One live permission as the per-request check sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// Its code.
    pub code: String,
    /// Whether it is enabled (a disabled permission grants nothing).
    pub enabled: bool,
}

/// Every live permission by id: the one item the per-request read fetches to turn
/// roles' permission ids into codes.
pub type PermissionIndex = BTreeMap<u64, IndexEntry>;

/// What a caller may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grants {
    /// The super admin: every code.
    Everything,
    /// The codes of the caller's effective roles.
    Codes(BTreeSet<String>),
}

impl Grants {
    /// Whether the caller holds `code`.
    pub fn allows(&self, code: &str) -> bool {
        match self {
            Grants::Everything => true,
            Grants::Codes(codes) => codes.contains(code),
        }
    }
}

/// The roles that count for an account: those it holds which are also in `bound`
/// (its shop's roles, for agent and enterprise accounts of a shop), in order.
pub fn effective_role_ids(held: &[u64], bound: Option<&[u64]>) -> Vec<u64> {
    held.iter()
        .copied()
        .filter(|id| bound.is_none_or(|b| b.contains(id)))
        .collect()
}

/// The codes granted by `roles` (the effective ones): the union of the enabled,
/// live permissions of the enabled, live roles.
pub fn codes_of(roles: &[Role], index: &PermissionIndex) -> BTreeSet<String> {
    roles
        .iter()
        .filter(|r| r.status == Status::Enabled && r.deleted_at.is_none())
        .flat_map(|r| r.permission_ids.iter())
        .filter_map(|id| index.get(id))
        .filter(|e| e.enabled)
        .map(|e| e.code.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::org::RoleType;

    fn role(id: u64, status: Status, perms: &[u64]) -> Role {
        Role {
            id,
            role_name: format!("r{id}"),
            role_desc: None,
            role_type: RoleType::Customer,
            status,
            permission_ids: perms.to_vec(),
            holders: 0,
            created_at: String::new(),
            updated_at: String::new(),
            deleted_at: None,
            creator: 0,
            updater: 0,
            version: 1,
        }
    }

    fn entry(code: &str, enabled: bool) -> IndexEntry {
        IndexEntry {
            code: code.into(),
            enabled,
        }
    }

    #[test]
    fn the_catalogue_is_a_tree_of_unique_valid_codes() {
        let mut seen = BTreeSet::new();
        for d in CATALOGUE {
            assert!(seen.insert(d.code), "duplicate {}", d.code);
            assert!(crate::domain::validate::code("perm_code", d.code).is_ok());
            if let Some(p) = d.parent {
                assert!(seen.contains(p), "{} comes before its menu {p}", d.code);
            }
        }
    }

    #[test]
    fn codes_are_the_union_of_enabled_roles_and_permissions() {
        let index: PermissionIndex = [
            (1, entry("shop:view", true)),
            (2, entry("shop:create", true)),
            (3, entry("shop:delete", false)),
        ]
        .into();
        let roles = [
            role(10, Status::Enabled, &[1, 3, 99]),
            role(11, Status::Disabled, &[2]),
        ];
        let codes = codes_of(&roles, &index);
        assert_eq!(codes, BTreeSet::from(["shop:view".to_string()]));
        let grants = Grants::Codes(codes);
        assert!(grants.allows("shop:view"));
        assert!(!grants.allows("shop:create"), "disabled role");
        assert!(!grants.allows("shop:delete"), "disabled permission");
        assert!(Grants::Everything.allows("anything"));
    }

    #[test]
    fn a_shop_bounds_its_accounts_roles() {
        assert_eq!(effective_role_ids(&[1, 2, 3], Some(&[2, 3, 4])), vec![2, 3]);
        assert_eq!(effective_role_ids(&[1, 2], None), vec![1, 2]);
        assert!(effective_role_ids(&[1], Some(&[])).is_empty());
    }
}
