//! Pure types and rules: no I/O.

pub mod assets;
pub mod authorization;
pub mod bulk;
pub mod caller;
pub mod catalog;
pub mod commission;
pub mod data_cleanup;
pub mod entities;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod grants;
pub mod identifiers;
pub mod orders;
pub mod org;
pub mod password;
pub mod payment_config;
pub mod permissions;
pub mod polling;
pub mod polling_alerts;
pub mod pricing;
pub mod recharge;
pub mod shop_path;
pub mod stamp;
pub mod usage;
pub mod usage_rules;
pub mod validate;
pub mod wallet;
pub mod wire;
pub mod withdrawal;
