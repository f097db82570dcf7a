#!/usr/bin/env bash
# Opens the API docs page (GET /api/docs) in headless Chromium and fails unless the
# rendered page shows every tag of the OpenAPI document as a section and a sample of
# operations as elements (`tag-<tag>`, `op-<operationId>`). Installs Debian's
# chromium and a small CJK font once when missing. Leaves a screenshot and the
# rendered DOM under .dev/. Usage: scripts/check-docs-page.sh [BASE_URL]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BASE="${1:-http://127.0.0.1:${CMP_PORT:-8080}}"
PY="${PYTHON:-python3}"
OUT="$ROOT/.dev/docs-page"
mkdir -p "$OUT"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
fail() { echo "FAILED: $*" >&2; exit 1; }

# Chromium and a CJK font (WenQuanYi Micro Hei, 5 MB; Noto CJK would be 90 MB) so the
# Chinese summaries render as text in the screenshot, not as boxes.
ensure_chromium() {
  local want=()
  command -v chromium >/dev/null || want+=(chromium)
  dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || want+=(fonts-wqy-microhei)
  [[ ${#want[@]} -eq 0 ]] && return
  log "installing ${want[*]}"
  local sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${want[@]}" >/dev/null
}

ensure_chromium

# What the page must show, taken from the document itself: a section per tag and an
# element per operation (the login at least).
curl -fsS "$BASE/api/openapi.json" -o "$OUT/openapi.json" || fail "GET $BASE/api/openapi.json"
"$PY" - "$OUT/openapi.json" >"$OUT/expected.txt" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
ops, tags = {"login"}, {t["name"] for t in doc.get("tags", [])}
for item in doc.get("paths", {}).values():
    for op in item.values():
        if isinstance(op, dict) and "operationId" in op:
            ops.add(op["operationId"])
            tags.update(op.get("tags") or [])
if not tags:
    sys.exit("the document declares no tags")
for tag in sorted(tags):
    print(f'id="tag-{tag}"')
for op in sorted(ops):
    print(f'id="op-{op}"')
PY

# A throwaway profile keeps runs independent; virtual time lets the page's fetch and
# rendering finish before the DOM is dumped.
chrome() {
  local profile rc=0
  profile="$(mktemp -d)"
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --no-default-browser-check --hide-scrollbars --user-data-dir="$profile" \
    --virtual-time-budget=10000 "$@" 2>>"$OUT/chromium.log" || rc=$?
  rm -rf "$profile"
  return $rc
}
: >"$OUT/chromium.log"
chrome --dump-dom "$BASE/api/docs" >"$OUT/dom.html" || fail "chromium could not render $BASE/api/docs (see $OUT/chromium.log)"
chrome --window-size=1280,2400 --screenshot="$OUT/docs.png" "$BASE/api/docs" >/dev/null ||
  fail "chromium could not take a screenshot (see $OUT/chromium.log)"

missing=0
while IFS= read -r needle; do
  if ! grep -qF -- "$needle" "$OUT/dom.html"; then
    echo "missing in the rendered page: $needle" >&2
    missing=$((missing + 1))
  fi
done <"$OUT/expected.txt"
[[ $missing == 0 ]] || fail "$missing expected elements not rendered on $BASE/api/docs (DOM in $OUT/dom.html)"
[[ -s "$OUT/docs.png" ]] || fail "no screenshot written"

ops=$(grep -o 'id="op-[^"]*"' "$OUT/dom.html" | sort -u | wc -l)
tags=$(grep -o 'id="tag-[^"]*"' "$OUT/dom.html" | sort -u | wc -l)
echo "ok: the docs page renders $tags tag sections and $ops operations ($(wc -l <"$OUT/expected.txt") checked)"
echo "screenshot: $OUT/docs.png"
