//! Integration tests against the local AWS emulator (started by `scripts/test.sh`).

mod asset_lists;
mod asset_ops;
mod assets;
mod assets_matrix;
mod auth;
mod bad_input;
mod carriers;
mod catalog;
mod catalog_matrix;
mod conformance;
mod gateway;
mod helpers;
mod imports;
mod matrix;
mod org;
mod permissions;
mod secrets;
mod security;
mod store;
mod uploads;
