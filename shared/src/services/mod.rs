//! Use cases: each module combines domain rules and the store for one aggregate and
//! has its own error type, mapped to a business code by [`crate::codes::BusinessError`].

pub mod accounts;
pub mod allocations;
pub mod asset_ops;
pub mod assets;
pub mod audit;
pub mod audit_log;
pub mod auth;
pub mod callbacks;
pub mod card_network;
pub mod cards;
pub mod carriers;
pub mod catalog;
pub mod commissions;
pub mod data_cleanup;
pub mod devices;
pub mod enterprises;
pub mod grants;
pub mod imports;
pub mod orders;
pub mod org;
pub mod payment_configs;
pub mod payments;
pub mod polling;
pub mod polling_alerts;
pub mod polling_configs;
pub mod recharge_payments;
pub mod recharges;
pub mod resolve;
pub mod roles;
pub mod shops;
pub mod storage;
pub mod usage_rules;
pub mod usages;
pub mod wallets;
pub mod webhook_targets;
