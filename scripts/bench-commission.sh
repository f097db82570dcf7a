#!/usr/bin/env bash
# Commission benchmark (jobs.md J14): ORDERS (default 10 000) paid client orders sold
# by the last shop of a 7-level chain, one message each on the commission queue,
# drained by CONSUMERS (2) concurrent handler invocations of BATCH (10, at most 10)
# messages each. Prints calculations and commission records per second and
# DynamoDB calls per order, then checks the seven commission wallets (ORDERS × each
# level's share) and their ledgers. Every calculation writes the same seven
# wallets: concurrent consumers contend, and the benchmark counts the
# recalculations. Built in release: a debug build measures its own slowness. The
# emulator (one Python process) serves every DynamoDB call; DynamoDB itself would
# not be the limit.
source "$(dirname "$0")/env.sh"

ensure_venv
ensure_rust
trap stop_moto EXIT INT TERM
log "building the benchmark (release)"
cargo build -q --release --manifest-path "$ROOT/Cargo.toml" -p functions --bin bench-commission
start_moto ""
RUST_LOG=error "$CARGO_TARGET_DIR/release/bench-commission"
