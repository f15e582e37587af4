#!/usr/bin/env bash
# tests/graphql/run.sh GQL_CORPUS: the differential test against graphql-js.
#
# Installs graphql-js from package-lock.json into node_modules here when it
# is missing (npm ci), checks that graphql-js answers the corpus as the
# corpus intends (run.mjs check), runs the corpus through graphql-js and
# through our engine (GQL_CORPUS, the gql_corpus executable) and compares
# (run.mjs compare). Exit 0 when they agree, 1 on a disagreement, 77
# (skip) when node or the package is unavailable, unless
# GAMIFY_TEST_REQUIRE_SERVERS=1 asks for a failure instead.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GQL_CORPUS=${1:?usage: run.sh GQL_CORPUS}

unavailable() {
    echo "graphql-diff: $*" >&2
    if [ "${GAMIFY_TEST_REQUIRE_SERVERS:-0}" = 1 ]; then
        exit 1
    fi
    echo "graphql-diff: skipped" >&2
    exit 77
}

command -v node >/dev/null 2>&1 || unavailable "node is not installed"
if [ ! -f "$HERE/node_modules/graphql/package.json" ]; then
    command -v npm >/dev/null 2>&1 || unavailable "npm is not installed"
    echo "graphql-diff: installing graphql-js (npm ci)" >&2
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >&2) ||
        unavailable "npm ci failed in $HERE"
fi

OUT=$(mktemp -d "${TMPDIR:-/tmp}/gamify-graphql.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

rc=0
node "$HERE/run.mjs" corpus "$HERE/corpus" >"$OUT/graphql-js.jsonl"
if ! node "$HERE/run.mjs" check "$OUT/graphql-js.jsonl" >"$OUT/check.txt"; then
    echo "graphql-diff: graphql-js does not answer the corpus as corpus/expect.tsv says:"
    cat "$OUT/check.txt"
    rc=1
fi
ours_rc=0
"$GQL_CORPUS" "$ROOT/api/schema.graphql" "$HERE/data.json" "$HERE/corpus" \
    >"$OUT/ours.jsonl" || ours_rc=$?
if [ "$ours_rc" -ne 0 ]; then
    echo "graphql-diff: gql_corpus exited with $ours_rc"
    rc=1
fi
node "$HERE/run.mjs" compare "$OUT/graphql-js.jsonl" "$OUT/ours.jsonl" || rc=1
if [ -n "${GAMIFY_GRAPHQL_KEEP:-}" ]; then
    mkdir -p "$GAMIFY_GRAPHQL_KEEP"
    cp "$OUT"/*.jsonl "$GAMIFY_GRAPHQL_KEEP"/
fi
exit "$rc"
