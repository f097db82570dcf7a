#!/usr/bin/env bash
# Wallet race benchmark: 100 concurrent `POST /api/admin/orders` of one agent (each
# for another card, one package at 8000 fen) through the whole HTTP router against a
# main wallet holding exactly 80 000 fen. Prints how many succeeded (must be 10), the
# final balance (0), the ledger's net movement and the elapsed time. It is the test
# `orders::a_hundred_concurrent_orders_against_a_balance_for_ten` run with its output
# shown, against the emulator at CMP_TEST_AWS_ENDPOINT when set, else one it starts.
# The elapsed time measures the emulator (one request at a time), not DynamoDB.
source "$(dirname "$0")/env.sh"

ensure_venv
ensure_rust
if [[ -z "${CMP_TEST_AWS_ENDPOINT:-}" ]]; then
  trap stop_moto EXIT INT TERM
  start_moto ""
  export CMP_TEST_AWS_ENDPOINT="$CMP_AWS_ENDPOINT"
fi
cd "$ROOT"
cargo test -q -p shared --test it -- orders::a_hundred_concurrent_orders_against_a_balance_for_ten \
  --exact --nocapture 2>&1 | grep -E "concurrent wallet orders|test result"
