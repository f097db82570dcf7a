#!/usr/bin/env bash
# Import benchmark: imports two generated card files of ROWS rows (default 2 000)
# through the real upload → task → FIFO queue → worker path and prints the DynamoDB
# calls per row of each: fresh rows, then a file with DUP_PCT % (default 10)
# conflicting rows. Calls per row is the figure that carries over to DynamoDB; the
# rows/s it also prints measure the emulator (one DynamoDB request at a time, slow
# transactions), so keep ROWS small.
#
# Runs against the emulator at CMP_AWS_ENDPOINT when set (e.g. the one scripts/dev.sh
# started: CMP_AWS_ENDPOINT=http://127.0.0.1:4566), else starts its own. Each run
# uses its own table, bucket and queue. PROFILE=dev skips the release build.
source "$(dirname "$0")/env.sh"

ensure_venv
ensure_rust
PROFILE="${PROFILE:-release}"
log "building the benchmark ($PROFILE)"
cargo build -q --profile "$PROFILE" --manifest-path "$ROOT/Cargo.toml" -p functions --bin bench-import
if [[ -z "${CMP_AWS_ENDPOINT:-}" ]]; then
  trap stop_moto EXIT INT TERM
  start_moto ""
fi
dir="$PROFILE"
[[ "$PROFILE" == "dev" ]] && dir=debug
ROWS="${ROWS:-2000}" DUP_PCT="${DUP_PCT:-10}" RUST_LOG=warn "$CARGO_TARGET_DIR/$dir/bench-import"
