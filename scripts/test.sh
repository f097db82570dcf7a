#!/usr/bin/env bash
# Command 2: the whole test suite. Same set-up as the dev command, then format check,
# clippy (-D warnings), unit + integration tests against the local AWS emulator,
# and template validation (cfn-lint, template table == infra/table.json).
source "$(dirname "$0")/env.sh"

ensure_venv
ensure_rust
trap stop_moto EXIT INT TERM

cd "$ROOT"
log "cargo fmt --check"
cargo fmt --all -- --check

log "clippy"
cargo clippy -q --all-targets -- -D warnings

log "template: cfn-lint and table definition"
"$VENV/bin/cfn-lint" template.yaml
"$VENV/bin/python" scripts/check_template.py

start_moto ""
export CMP_TEST_AWS_ENDPOINT="$CMP_AWS_ENDPOINT"

log "tests"
cargo test --all-targets -- --test-threads "${CMP_TEST_THREADS:-8}"
