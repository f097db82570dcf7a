#!/usr/bin/env bash
# Carrier gateway client overhead against the in-process fake gateway at 0 ms latency
# (REQUESTS=… to change the count). Needs no AWS emulator.
source "$(dirname "$0")/env.sh"
ensure_rust
log "building the benchmark (release)"
cargo build -q --release --manifest-path "$ROOT/Cargo.toml" -p functions --bin bench-gateway
RUST_LOG=warn "$CARGO_TARGET_DIR/release/bench-gateway"
