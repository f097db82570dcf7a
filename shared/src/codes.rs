//! Business error codes of domain.md §8 and the HTTP status each one answers with.
//! This is the only place that maps a code to a status.

use axum::http::StatusCode;

/// An error a use case can answer with: its business code decides the HTTP status.
pub trait BusinessError: std::error::Error {
    /// The business code for the envelope.
    fn code(&self) -> Code;

    /// Whether the message may be shown to the client. By default only for client
    /// errors (4xx); server errors answer the code's generic message and are logged.
    fn shows_message(&self) -> bool {
        !self.code().http_status().is_server_error()
    }
}

/// A business code carried in the response envelope's `code` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Code(pub u32);

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $value:expr, $status:ident, $msg:expr;)*) => {
        impl Code {
            $($(#[$doc])* pub const $name: Code = Code($value);)*

            /// The HTTP status associated with this code.
            pub fn http_status(self) -> StatusCode {
                match self.0 {
                    $($value => StatusCode::$status,)*
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                }
            }

            /// The default English message for this code.
            pub fn default_message(self) -> &'static str {
                match self.0 {
                    $($value => $msg,)*
                    _ => "internal server error",
                }
            }

            /// Every defined code; used by tests to check the table is consistent.
            pub const ALL: &'static [Code] = &[$(Code($value)),*];
        }
    };
}

codes! {
    /// Success.
    SUCCESS = 0, OK, "success";
    /// `CodeInvalidParam`: request parameters could not be parsed or are invalid.
    INVALID_PARAM = 1001, BAD_REQUEST, "invalid request parameters";
    /// The addressed object does not exist (or is outside the caller's scope).
    NOT_FOUND = 1002, NOT_FOUND, "not found";
    /// The request body is larger than the accepted maximum.
    PAYLOAD_TOO_LARGE = 1003, PAYLOAD_TOO_LARGE, "request body too large";
    /// `CodeInvalidToken`: authentication required, token invalid, expired or revoked.
    INVALID_TOKEN = 1004, UNAUTHORIZED, "token invalid or expired";
    /// `CodeForbidden`: insufficient permission.
    FORBIDDEN = 1005, FORBIDDEN, "insufficient permission";
    /// Too many requests in the current window.
    TOO_MANY_REQUESTS = 1006, TOO_MANY_REQUESTS, "too many requests, try again later";
    /// The route exists but not for this HTTP method.
    METHOD_NOT_ALLOWED = 1029, METHOD_NOT_ALLOWED, "method not allowed";
    /// Optimistic-lock conflict: the object changed meanwhile; retry.
    VERSION_CONFLICT = 1007, CONFLICT, "the object was changed concurrently, retry";
    /// Idempotency key reused with a different payload.
    IDEMPOTENCY_MISMATCH = 1008, UNPROCESSABLE_ENTITY, "idempotency key reused with a different request";
    /// A request with the same idempotency key is still being processed.
    IDEMPOTENCY_IN_PROGRESS = 1009, CONFLICT, "the same request is still being processed";
    /// Wrong username or password.
    INVALID_CREDENTIALS = 1010, UNAUTHORIZED, "wrong username or password";
    /// The account is disabled.
    ACCOUNT_DISABLED = 1011, FORBIDDEN, "account disabled";
    /// `CodeShopDisabled`: the account's shop is disabled, login refused.
    SHOP_DISABLED = 1012, FORBIDDEN, "shop disabled, login refused";
    /// The enterprise of the account is disabled.
    ENTERPRISE_DISABLED = 1013, FORBIDDEN, "enterprise disabled, login refused";
    /// Creating the shop would exceed the maximum depth of 7 levels.
    SHOP_LEVEL_EXCEEDED = 1014, BAD_REQUEST, "shop level would exceed 7";
    /// Shop code already used by a live shop.
    DUPLICATE_SHOP_CODE = 1015, CONFLICT, "shop code already exists";
    /// The default role does not exist, is not a customer role, or is disabled.
    INVALID_DEFAULT_ROLE = 1016, BAD_REQUEST, "default role must be an enabled customer role";
    /// Role name already used.
    DUPLICATE_ROLE_NAME = 1017, CONFLICT, "role name already exists";
    /// Username already used.
    DUPLICATE_USERNAME = 1018, CONFLICT, "username already exists";
    /// The shop still has live sub-shops.
    SHOP_HAS_CHILDREN = 1019, CONFLICT, "shop still has sub-shops";
    /// Enterprise code already used by a live enterprise.
    DUPLICATE_ENTERPRISE_CODE = 1020, CONFLICT, "enterprise code already exists";
    /// The enterprise already has its (single) account.
    ENTERPRISE_ACCOUNT_EXISTS = 1021, CONFLICT, "the enterprise already has an account";
    /// Permission code already used.
    DUPLICATE_PERMISSION_CODE = 1022, CONFLICT, "permission code already exists";
    /// The role is still assigned and cannot be deleted.
    ROLE_IN_USE = 1023, CONFLICT, "role is still in use";
    /// The parent shop is missing or deleted.
    PARENT_SHOP_NOT_FOUND = 1024, BAD_REQUEST, "parent shop not found";
    /// The permission still has child permissions.
    PERMISSION_HAS_CHILDREN = 1025, CONFLICT, "permission still has children";
    /// The owner shop of an enterprise is missing, deleted or out of scope.
    OWNER_SHOP_NOT_FOUND = 1026, BAD_REQUEST, "owner shop not found";
    /// Wrong current password on a password change.
    WRONG_PASSWORD = 1027, BAD_REQUEST, "current password is wrong";
    /// The enterprise still has an account.
    ENTERPRISE_HAS_ACCOUNT = 1028, CONFLICT, "the enterprise still has an account";
    /// Carrier code already used by a live carrier.
    DUPLICATE_CARRIER_CODE = 1030, CONFLICT, "carrier code already exists";
    /// Deactivation (or another change) is not allowed from the asset's status.
    ASSET_STATUS_INVALID = 1031, CONFLICT, "not allowed in the asset's current status";
    /// Virtual number already used by another asset.
    DUPLICATE_VIRTUAL_NO = 1032, CONFLICT, "virtual number already exists";
    /// The device slot already holds a card.
    SLOT_OCCUPIED = 1033, CONFLICT, "the slot already holds a card";
    /// The card is bound to another device.
    CARD_ALREADY_BOUND = 1034, CONFLICT, "the card is already bound to a device";
    /// Allocation target is not a direct subordinate shop.
    NOT_DIRECT_SUBORDINATE = 1035, BAD_REQUEST, "the target shop must be a direct subordinate";
    /// Identifier (IMEI, SN, MSISDN) already used by another asset.
    DUPLICATE_IDENTIFIER = 1036, CONFLICT, "identifier already used by another asset";
    /// Device refresh cooldown (30 s) still running.
    REFRESH_COOLDOWN = 1037, TOO_MANY_REQUESTS, "do not refresh too often";
    /// A device protect period blocks this operation.
    PROTECT_PERIOD = 1038, FORBIDDEN, "the device is in a protect period";
    /// Unverified cards cannot be stopped or started.
    CARD_NOT_VERIFIED = 1039, FORBIDDEN, "unverified cards cannot be stopped or started";
    /// Series code already used by a live series.
    DUPLICATE_SERIES_CODE = 1040, CONFLICT, "series code already exists";
    /// Package code already used by a live package.
    DUPLICATE_PACKAGE_CODE = 1041, CONFLICT, "package code already exists";
    /// 该代理已存在此系列授权: the shop already holds a grant of this series.
    DUPLICATE_GRANT = 1042, CONFLICT, "the agent already has a grant of this series";
    /// 当前账号无此系列授权,无法向下分配: the grantor holds no grant of the series.
    GRANTOR_LACKS_GRANT = 1043, FORBIDDEN, "you hold no grant of this series and cannot pass it down";
    /// A commission amount exceeds the grantor's own amount.
    GRANT_CEILING_EXCEEDED = 1044, BAD_REQUEST, "commission amount exceeds the grantor's ceiling";
    /// Tier thresholds differ from the series' thresholds.
    TIER_MISMATCH = 1045, BAD_REQUEST, "commission tiers must match the series thresholds";
    /// The cost price is locked: the shop allocated the package to subordinates.
    COST_PRICE_LOCKED = 1046, CONFLICT, "cost price locked by subordinate allocations";
    /// A retail price below the shop's cost price.
    RETAIL_BELOW_COST = 1047, BAD_REQUEST, "retail price must not be below the cost price";
    /// 店铺没有该套餐的分配配置: the shop has no allocation of the package.
    NO_ALLOCATION = 1048, BAD_REQUEST, "the shop has no allocation of this package";
    /// The grantee issued grants of the same series to its subordinates.
    GRANT_HAS_SUBORDINATES = 1049, CONFLICT, "subordinate grants depend on this grant";
    /// The series has packages or grants.
    SERIES_IN_USE = 1050, CONFLICT, "the series is in use";
    /// The package is allocated to shops.
    PACKAGE_IN_USE = 1051, CONFLICT, "the package is allocated to shops";
    /// The package does not belong to the grant's series.
    PACKAGE_NOT_IN_SERIES = 1052, BAD_REQUEST, "the package does not belong to this series";
    /// The package cannot be sold (disabled, off shelf, retail below cost).
    PACKAGE_NOT_SELLABLE = 1053, BAD_REQUEST, "the package cannot be sold";
    /// The shop allocated this package further down; remove those allocations first.
    ALLOCATION_IN_USE = 1054, CONFLICT, "the package is allocated further down";
    /// A cost price below the grantor's own cost price.
    COST_BELOW_GRANTOR_COST = 1055, BAD_REQUEST, "cost price must not be below the grantor's cost price";
    /// The grant is being created or deleted; retry shortly.
    GRANT_IN_PROGRESS = 1056, CONFLICT, "the grant is being created or deleted, retry shortly";
    /// The shop holds no grant of the package's series from the caller.
    SHOP_HAS_NO_GRANT = 1057, BAD_REQUEST, "the shop holds no grant of this series from you";
    /// `CodeGatewayError`: the carrier gateway failed (the upstream reason is in `msg`).
    GATEWAY_ERROR = 1110, BAD_GATEWAY, "carrier gateway error";
    /// `CodeGatewayTimeout`.
    GATEWAY_TIMEOUT = 1111, GATEWAY_TIMEOUT, "carrier gateway timeout";
    /// `CodeGatewayInvalidResp`.
    GATEWAY_INVALID_RESPONSE = 1112, BAD_GATEWAY, "invalid carrier gateway response";
    /// `CodeAssetNotFound`.
    ASSET_NOT_FOUND = 1180, NOT_FOUND, "asset not found";
    /// `CodeInternalError`.
    INTERNAL = 2001, INTERNAL_SERVER_ERROR, "internal server error";
    /// `CodeDatabaseError`.
    DATABASE = 2002, INTERNAL_SERVER_ERROR, "database error";
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
    fn spec_numbers_are_kept() {
        assert_eq!(Code::INVALID_PARAM.http_status(), StatusCode::BAD_REQUEST);
        assert_eq!(Code::INVALID_TOKEN.0, 1004);
        assert_eq!(Code::FORBIDDEN.0, 1005);
        assert_eq!(Code::INTERNAL.0, 2001);
        assert_eq!(Code::DATABASE.0, 2002);
        assert_eq!(Code(9999).http_status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
