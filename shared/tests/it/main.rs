//! Integration tests against the local AWS emulator (started by `scripts/test.sh`).

mod helpers;
mod auth;
mod org;
mod store;
