#!/usr/bin/env bash
# Payment expiry benchmark (jobs.md J1): PENDING (default 100 000) online recharges
# not yet due and DUE (default 100) past their expiry in the local emulator, then one
# run of the expiry job. Prints what the run read (only the due items: the sparse
# due index holds pending payments by expiry time), its DynamoDB calls and wall time.
# The wall time measures the emulator (about 2 ms per call), not DynamoDB.
source "$(dirname "$0")/env.sh"

ensure_venv
ensure_rust
trap stop_moto EXIT INT TERM
log "building the benchmark"
cargo build -q --manifest-path "$ROOT/Cargo.toml" -p functions --bin bench-payments
start_moto ""
RUST_LOG=warn "$CARGO_TARGET_DIR/debug/bench-payments" expiry
