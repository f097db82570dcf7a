#!/usr/bin/env bash
# Payment callback throughput (api.md §24): NOTIFICATIONS (default 300) WeChat Pay
# notifications signed by the fake's platform key go through the callback handler
# one at a time (verify the RSA signature, decrypt the AES-256-GCM resource, complete
# the recharge and credit the wallet in one transaction), then each is replayed
# (verify, decrypt, no-op). Release build; the emulator's ~2 ms per DynamoDB call
# dominates: the CPU part is the replay rate minus the two reads it makes.
source "$(dirname "$0")/env.sh"

ensure_venv
ensure_rust
trap stop_moto EXIT INT TERM
log "building the benchmark (release)"
cargo build -q --release --manifest-path "$ROOT/Cargo.toml" -p functions --bin bench-payments
start_moto ""
RUST_LOG=warn "$CARGO_TARGET_DIR/release/bench-payments" callbacks
