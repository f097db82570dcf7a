//! Integration tests against the local AWS emulator (started by `scripts/test.sh`).

mod helpers;
mod store;
