#!/usr/bin/env bash
# Command 1: the whole system locally. Installs what is missing, starts the local AWS
# emulator, creates the table from infra/table.json, seeds the super admin and serves
# every route on http://127.0.0.1:${CMP_PORT:-8080}. Ctrl-C stops everything it started.
source "$(dirname "$0")/env.sh"

ensure_venv
ensure_rust
trap stop_moto EXIT INT TERM

mkdir -p "$ROOT/.dev"
# The super admin's password: CMP_SUPER_ADMIN_PASSWORD, or one generated once and kept
# in .dev/super-admin-password (git-ignored).
if [[ -z "${CMP_SUPER_ADMIN_PASSWORD:-}" ]]; then
  pw_file="$ROOT/.dev/super-admin-password"
  [[ -s "$pw_file" ]] || "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(12))' >"$pw_file"
  CMP_SUPER_ADMIN_PASSWORD="$(cat "$pw_file")"
fi
if [[ -z "${CMP_JWT_SECRET:-}" ]]; then
  secret_file="$ROOT/.dev/jwt-secret"
  [[ -s "$secret_file" ]] || "$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(32))' >"$secret_file"
  CMP_JWT_SECRET="$(cat "$secret_file")"
fi
export CMP_SUPER_ADMIN_PASSWORD CMP_JWT_SECRET
# The dev server reports DynamoDB calls per request in `x-ddb-calls` (never on AWS).
export CMP_EXPOSE_DDB_CALLS=1
export CMP_DEV_DIR="$ROOT/.dev"
export CMP_SUPER_ADMIN_USERNAME="${CMP_SUPER_ADMIN_USERNAME:-admin}"
export CMP_TABLE="${CMP_TABLE:-cmp-local}"
export CMP_PORT="${CMP_PORT:-8080}"
export RUST_LOG="${RUST_LOG:-info}"

log "building the dev server"
cargo build -q --manifest-path "$ROOT/Cargo.toml" -p functions --bin dev-server

# The emulator keeps state in memory only: each start is a fresh system.
start_moto "${CMP_MOTO_PORT:-4566}"

cat >&2 <<MSG

  API:          http://127.0.0.1:$CMP_PORT   (try: curl http://127.0.0.1:$CMP_PORT/health)
  Super admin:  $CMP_SUPER_ADMIN_USERNAME / $CMP_SUPER_ADMIN_PASSWORD
                (set CMP_SUPER_ADMIN_PASSWORD to choose it; otherwise kept in .dev/super-admin-password)
  Payments:     fake WeChat Pay and Fuiou; config bodies and the fakes' keys in
                .dev/payment-fakes.json (written at start)
  Ctrl-C stops the server and the emulator.

MSG
"$CARGO_TARGET_DIR/debug/dev-server" &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null; stop_moto' EXIT INT TERM
wait $SERVER_PID
