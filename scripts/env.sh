# Shared set-up of the dev and test commands; sourced, not run.
# Installs what is missing (idempotently), then offers start_moto/stop_moto.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cmp-target}"
VENV="${CMP_VENV:-$HOME/.cache/cmp-venv}"

# Dummy credentials: the local emulator accepts any.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_EC2_METADATA_DISABLED=true

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

# Python virtualenv with the pinned emulator and linter (re-installed only when
# scripts/requirements.txt changes).
ensure_venv() {
  local stamp="$VENV/.requirements.sha"
  local want
  want="$(sha256sum "$ROOT/scripts/requirements.txt" | cut -d' ' -f1)"
  if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  if ! python3 -m venv --help >/dev/null 2>&1; then
    log "installing python3-venv"
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  fi
  log "installing the local AWS emulator and cfn-lint into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q -r "$ROOT/scripts/requirements.txt"
  echo "$want" >"$stamp"
}

ensure_rust() {
  command -v cargo >/dev/null || { echo "cargo is required (rustup)" >&2; exit 1; }
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

MOTO_PID=""

# Starts the emulator on 127.0.0.1:$1 (a free port when empty) and exports
# CMP_AWS_ENDPOINT. The process is stopped by stop_moto (trapped on exit).
start_moto() {
  local port="${1:-}"
  [[ -n "$port" ]] || port="$(free_port)"
  mkdir -p "$ROOT/.dev"
  "$VENV/bin/python" "$ROOT/scripts/moto_server.py" 127.0.0.1 "$port" >"$ROOT/.dev/moto-$port.log" 2>&1 &
  MOTO_PID=$!
  export CMP_AWS_ENDPOINT="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    if curl -fs "$CMP_AWS_ENDPOINT/moto-api/" >/dev/null 2>&1; then
      log "local AWS emulator on $CMP_AWS_ENDPOINT (pid $MOTO_PID)"
      return
    fi
    kill -0 "$MOTO_PID" 2>/dev/null || { cat "$ROOT/.dev/moto-$port.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "the emulator did not start on port $port" >&2
  exit 1
}

stop_moto() {
  if [[ -n "$MOTO_PID" ]] && kill -0 "$MOTO_PID" 2>/dev/null; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
}
