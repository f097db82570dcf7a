#!/usr/bin/env bash
# End-to-end check of a running system with curl: log in as the super admin, build a
# 3-level shop tree plus a sibling and an enterprise, log in as each agent and check
# it sees exactly its subtree. Usage: scripts/smoke.sh [BASE_URL] (default
# http://127.0.0.1:8080); needs CMP_SUPER_ADMIN_PASSWORD or .dev/super-admin-password.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BASE="${1:-http://127.0.0.1:${CMP_PORT:-8080}}"
USER="${CMP_SUPER_ADMIN_USERNAME:-admin}"
PASS="${CMP_SUPER_ADMIN_PASSWORD:-$(cat "$ROOT/.dev/super-admin-password" 2>/dev/null || true)}"
RUN="$(date +%s%N | tail -c 7)"  # makes codes unique when run twice against one server
PY="${PYTHON:-python3}"

json() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {'d': d}))" "$1"; }

call() { # method path token [body]
  local out
  out="$(curl -s -X "$1" "$BASE$2" -H 'content-type: application/json' ${3:+-H "authorization: Bearer $3"} ${4:+-d "$4"})"
  if [[ "$(json "d['code']" <<<"$out")" != 0 ]]; then
    echo "FAILED: $1 $2 -> $out" >&2
    exit 1
  fi
  printf '%s' "$out"
}

login() { call POST /api/admin/login "" "{\"username\":\"$1\",\"password\":\"$2\"}" | json "d['data']['access_token']"; }

curl -fs "$BASE/health" >/dev/null
ADMIN="$(login "$USER" "$PASS")"
# The built-in customer role (seeded with the permission catalogue) for every shop.
ROLE="$(call GET '/api/admin/roles?role_type=2&page_size=100' "$ADMIN" | json "[r['id'] for r in d['data']['list'] if r['role_name'] == '代理商管理员'][0]")"
# A role without permissions lets its holder in but grants nothing.
BARE="$(call POST /api/admin/roles "$ADMIN" "{\"role_name\":\"smoke-$RUN\",\"role_type\":2}" | json "d['data']['id']")"

shop() { # code parent-id-or-null token
  call POST /api/admin/shops "$3" "{\"shop_name\":\"Shop $1\",\"shop_code\":\"$1-$RUN\",\"parent_id\":$2,\"default_role_id\":$ROLE,\"initial_account\":{\"username\":\"$1-$RUN\",\"password\":\"password-$1\"}}" |
    json "d['data']['id']"
}

L1="$(shop L1 null "$ADMIN")"
L1_TOKEN="$(login "L1-$RUN" password-L1)"
L2="$(shop L2 "$L1" "$L1_TOKEN")"   # created by the L1 agent
L3="$(shop L3 "$L2" "$ADMIN")"
SIB="$(shop SIB null "$ADMIN")"
call POST /api/admin/enterprises "$L1_TOKEN" "{\"enterprise_name\":\"Ent\",\"enterprise_code\":\"ENT-$RUN\",\"owner_shop_id\":$L2}" >/dev/null

check() { # username password expected-ids...
  local token seen want
  token="$(login "$1" "$2")"
  seen="$(call GET '/api/admin/shops?page_size=100' "$token" | json "sorted(s['id'] for s in d['data']['list'])")"
  want="$("$PY" -c "import sys; print(sorted(int(a) for a in sys.argv[1:]))" "${@:3}")"
  if [[ "$seen" != "$want" ]]; then
    echo "FAILED: $1 sees shops $seen, expected $want" >&2
    exit 1
  fi
  echo "ok: $1 sees shops $seen"
}
check "L1-$RUN" password-L1 "$L1" "$L2" "$L3"
check "L2-$RUN" password-L2 "$L2" "$L3"
check "L3-$RUN" password-L3 "$L3"
check "SIB-$RUN" password-SIB "$SIB"
BARE_SHOP="$(call POST /api/admin/shops "$ADMIN" "{\"shop_name\":\"Bare\",\"shop_code\":\"BARE-$RUN\",\"default_role_id\":$BARE,\"initial_account\":{\"username\":\"BARE-$RUN\",\"password\":\"password-BARE\"}}" | json "d['data']['id']")"
DENIED="$(curl -s "$BASE/api/admin/shops" -H "authorization: Bearer $(login "BARE-$RUN" password-BARE)" | json "d['code']")"
[[ "$DENIED" == 1005 ]] || { echo "FAILED: an agent without permissions got $DENIED listing shops" >&2; exit 1; }
echo "ok: an agent whose role grants nothing is refused (1005); shop $BARE_SHOP"
ENTS="$(call GET /api/admin/enterprises "$(login "L3-$RUN" password-L3)" | json "d['data']['total']")"
[[ "$ENTS" == 0 ]] || { echo "FAILED: L3 sees $ENTS enterprises" >&2; exit 1; }
# Asset import through the dev server's queue consumer: carrier, presigned upload,
# import task, resolve. ICCIDs are made unique per run.
call POST /api/admin/carriers "$ADMIN" "{\"carrier_name\":\"China Mobile\",\"carrier_type\":\"CMCC\",\"carrier_code\":\"CM$RUN\"}" >/dev/null
CSV="$(mktemp)"
printf 'iccid,msisdn,carrier_code\n8986%s000000001,,CM%s\n8986%s000000002,,CM%s\n' "$RUN" "$RUN" "$RUN" "$RUN" >"$CSV"
SIZE="$(wc -c <"$CSV" | tr -d ' ')"
UP="$(call POST /api/admin/storage/upload-url "$ADMIN" "{\"file_name\":\"smoke.csv\",\"content_type\":\"text/csv\",\"size\":$SIZE,\"purpose\":\"iot_card_import\"}")"
curl -fs -X PUT "$(json "d['data']['upload_url']" <<<"$UP")" -H 'content-type: text/csv' --data-binary @"$CSV" >/dev/null
rm -f "$CSV"
TASK="$(call POST /api/admin/iot-cards/import "$ADMIN" "{\"file_key\":\"$(json "d['data']['file_key']" <<<"$UP")\"}" | json "d['data']['task_id']")"
for _ in $(seq 1 60); do
  STATUS="$(call GET "/api/admin/iot-cards/import/tasks/$TASK" "$ADMIN" | json "d['data']['status'] + ' ' + str(d['data']['success_count'])")"
  [[ "$STATUS" == completed* || "$STATUS" == failed* ]] && break
  sleep 0.5
done
[[ "$STATUS" == "completed 2" ]] || { echo "FAILED: import task ended as '$STATUS'" >&2; exit 1; }
CARD="$(call GET "/api/admin/assets/resolve/8986${RUN}000000002" "$ADMIN" | json "d['data']['asset_id']")"
echo "ok: imported 2 cards through the queue and resolved one"
# Refresh through the local fake carrier gateway (real protocol: AES + MD5 sign).
NET="$(call POST "/api/admin/assets/card/$CARD/refresh" "$ADMIN" | json "d['data']['network_status']")"
[[ "$NET" == 1 ]] || { echo "FAILED: refresh gave network_status $NET" >&2; exit 1; }
echo "ok: refreshed the card from the carrier gateway"
# Price chain: platform → L1 (cost 80.00) → L2 (cost 100.00), L2 sells at 120.00.
SERIES="$(call POST /api/admin/package-series "$ADMIN" "{\"series_name\":\"Smoke\",\"series_code\":\"S-$RUN\",\"commission_type\":\"fixed\",\"commission_amount\":1000}" | json "d['data']['id']")"
PKG="$(call POST /api/admin/packages "$ADMIN" "{\"package_code\":\"P-$RUN\",\"package_name\":\"10 GB\",\"package_series_id\":$SERIES,\"package_type\":\"formal\",\"real_data_mb\":10240,\"calendar_type\":\"natural_month\",\"duration_months\":1,\"data_reset_cycle\":\"monthly\",\"suggested_retail_price\":15000}" | json "d['data']['id']")"
call POST /api/admin/shop-series-grants "$ADMIN" "{\"shop_id\":$L1,\"series_id\":$SERIES,\"one_time_commission_amount\":500,\"packages\":[{\"package_id\":$PKG,\"cost_price\":8000}]}" >/dev/null
call POST /api/admin/shop-series-grants "$L1_TOKEN" "{\"shop_id\":$L2,\"series_id\":$SERIES,\"one_time_commission_amount\":400,\"packages\":[{\"package_id\":$PKG,\"cost_price\":10000}]}" >/dev/null
PROFIT="$(call PATCH "/api/admin/packages/$PKG/retail-price" "$(login "L2-$RUN" password-L2)" '{"retail_price":12000}' | json "d['data']['profit']")"
[[ "$PROFIT" == 2000 ]] || { echo "FAILED: L2's profit is $PROFIT" >&2; exit 1; }
echo "ok: granted a series down two levels and priced it"
echo "smoke test passed against $BASE"
