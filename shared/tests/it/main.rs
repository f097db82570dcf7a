//! Integration tests against the local AWS emulator (started by `scripts/test.sh`).

// A test crate: a failure should stop it loudly (the workspace denies these lints
// in request and job code).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod asset_lists;
mod asset_ops;
mod assets;
mod assets_matrix;
mod auth;
mod authorization_matrix;
mod authorizations;
mod bad_input;
mod bulk_moves;
mod carriers;
mod catalog;
mod catalog_matrix;
mod commission_matrix;
mod commissions;
mod conformance;
mod contract;
mod gateway;
mod helpers;
mod idempotency;
mod import_arrivals;
mod import_groups;
mod import_recovery;
mod imports;
mod lifecycle;
mod lists;
mod matrix;
mod money_matrix;
mod orders;
mod org;
mod payments;
mod permissions;
mod polling;
mod polling_admin;
mod polling_alerts;
mod polling_trigger;
mod races;
mod recharges;
mod scale;
mod secrets;
mod security;
mod selections;
mod store;
mod uploads;
mod usage_rules;
mod usages;
mod wallets;
