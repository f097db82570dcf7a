#!/usr/bin/env bash
# Release artefacts: builds every function of template.yaml for Lambda
# (`cargo lambda build --release --arm64`, provided.al2023 on Graviton), zips each
# bootstrap as the deployment package and prints the binary and zip size per
# function. cargo-lambda and its zig linker come from the project's virtualenv
# (scripts/requirements.txt); the Rust target aarch64-unknown-linux-gnu is added with
# rustup when missing. Not part of the test command (arm64 stays out of the test path).
# Usage: scripts/build-release.sh   (artefacts in $CARGO_TARGET_DIR/lambda/<name>/)
source "$(dirname "$0")/env.sh"

ensure_venv
ensure_rust
cd "$ROOT"

TARGET=aarch64-unknown-linux-gnu
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  log "adding the Rust target $TARGET"
  if ! rustup target add "$TARGET"; then
    echo "ERROR: the Rust target $TARGET cannot be installed here (rustup target add" >&2
    echo "       $TARGET failed: offline, or a toolchain without rustup?)." >&2
    echo "       Arm64 release builds need it; x86_64 builds and the tests do not." >&2
    exit 1
  fi
fi

# cargo-lambda finds zig on PATH (the ziglang wheel installs it into the venv).
export PATH="$VENV/bin:$PATH"
bins=()
while read -r b; do bins+=("$b"); done < <(awk '/^ *Binary: / {print $2}' template.yaml)
log "cargo lambda build --release --arm64: ${#bins[@]} functions"
cargo lambda build --release --arm64 -p functions $(printf -- '--bin %s ' "${bins[@]}")

# One deflated zip per function holding `bootstrap`, as Lambda receives it.
"$VENV/bin/python" - "$CARGO_TARGET_DIR/lambda" "${bins[@]}" <<'PY'
import sys, zipfile
from pathlib import Path

out, names = Path(sys.argv[1]), sys.argv[2:]
rows = []
for name in names:
    binary = out / name / "bootstrap"
    archive = out / name / "bootstrap.zip"
    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = 0o755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(info, binary.read_bytes(), compresslevel=9)
    rows.append((name, binary.stat().st_size, archive.stat().st_size))
mb = lambda n: f"{n / 1024 / 1024:.1f}"
print("\n| function | binary (MB) | zip (MB) |")
print("|---|---:|---:|")
for name, b, z in rows:
    print(f"| {name} | {mb(b)} | {mb(z)} |")
print(f"| total | {mb(sum(r[1] for r in rows))} | {mb(sum(r[2] for r in rows))} |")
print(f"\nartefacts: {out}/<function>/bootstrap.zip")
PY
