#!/usr/bin/env bash
# Cold-start benchmark: builds the Lambda binaries for this machine with the release
# profile (the same profile as scripts/build-release.sh, x86_64 instead of arm64),
# starts the local AWS emulator and runs every function of template.yaml, plus the
# `hello-cold-start` baseline, against a local Lambda Runtime API
# (scripts/bench_cold_start.py). Prints the median init time (process start -> first
# `GET /runtime/invocation/next`), the first invocation's duration and init / hello,
# then the time of one Argon2id password verify (bench-password).
# Usage: scripts/bench-cold-start.sh [RUNS] (default 5). Not part of the test command.
source "$(dirname "$0")/env.sh"

ensure_venv
ensure_rust
trap stop_moto EXIT INT TERM
cd "$ROOT"

RUNS="${1:-5}"
bins=(hello-cold-start bench-password)
while read -r b; do bins+=("$b"); done < <(
  awk '/^ *Binary: / {print $2}' template.yaml
)
log "building ${#bins[@]} binaries (release profile, $(uname -m))"
cargo build -q --release -p functions $(printf -- '--bin %s ' "${bins[@]}")

start_moto ""
log "cold starts: $RUNS runs per function"
"$VENV/bin/python" scripts/bench_cold_start.py "$CARGO_TARGET_DIR/release" "$CMP_AWS_ENDPOINT" "$RUNS"
echo
"$CARGO_TARGET_DIR/release/bench-password"
