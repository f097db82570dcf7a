//! Business error codes of domain.md §8, the HTTP status each one answers with and
//! its message in Chinese (the spec's texts; the default) and English. This is the
//! only place that maps a code to a status or a message.

use axum::http::StatusCode;

/// Language of the envelope's `msg`: Chinese by default, English when the client's
/// `Accept-Language` prefers it (decisions.md B1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The language an `Accept-Language` header prefers: English when its most
    /// preferred language (highest `q`, first on ties) is English, else Chinese.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::Zh;
        };
        let mut best: Option<(f32, &str)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or_default().trim();
            if tag.is_empty() {
                continue;
            }
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(b, _)| q > b) {
                best = Some((q, tag));
            }
        }
        match best {
            Some((q, tag)) if q > 0.0 && tag.to_ascii_lowercase().starts_with("en") => Lang::En,
            _ => Lang::Zh,
        }
    }
}

/// A message in both languages (a detail such as which field failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    /// Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

impl Text {
    /// A message given in both languages.
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// The message in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

impl From<Code> for Text {
    fn from(code: Code) -> Self {
        Text::new(code.message(Lang::Zh), code.message(Lang::En))
    }
}

/// An error a use case can answer with: its business code decides the HTTP status.
pub trait BusinessError: std::error::Error {
    /// The business code for the envelope.
    fn code(&self) -> Code;

    /// Whether the message may be shown to the client. By default only for client
    /// errors (4xx); server errors answer the code's generic message and are logged.
    fn shows_message(&self) -> bool {
        !self.code().http_status().is_server_error()
    }

    /// A detail in both languages (which field failed), when the error has one.
    fn detail(&self) -> Option<Text> {
        None
    }

    /// The message shown to the client in both languages: the [`detail`] when there
    /// is one; otherwise the code's Chinese message and the error's own English text.
    ///
    /// [`detail`]: BusinessError::detail
    fn text(&self) -> Text {
        match self.detail() {
            Some(detail) => detail,
            None => Text::new(self.code().message(Lang::Zh), self.to_string()),
        }
    }
}

/// A business code carried in the response envelope's `code` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Code(pub u32);

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $value:expr, $status:ident, $zh:expr, $en:expr;)*) => {
        impl Code {
            $($(#[$doc])* pub const $name: Code = Code($value);)*

            /// The HTTP status associated with this code.
            pub fn http_status(self) -> StatusCode {
                match self.0 {
                    $($value => StatusCode::$status,)*
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                }
            }

            /// The code's message in `lang`.
            pub fn message(self, lang: Lang) -> &'static str {
                match (self.0, lang) {
                    $(($value, Lang::Zh) => $zh,)*
                    $(($value, Lang::En) => $en,)*
                    (_, Lang::Zh) => "服务器内部错误",
                    (_, Lang::En) => "internal server error",
                }
            }

            /// Every defined code; used by tests to check the table is consistent.
            pub const ALL: &'static [Code] = &[$(Code($value)),*];
        }
    };
}

codes! {
    /// Success.
    SUCCESS = 0, OK, "success", "success";
    /// `CodeInvalidParam`: request parameters could not be parsed or are invalid.
    INVALID_PARAM = 1001, BAD_REQUEST, "请求参数解析失败", "invalid request parameters";
    /// The addressed object does not exist (or is outside the caller's scope).
    NOT_FOUND = 1002, NOT_FOUND, "对象不存在", "not found";
    /// The request body is larger than the accepted maximum.
    PAYLOAD_TOO_LARGE = 1003, PAYLOAD_TOO_LARGE, "请求体过大", "request body too large";
    /// `CodeInvalidToken`: authentication required, token invalid, expired or revoked.
    INVALID_TOKEN = 1004, UNAUTHORIZED, "认证令牌无效或已过期", "token invalid or expired";
    /// `CodeForbidden`: insufficient permission.
    FORBIDDEN = 1005, FORBIDDEN, "权限不足", "insufficient permission";
    /// Too many requests in the current window.
    TOO_MANY_REQUESTS = 1006, TOO_MANY_REQUESTS, "请求过于频繁,请稍后再试", "too many requests, try again later";
    /// The route exists but not for this HTTP method.
    METHOD_NOT_ALLOWED = 1029, METHOD_NOT_ALLOWED, "该路由不支持此请求方法", "method not allowed";
    /// Optimistic-lock conflict: the object changed meanwhile; retry.
    VERSION_CONFLICT = 1007, CONFLICT, "数据已被他人修改,请刷新后重试", "the object was changed concurrently, retry";
    /// `Idempotency-Key` reused with a different request (method, path, query or body).
    IDEMPOTENCY_MISMATCH = 1008, UNPROCESSABLE_ENTITY, "幂等键已被不同的请求使用", "idempotency key reused with a different request";
    /// A request with the same `Idempotency-Key` is still being processed.
    IDEMPOTENCY_IN_PROGRESS = 1009, CONFLICT, "相同的请求正在处理中", "the same request is still being processed";
    /// Wrong username or password.
    INVALID_CREDENTIALS = 1010, UNAUTHORIZED, "用户名或密码错误", "wrong username or password";
    /// The account is disabled.
    ACCOUNT_DISABLED = 1011, FORBIDDEN, "账号已禁用", "account disabled";
    /// `CodeShopDisabled`: the account's shop is disabled, login refused.
    SHOP_DISABLED = 1012, FORBIDDEN, "店铺已禁用,禁止登录", "shop disabled, login refused";
    /// The enterprise of the account is disabled.
    ENTERPRISE_DISABLED = 1013, FORBIDDEN, "企业已禁用,禁止登录", "enterprise disabled, login refused";
    /// Creating the shop would exceed the maximum depth of 7 levels.
    SHOP_LEVEL_EXCEEDED = 1014, BAD_REQUEST, "店铺层级不能超过7级", "shop level would exceed 7";
    /// Shop code already used by a live shop.
    DUPLICATE_SHOP_CODE = 1015, CONFLICT, "店铺编码已存在", "shop code already exists";
    /// The default role does not exist, is not a customer role, or is disabled.
    INVALID_DEFAULT_ROLE = 1016, BAD_REQUEST, "默认角色必须是已启用的客户角色", "default role must be an enabled customer role";
    /// Role name already used.
    DUPLICATE_ROLE_NAME = 1017, CONFLICT, "角色名称已存在", "role name already exists";
    /// Username already used.
    DUPLICATE_USERNAME = 1018, CONFLICT, "用户名已存在", "username already exists";
    /// The shop still has live sub-shops.
    SHOP_HAS_CHILDREN = 1019, CONFLICT, "店铺下还有下级店铺", "shop still has sub-shops";
    /// Enterprise code already used by a live enterprise.
    DUPLICATE_ENTERPRISE_CODE = 1020, CONFLICT, "企业编码已存在", "enterprise code already exists";
    /// The enterprise already has its (single) account.
    ENTERPRISE_ACCOUNT_EXISTS = 1021, CONFLICT, "该企业已有账号", "the enterprise already has an account";
    /// Permission code already used.
    DUPLICATE_PERMISSION_CODE = 1022, CONFLICT, "权限编码已存在", "permission code already exists";
    /// The role is still assigned and cannot be deleted.
    ROLE_IN_USE = 1023, CONFLICT, "角色仍在使用中", "role is still in use";
    /// The parent shop is missing or deleted.
    PARENT_SHOP_NOT_FOUND = 1024, BAD_REQUEST, "上级店铺不存在", "parent shop not found";
    /// The permission still has child permissions.
    PERMISSION_HAS_CHILDREN = 1025, CONFLICT, "权限下还有子权限", "permission still has children";
    /// The owner shop of an enterprise is missing, deleted or out of scope.
    OWNER_SHOP_NOT_FOUND = 1026, BAD_REQUEST, "归属店铺不存在", "owner shop not found";
    /// Wrong current password on a password change.
    WRONG_PASSWORD = 1027, BAD_REQUEST, "当前密码错误", "current password is wrong";
    /// The enterprise still has an account.
    ENTERPRISE_HAS_ACCOUNT = 1028, CONFLICT, "该企业仍有账号", "the enterprise still has an account";
    /// Carrier code already used by a live carrier.
    DUPLICATE_CARRIER_CODE = 1030, CONFLICT, "运营商编码已存在", "carrier code already exists";
    /// Deactivation (or another change) is not allowed from the asset's status.
    ASSET_STATUS_INVALID = 1031, CONFLICT, "资产当前状态不允许此操作", "not allowed in the asset's current status";
    /// Virtual number already used by another asset.
    DUPLICATE_VIRTUAL_NO = 1032, CONFLICT, "虚拟号已存在", "virtual number already exists";
    /// The device slot already holds a card.
    SLOT_OCCUPIED = 1033, CONFLICT, "该卡槽已有卡", "the slot already holds a card";
    /// The card is bound to another device.
    CARD_ALREADY_BOUND = 1034, CONFLICT, "该卡已绑定其他设备", "the card is already bound to a device";
    /// Allocation target is not a direct subordinate shop.
    NOT_DIRECT_SUBORDINATE = 1035, BAD_REQUEST, "目标店铺必须是直属下级", "the target shop must be a direct subordinate";
    /// Identifier (IMEI, SN, MSISDN) already used by another asset.
    DUPLICATE_IDENTIFIER = 1036, CONFLICT, "标识已被其他资产使用", "identifier already used by another asset";
    /// Device refresh cooldown (30 s) still running.
    REFRESH_COOLDOWN = 1037, TOO_MANY_REQUESTS, "请勿频繁刷新", "do not refresh too often";
    /// A device protect period blocks this operation.
    PROTECT_PERIOD = 1038, FORBIDDEN, "设备处于保护期,不允许操作", "the device is in a protect period";
    /// Unverified cards cannot be stopped or started.
    CARD_NOT_VERIFIED = 1039, FORBIDDEN, "未实名卡不允许停复机", "unverified cards cannot be stopped or started";
    /// Series code already used by a live series.
    DUPLICATE_SERIES_CODE = 1040, CONFLICT, "套餐系列编码已存在", "series code already exists";
    /// Package code already used by a live package.
    DUPLICATE_PACKAGE_CODE = 1041, CONFLICT, "套餐编码已存在", "package code already exists";
    /// 该代理已存在此系列授权: the shop already holds a grant of this series.
    DUPLICATE_GRANT = 1042, CONFLICT, "该代理已存在此系列授权", "the agent already has a grant of this series";
    /// 当前账号无此系列授权,无法向下分配: the grantor holds no grant of the series.
    GRANTOR_LACKS_GRANT = 1043, FORBIDDEN, "当前账号无此系列授权,无法向下分配", "you hold no grant of this series and cannot pass it down";
    /// A commission amount exceeds the grantor's own amount.
    GRANT_CEILING_EXCEEDED = 1044, BAD_REQUEST, "佣金金额超过上级的额度", "commission amount exceeds the grantor's ceiling";
    /// Tier thresholds differ from the series' thresholds.
    TIER_MISMATCH = 1045, BAD_REQUEST, "佣金梯度必须与系列的梯度一致", "commission tiers must match the series thresholds";
    /// The cost price is locked: the shop allocated the package to subordinates.
    COST_PRICE_LOCKED = 1046, CONFLICT, "已向下级分配,成本价已锁定", "cost price locked by subordinate allocations";
    /// A retail price below the shop's cost price.
    RETAIL_BELOW_COST = 1047, BAD_REQUEST, "零售价不能低于成本价", "retail price must not be below the cost price";
    /// 店铺没有该套餐的分配配置: the shop has no allocation of the package.
    NO_ALLOCATION = 1048, BAD_REQUEST, "店铺没有该套餐的分配配置", "the shop has no allocation of this package";
    /// The grantee issued grants of the same series to its subordinates.
    GRANT_HAS_SUBORDINATES = 1049, CONFLICT, "下级授权依赖此授权", "subordinate grants depend on this grant";
    /// The series has packages or grants.
    SERIES_IN_USE = 1050, CONFLICT, "套餐系列正在使用中", "the series is in use";
    /// The package is allocated to shops.
    PACKAGE_IN_USE = 1051, CONFLICT, "套餐已分配给店铺", "the package is allocated to shops";
    /// The package does not belong to the grant's series.
    PACKAGE_NOT_IN_SERIES = 1052, BAD_REQUEST, "套餐不属于该系列", "the package does not belong to this series";
    /// The package cannot be sold (disabled, off shelf, retail below cost).
    PACKAGE_NOT_SELLABLE = 1053, BAD_REQUEST, "该套餐不可售", "the package cannot be sold";
    /// The shop allocated this package further down; remove those allocations first.
    ALLOCATION_IN_USE = 1054, CONFLICT, "套餐已向下级分配,请先移除下级分配", "the package is allocated further down";
    /// A cost price below the grantor's own cost price.
    COST_BELOW_GRANTOR_COST = 1055, BAD_REQUEST, "成本价不能低于上级的成本价", "cost price must not be below the grantor's cost price";
    /// The grant is being created or deleted; retry shortly.
    GRANT_IN_PROGRESS = 1056, CONFLICT, "授权正在创建或删除中,请稍后重试", "the grant is being created or deleted, retry shortly";
    /// The shop holds no grant of the package's series from the caller.
    SHOP_HAS_NO_GRANT = 1057, BAD_REQUEST, "该店铺没有您授予的此系列授权", "the shop holds no grant of this series from you";
    /// DynamoDB kept cancelling a transaction for conflicts or throttling; nothing was
    /// written and the request may be retried.
    BUSY = 1058, SERVICE_UNAVAILABLE, "系统繁忙,请稍后重试", "the system is busy, retry shortly";
    /// A live role still grants the permission.
    PERMISSION_IN_USE = 1059, CONFLICT, "权限仍被角色使用", "the permission is still granted by a role";
    /// The bulk task has not finished: its results file does not exist yet.
    BULK_TASK_UNFINISHED = 1060, CONFLICT, "批量任务尚未完成,结果暂不可下载", "the bulk task has not finished; its results are not ready";
    /// The request of this `Idempotency-Key` was executed, but its response was too
    /// large to keep, so a replay cannot return it.
    IDEMPOTENT_RESPONSE_NOT_KEPT = 1061, CONFLICT, "该请求已执行,但响应过大未保存,请查询结果", "the request was already executed but its response was too large to keep; look up the result";
    /// `CodeGatewayError`: the carrier gateway failed (the upstream reason is in `msg`).
    GATEWAY_ERROR = 1110, BAD_GATEWAY, "运营商网关业务错误", "carrier gateway error";
    /// `CodeGatewayTimeout`.
    GATEWAY_TIMEOUT = 1111, GATEWAY_TIMEOUT, "Gateway 请求超时", "carrier gateway timeout";
    /// `CodeGatewayInvalidResp`.
    GATEWAY_INVALID_RESPONSE = 1112, BAD_GATEWAY, "解析 Gateway 响应失败", "invalid carrier gateway response";
    /// `CodeRechargeNotFound`: the agent recharge does not exist or is outside the
    /// caller's shops.
    RECHARGE_NOT_FOUND = 1121, NOT_FOUND, "充值记录不存在", "recharge record not found";
    /// 目标店铺主钱包不存在: the target shop has no main wallet.
    MAIN_WALLET_MISSING = 1122, BAD_REQUEST, "目标店铺主钱包不存在", "the target shop's main wallet does not exist";
    /// 余额不足: the wallet's available balance is below the amount.
    INSUFFICIENT_BALANCE = 1123, BAD_REQUEST, "余额不足", "insufficient balance";
    /// The operator's own password, asked again to confirm a money operation, is wrong.
    WRONG_OPERATION_PASSWORD = 1124, BAD_REQUEST, "操作密码错误", "wrong operation password";
    /// A ledger event id was replayed with another wallet, direction or amount.
    LEDGER_EVENT_CONFLICT = 1125, CONFLICT, "流水事件冲突:已存在的流水与本次请求不一致", "ledger event conflict: the recorded line differs from this request";
    /// The recharge is no longer pending (already completed or cancelled).
    RECHARGE_NOT_PENDING = 1126, CONFLICT, "充值记录不是待支付状态", "the recharge is not pending";
    /// Unfreezing or spending more than the wallet has frozen.
    FROZEN_INSUFFICIENT = 1127, CONFLICT, "冻结金额不足", "not enough frozen money";
    /// Only an offline recharge can be confirmed as paid offline.
    RECHARGE_NOT_OFFLINE = 1128, BAD_REQUEST, "仅线下充值可确认到账", "only offline recharges can be confirmed offline";
    /// The package usage does not exist or is outside the caller's scope; also the
    /// answer of `current-package` when no main package is active.
    PACKAGE_USAGE_NOT_FOUND = 1130, NOT_FOUND, "套餐使用记录不存在", "package usage not found";
    /// `CodeNoMainPackage`: an add-on needs an active or pending main package.
    NO_MAIN_PACKAGE = 1131, BAD_REQUEST, "请先购买主套餐", "an add-on needs an active or pending main package";
    /// `CodeMixedOrderForbidden`: main packages and add-ons in one order.
    MIXED_ORDER_FORBIDDEN = 1132, BAD_REQUEST, "主套餐和加油包不能在同一订单中购买", "main packages and add-ons cannot be bought in one order";
    /// `CodePackageActivationConflict`: another purchase of the asset is being written.
    PACKAGE_ACTIVATION_CONFLICT = 1133, CONFLICT, "套餐正在激活中,请稍后重试", "package activation in progress, retry shortly";
    /// The order does not exist or is outside the caller's scope.
    ORDER_NOT_FOUND = 1134, NOT_FOUND, "订单不存在", "order not found";
    /// Only a pending order can be cancelled (it was paid or cancelled already).
    ORDER_NOT_PENDING = 1135, CONFLICT, "订单不是待支付状态,无法取消", "only a pending order can be cancelled";
    /// The withdrawal request does not exist or is outside the caller's shops.
    WITHDRAWAL_NOT_FOUND = 1140, NOT_FOUND, "提现申请不存在", "withdrawal request not found";
    /// The withdrawal request was already approved or rejected.
    WITHDRAWAL_NOT_PENDING = 1141, CONFLICT, "提现申请已审核,不能重复操作", "the withdrawal request was already reviewed";
    /// The amount is below the minimum or above the maximum of one request.
    WITHDRAWAL_AMOUNT_OUT_OF_RANGE = 1142, BAD_REQUEST, "提现金额不在允许范围内", "the withdrawal amount is outside the allowed range";
    /// The shop's requests of the day would exceed the daily maximum.
    WITHDRAWAL_DAILY_LIMIT = 1143, BAD_REQUEST, "超出每日提现额度", "the daily withdrawal maximum would be exceeded";
    /// The platform has disabled withdrawals.
    WITHDRAWAL_DISABLED = 1144, FORBIDDEN, "提现功能已关闭", "withdrawals are disabled";
    /// The payee type is not among the allowed ones.
    PAYEE_TYPE_NOT_ALLOWED = 1145, BAD_REQUEST, "不支持该收款方式", "this payee type is not allowed";
    /// Only an order whose commission calculation failed can be retried.
    COMMISSION_NOT_FAILED = 1146, CONFLICT, "该订单的佣金计算未失败,无需重试", "the order's commission calculation did not fail";
    /// `CodeWechatConfigNotFound`: no such payment configuration (or deleted).
    PAYMENT_CONFIG_NOT_FOUND = 1170, NOT_FOUND, "微信支付配置不存在", "payment config not found";
    /// `CodeWechatConfigActive`: the active configuration cannot be deleted.
    PAYMENT_CONFIG_ACTIVE = 1171, CONFLICT, "不能删除当前生效的支付配置,请先停用", "cannot delete the active payment config, deactivate it first";
    /// `CodeWechatConfigHasPendingOrders`: pending payments reference the configuration.
    PAYMENT_CONFIG_IN_USE = 1172, CONFLICT, "该配置存在未完成的支付订单,暂时无法删除", "the payment config has unfinished payments";
    /// `CodeFuiouPayFailed` (also any payment provider's refusal or outage).
    PAYMENT_PROVIDER_FAILED = 1173, BAD_GATEWAY, "支付渠道下单失败", "the payment provider failed";
    /// `CodeFuiouCallbackInvalid`: a notification that does not verify.
    PAYMENT_CALLBACK_INVALID = 1174, BAD_REQUEST, "支付回调验签失败", "payment notification signature invalid";
    /// `CodeNoPaymentConfig`: no active payment configuration, online payment refused.
    NO_PAYMENT_CONFIG = 1175, BAD_REQUEST, "当前无可用的支付配置", "no payment config available";
    /// No such polling alert rule.
    POLLING_ALERT_RULE_NOT_FOUND = 1210, NOT_FOUND, "告警规则不存在", "polling alert rule not found";
    /// No such usage rule, or it is outside the caller's scope.
    USAGE_RULE_NOT_FOUND = 1211, NOT_FOUND, "用量规则不存在", "usage rule not found";
    /// The shop (or the platform) already holds the most usage rules allowed.
    USAGE_RULES_FULL = 1212, CONFLICT, "该范围的用量规则已达上限", "the scope holds the most usage rules allowed";
    /// `CodeAssetNotFound`.
    ASSET_NOT_FOUND = 1180, NOT_FOUND, "资产不存在", "asset not found";
    // ---- admin-polling (1200-1209)
    /// No such polling configuration (deleted, or never created: defaults apply).
    POLLING_CONFIG_NOT_FOUND = 1200, NOT_FOUND, "轮询配置不存在", "polling config not found";
    /// The task type already has its polling configuration (one per task type).
    POLLING_CONFIG_EXISTS = 1201, CONFLICT, "该任务类型已存在轮询配置", "the task type already has a polling config";
    /// No such data cleanup configuration.
    CLEANUP_CONFIG_NOT_FOUND = 1202, NOT_FOUND, "数据清理配置不存在", "data cleanup config not found";
    /// The data kind already has its cleanup configuration (one per target).
    CLEANUP_CONFIG_EXISTS = 1203, CONFLICT, "该数据类型已存在清理配置", "the data kind already has a cleanup config";
    /// `CodeInternalError`.
    INTERNAL = 2001, INTERNAL_SERVER_ERROR, "服务器内部错误", "internal server error";
    /// `CodeDatabaseError`.
    DATABASE = 2002, INTERNAL_SERVER_ERROR, "数据库错误", "database error";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_errors_are_not_ok() {
        let mut seen = HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.0), "duplicate code {}", code.0);
            if *code != Code::SUCCESS {
                assert!(
                    !code.http_status().is_success(),
                    "code {} maps to 2xx",
                    code.0
                );
            }
        }
    }

    #[test]
    fn every_code_speaks_both_languages() {
        for code in Code::ALL {
            let (zh, en) = (code.message(Lang::Zh), code.message(Lang::En));
            assert!(!zh.is_empty() && !en.is_empty(), "code {}", code.0);
            if *code != Code::SUCCESS {
                assert!(
                    !zh.is_ascii(),
                    "code {} has no Chinese message: {zh}",
                    code.0
                );
                assert!(
                    en.is_ascii(),
                    "code {} has no English message: {en}",
                    code.0
                );
            }
        }
        assert_eq!(Code::FORBIDDEN.message(Lang::Zh), "权限不足");
        assert_eq!(Code::ASSET_NOT_FOUND.message(Lang::Zh), "资产不存在");
        assert_eq!(
            Code::INVALID_TOKEN.message(Lang::Zh),
            "认证令牌无效或已过期"
        );
    }

    #[test]
    fn accept_language_picks_the_most_preferred() {
        for (header, want) in [
            (None, Lang::Zh),
            (Some(""), Lang::Zh),
            (Some("en"), Lang::En),
            (Some("en-US,en;q=0.9"), Lang::En),
            (Some("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh),
            (Some("zh;q=0.5, en;q=0.9"), Lang::En),
            (Some("fr-FR, en;q=0.5"), Lang::Zh),
            (Some("EN-gb"), Lang::En),
            (Some("en;q=0"), Lang::Zh),
            (Some("*"), Lang::Zh),
            (Some(";;,,;q=x"), Lang::Zh),
        ] {
            assert_eq!(Lang::from_accept_language(header), want, "{header:?}");
        }
    }

    #[test]
    fn spec_numbers_are_kept() {
        assert_eq!(Code::INVALID_PARAM.http_status(), StatusCode::BAD_REQUEST);
        assert_eq!(Code::INVALID_TOKEN.0, 1004);
        assert_eq!(Code::FORBIDDEN.0, 1005);
        assert_eq!(Code::INTERNAL.0, 2001);
        assert_eq!(Code::DATABASE.0, 2002);
        assert_eq!(Code(9999).http_status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
