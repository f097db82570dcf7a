#!/usr/bin/env bash
# Import benchmark: generates a ROWS-row card CSV (default 100 000), imports it through
# the real upload → task → FIFO queue → worker path against a fresh local emulator,
# and prints rows/s end to end, the DynamoDB calls (and per row), and the CPU-only
# rate of the worker's own parser and row validation. Figures against the emulator
# measure the emulator (about 450 single-item operations/s): read them with the call
# count.
source "$(dirname "$0")/env.sh"

ensure_venv
ensure_rust
trap stop_moto EXIT INT TERM
log "building the benchmark (release)"
cargo build -q --release --manifest-path "$ROOT/Cargo.toml" -p functions --bin bench-import
start_moto ""
ROWS="${ROWS:-100000}" RUST_LOG=warn "$CARGO_TARGET_DIR/release/bench-import"
