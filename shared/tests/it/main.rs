//! Integration tests against the local AWS emulator (started by `scripts/test.sh`).

mod auth;
mod bad_input;
mod helpers;
mod matrix;
mod org;
mod store;
mod carriers;
