#!/usr/bin/env bash
# Checks the ledger invariant of the agent wallets: for every wallet (or those of the
# shop ids given), balance and frozen amount are sound and equal the sums of its
# ledger lines. Prints one JSON line per broken wallet; exit 0 = sound, 1 = broken
# wallets found, 2 = the check could not run.
#
#   CMP_TABLE=<table> [CMP_AWS_ENDPOINT=http://127.0.0.1:4566] scripts/check-ledger.sh [shop id ...]
#
# Without CMP_AWS_ENDPOINT it reads AWS with the usual credentials (AWS_PROFILE, ...).
# Every wallet is read with a Scan: an operations tool, not a scheduled job. Lines are
# read from an index DynamoDB updates a moment after each write, so a wallet that
# changed during the check may be reported: check that shop again to tell.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cmp-target}"
: "${CMP_TABLE:?set CMP_TABLE to the table to check}"
cargo build -q --manifest-path "$ROOT/Cargo.toml" -p functions --bin check-ledger
exec "$CARGO_TARGET_DIR/debug/check-ledger" "$@"
