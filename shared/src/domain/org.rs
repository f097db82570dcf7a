//! Organisation value types: user types, statuses, role types.
crate::int_enum! {
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

crate::int_enum! {
    /// Enabled/disabled status of shops, accounts, enterprises, roles (decision A16).
    Status {
        /// Disabled.
        Disabled = 0,
        /// Enabled.
        Enabled = 1,
    }
}

crate::int_enum! {
    /// Kind of role (decisions.md "Roles").
    RoleType {
        /// Role for platform accounts.
        Platform = 1,
        /// Role for shops' and enterprises' accounts; a shop's default role must be one.
        Customer = 2,
    }
}

crate::int_enum! {
    /// Kind of permission entry.
    PermType {
        /// A menu entry.
        Menu = 1,
        /// A button / action.
        Button = 2,
    }
}

crate::int_enum! {
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
