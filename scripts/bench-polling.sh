#!/usr/bin/env bash
# Polling benchmark (jobs.md J4-J6): CARDS (default 20 000) cards due for a card data
# check in the local emulator, the fake gateway at LATENCY_MS (50) per request, the
# task type's concurrency limit CONCURRENCY (50) and CONSUMERS (8) concurrent handler
# invocations. Prints checks per second, the most concurrent requests the fake gateway
# saw (never above the limit) and DynamoDB and SQS operations per check; GROWTH=0
# measures unchanged readings (no writes). Built in
# release: a debug build measures its own slowness. The emulator (one Python process)
# serves every DynamoDB call; DynamoDB itself would not be the limit.
source "$(dirname "$0")/env.sh"

ensure_venv
ensure_rust
trap stop_moto EXIT INT TERM
log "building the benchmark (release)"
cargo build -q --release --manifest-path "$ROOT/Cargo.toml" -p functions --bin bench-polling
start_moto ""
RUST_LOG=error "$CARGO_TARGET_DIR/release/bench-polling"
