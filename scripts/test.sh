#!/usr/bin/env bash
# Command 2: the whole test suite. Same set-up as the dev command, then format check,
# clippy (-D warnings), unit + integration tests against the local AWS emulator,
# template validation (cfn-lint, `sam validate --lint` (offline, ~20 s), template table
# == infra/table.json, every queue has its alarm), then the dev server over HTTP: the
# smoke walk-through, the docs page in headless Chromium and schemathesis against the
# OpenAPI document.
source "$(dirname "$0")/env.sh"

ensure_venv
ensure_rust
trap stop_moto EXIT INT TERM

cd "$ROOT"
log "cargo fmt --check"
cargo fmt --all -- --check

log "layers: imports point one way, keys and expressions live in store"
bash scripts/check-layers.sh

log "clippy"
cargo clippy -q --all-targets -- -D warnings

log "template: cfn-lint, sam validate --lint, table definition and queue alarms"
"$VENV/bin/cfn-lint" template.yaml
SAM_CLI_TELEMETRY=0 "$VENV/bin/sam" validate --lint --template template.yaml
"$VENV/bin/python" scripts/check_template.py

start_moto ""
export CMP_TEST_AWS_ENDPOINT="$CMP_AWS_ENDPOINT"

log "tests"
mkdir -p "$ROOT/.dev"
cargo test --all-targets -- --test-threads "${CMP_TEST_THREADS:-8}" 2>&1 | tee "$ROOT/.dev/test-output.log"

log "end to end: the dev server over HTTP"
export CMP_EXPOSE_DDB_CALLS=1 CMP_TABLE="smoke-$(date +%s)" CMP_JWT_SECRET="smoke-test-secret-smoke-test-secret-00" CMP_SUPER_ADMIN_PASSWORD="smoke-admin-pass"
export CMP_PORT="$(free_port)" RUST_LOG=warn
"$CARGO_TARGET_DIR/debug/dev-server" &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null; stop_moto' EXIT INT TERM
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$CMP_PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
PYTHON="$VENV/bin/python" bash scripts/smoke.sh "http://127.0.0.1:$CMP_PORT"
log "end to end: the API docs page in headless Chromium"
PYTHON="$VENV/bin/python" bash scripts/check-docs-page.sh "http://127.0.0.1:$CMP_PORT"
log "end to end: every documented operation against its document (schemathesis)"
bash scripts/check-api.sh "http://127.0.0.1:$CMP_PORT"

passed=$(awk '/^test result:/ {s += $4} END {print s + 0}' "$ROOT/.dev/test-output.log")
failed=$(awk '/^test result:/ {s += $6} END {print s + 0}' "$ROOT/.dev/test-output.log")
echo "all checks passed"
echo "tests: $((passed + 3)) passed, $failed failed"
