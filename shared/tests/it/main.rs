//! Integration tests against the local AWS emulator (started by `scripts/test.sh`).

mod helpers;
mod matrix;
mod auth;
mod bad_input;
mod org;
mod store;
