#!/usr/bin/env bash
# Layers point one way: nothing below `api` imports it, `domain` imports no I/O layer,
# services and jobs write no key literal or DynamoDB expression of their own (those
# belong to `store`), and no source file grows past 600 lines without saying why.
# Prints each offending line and fails if there is any.
set -euo pipefail
cd "$(dirname "$0")/../shared/src"
status=0
# `offend` runs at the end of pipelines, in a subshell: it marks a breach in a file,
# since a variable set there would not reach this shell.
broken="$(mktemp)"
trap 'rm -f "$broken"' EXIT
offend() { # $1 = rule, then grep output on stdin
    local rule=$1 found
    found=$(cat)
    if [ -n "$found" ]; then
        echo "layer rule broken: $rule" >&2
        echo "$found" >&2
        echo "$rule" >>"$broken"
    fi
}
grep -rnE '(crate|super)::api\b' --include=*.rs . | grep -v '^\./api/' \
    | offend "only api imports api" || true
grep -rnE 'crate::(store|services|jobs|integrations|app|local)\b' --include=*.rs domain \
    | offend "domain imports no store/services/jobs/integrations" || true
grep -rnE 'crate::(services|jobs)\b' --include=*.rs store integrations \
    | offend "store and integrations import no use case" || true
grep -rnE '"[A-Z]{3,}#|"#"' --include=*.rs services jobs api \
    | offend "key literals live in store::keys" || true
grep -rnE '"(SET|ADD|REMOVE) |attribute_(not_)?exists\(|#[a-z_]+ = :|(Cond|Upd)::new\(' --include=*.rs services jobs api \
    | offend "update and condition expressions live in store" || true
# No file over 600 lines unless its opening comment says why ("long because").
for f in $(find . -name '*.rs'); do
    lines=$(wc -l <"$f")
    if [ "$lines" -gt 600 ] && ! head -15 "$f" | grep -q 'long because'; then
        echo "$f: $lines lines" | offend "files stay under 600 lines or say why"
    fi
done
[ -s "$broken" ] && status=1
exit $status
