#!/usr/bin/env bash
# Property-based check of a running server against its own OpenAPI document
# (GET /api/openapi.json) with schemathesis: no 5xx, no response outside the document
# (status, content type, body schema), invalid input refused, valid input accepted.
#
# Sets up its actors through the API first: two level-1 shops whose first accounts
# are agents holding the built-in customer role. A throwaway agent runs the session
# operations alone (login, refresh, logout, own password); then the other agent and
# finally the super admin run every other operation. Bounded for a few minutes on 2 cores: CMP_API_CHECK_EXAMPLES examples per
# operation and phase (default 5), CMP_API_CHECK_WORKERS workers (default 1: the
# Python 3.11 parser is not thread-safe and hypothesis parses while it generates).
#
# Usage: scripts/check-api.sh [BASE_URL] (default http://127.0.0.1:8080); needs
# CMP_SUPER_ADMIN_PASSWORD or .dev/super-admin-password, like scripts/smoke.sh.
# CMP_OPENAPI overrides the document's location (a URL or a file). Reports (JUnit,
# NDJSON events) go to .dev/api-check/<actor>/.
source "$(dirname "$0")/env.sh"
ensure_venv

BASE="${1:-http://127.0.0.1:${CMP_PORT:-8080}}"
DOC="${CMP_OPENAPI:-$BASE/api/openapi.json}"
USER="${CMP_SUPER_ADMIN_USERNAME:-admin}"
PASS="${CMP_SUPER_ADMIN_PASSWORD:-$(cat "$ROOT/.dev/super-admin-password" 2>/dev/null || true)}"
EXAMPLES="${CMP_API_CHECK_EXAMPLES:-5}"
WORKERS="${CMP_API_CHECK_WORKERS:-1}"
RUN="$(date +%s%N | tail -c 7)"
OUT="$ROOT/.dev/api-check"
PY="$VENV/bin/python"
ST="$VENV/bin/schemathesis"

json() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {'d': d}))" "$1"; }

call() { # method path token [body]
  local out
  out="$(curl -s -X "$1" "$BASE$2" -H 'content-type: application/json' ${3:+-H "authorization: Bearer $3"} ${4:+-d "$4"})"
  if [[ "$(json "d.get('code')" <<<"$out" 2>/dev/null)" != 0 ]]; then
    echo "FAILED: $1 $2 -> $out" >&2
    exit 1
  fi
  printf '%s' "$out"
}

# Logs in, waiting out the per-IP login limit (1006) a previous run may have used up.
login() {
  local body="{\"username\":\"$1\",\"password\":\"$2\"}" out
  for _ in $(seq 1 20); do
    out="$(curl -s -X POST "$BASE/api/admin/login" -H 'content-type: application/json' -d "$body")"
    [[ "$(json "d.get('code')" <<<"$out" 2>/dev/null)" == 1006 ]] || break
    sleep 5
  done
  call POST /api/admin/login "" "$body" | json "d['data']['access_token']"
}

# A level-1 shop with the built-in customer role; its first account is an agent.
agent() { # name
  call POST /api/admin/shops "$ADMIN" "{\"shop_name\":\"API check $1\",\"shop_code\":\"$1-$RUN\",\"default_role_id\":$ROLE,\"initial_account\":{\"username\":\"$1-$RUN\",\"password\":\"password-$1-$RUN\"}}" >/dev/null
  login "$1-$RUN" "password-$1-$RUN"
}

curl -fsS "$BASE/health" >/dev/null
[[ -n "$PASS" ]] || { echo "set CMP_SUPER_ADMIN_PASSWORD (or run scripts/dev.sh once)" >&2; exit 1; }
# Every login happens before the first run: the runs fuzz the login route too and
# soon meet the per-IP login limit.
ADMIN="$(login "$USER" "$PASS")"
ROLE="$(call GET '/api/admin/roles?role_type=2&page_size=100' "$ADMIN" | json "[r['id'] for r in d['data']['list'] if r['role_name'] == '代理商管理员'][0]")"
AGENT="$(agent apicheck)"
THROWAWAY="$(agent apicheck-session)"

# Operations of sessions: logout and the own-password change end or change the
# caller's; failed logins count against a username for 15 minutes, and the stateful
# phase learns real usernames (the super admin's) from responses. Only the throwaway
# agent's run calls them.
SESSION_PATHS=(/api/admin/login /api/admin/refresh-token /api/admin/logout /api/admin/me/password)
SESSION=() NOT_SESSION=()
for p in "${SESSION_PATHS[@]}"; do
  SESSION+=(--include-path "$p")
  NOT_SESSION+=(--exclude-path "$p")
done

failed=()
run() { # name token phases filters...
  local name="$1" token="$2" phases="$3"
  shift 3
  log "schemathesis as $name ($phases) against $DOC"
  rm -rf "${OUT:?}/$name"
  mkdir -p "$OUT/$name"
  # Run from the report folder: whatever the tool leaves behind stays there.
  if ! (cd "$OUT/$name" && CMP_API_TOKEN="$token" SCHEMATHESIS_HOOKS="$ROOT/scripts/schemathesis_hooks.py" \
    "$ST" --config-file "$ROOT/scripts/schemathesis.toml" run "$DOC" \
    --url "$BASE" --phases "$phases" --max-examples "$EXAMPLES" --workers "$WORKERS" \
    --report junit,ndjson --report-dir "$OUT/$name" --no-color "$@"); then
    failed+=("$name")
  fi
}

# The throwaway session first and the super admin last: the super admin's run
# disables shops and rewrites roles the agents depend on. The agent skips the
# coverage phase (boundary values of every field, the slowest phase) and the
# stateful one: the super admin's run covers those; the agent's adds what its scope
# answers.
run session "$THROWAWAY" examples,coverage,fuzzing "${SESSION[@]}"
run agent "$AGENT" examples,fuzzing "${NOT_SESSION[@]}"
run super-admin "$ADMIN" examples,coverage,fuzzing,stateful "${NOT_SESSION[@]}"

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "FAILED: the API does not match its document (runs: ${failed[*]}; reports in $OUT)" >&2
  exit 1
fi
echo "api check passed against $DOC"
