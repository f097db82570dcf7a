//! Organisation value types: user types, statuses, role types.

use serde::{Deserialize, Serialize};

macro_rules! int_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "i64", into = "i64")]
        pub enum $name { $($(#[$vdoc])* $variant = $value),* }

        impl TryFrom<i64> for $name {
            type Error = String;
            fn try_from(v: i64) -> Result<Self, String> {
                match v {
                    $($value => Ok(Self::$variant),)*
                    _ => Err(format!("invalid {} value {v}", stringify!($name))),
                }
            }
        }

        impl From<$name> for i64 {
            fn from(v: $name) -> i64 { v as i64 }
        }

        $crate::wire_schema!($name, integer_enum(
            &[$($value),*],
            concat!($(stringify!($value), " = ", stringify!($variant), "; "),*),
        ));
    };
}

int_enum! {
    /// Kind of admin account (domain.md §2.1).
    UserType {
        /// Super administrator: sees everything; created once at bootstrap.
        SuperAdmin = 1,
        /// Platform operator staff: sees everything.
        Platform = 2,
        /// Agent staff: own shop and all its descendants.
        Agent = 3,
        /// Enterprise staff: own enterprise only.
        Enterprise = 4,
    }
}

int_enum! {
    /// Enabled/disabled status of shops, accounts, enterprises, roles (decision A16).
    Status {
        /// Disabled.
        Disabled = 0,
        /// Enabled.
        Enabled = 1,
    }
}

int_enum! {
    /// Kind of role (decisions.md "Roles").
    RoleType {
        /// Role for platform accounts.
        Platform = 1,
        /// Role for shops' and enterprises' accounts; a shop's default role must be one.
        Customer = 2,
    }
}

int_enum! {
    /// Kind of permission entry.
    PermType {
        /// A menu entry.
        Menu = 1,
        /// A button / action.
        Button = 2,
    }
}

int_enum! {
    /// The two agent wallets every shop has.
    WalletKind {
        /// Pre-paid main wallet.
        Main = 1,
        /// Commission wallet.
        Commission = 2,
    }
}

impl WalletKind {
    /// The name used in keys and responses.
    pub fn as_str(self) -> &'static str {
        match self {
            WalletKind::Main => "main",
            WalletKind::Commission => "commission",
        }
    }
}

impl UserType {
    /// Super admin or platform staff: no data filter.
    pub fn is_platform(self) -> bool {
        matches!(self, UserType::SuperAdmin | UserType::Platform)
    }
}
