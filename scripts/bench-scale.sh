#!/usr/bin/env bash
# Scale benchmark: seeds a tenant of 2 000 shops, 2 000 accounts and 5 000 cards on a
# fresh local emulator and prints, as a table, the DynamoDB calls and read units of
# the first and next page of every list route (unfiltered and with one filter), of
# resolve and of who-am-I, next to each request's call budget. Calls are what
# transfers to DynamoDB; read units come from the emulator's own estimate.
source "$(dirname "$0")/env.sh"

ensure_venv
ensure_rust
trap stop_moto EXIT INT TERM
log "building the benchmark"
cargo build -q --manifest-path "$ROOT/Cargo.toml" -p functions --bin bench-scale
start_moto ""
RUST_LOG=warn "$CARGO_TARGET_DIR/debug/bench-scale"
