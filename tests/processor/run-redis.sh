#!/usr/bin/env bash
# gamify-processor with --redis: the leaderboards projected in a thread
# beside the writer, against the Redis that tests/run starts
# (GAMIFY_TEST_REDIS):
#   run-redis.sh BUILD_ROOT EXAMPLES_DIR CHECK   (CHECK: boards, down, both)
# boards: every board and period of the dump is in Redis with the dump's
#   scores, the lag metric reaches 0, and the change feed is trimmed behind
#   the projector.
# down: with Redis unreachable the processor folds on, counts the failed
#   steps, and keeps the change feed the projector has not read.
# both: --postgres and --redis together (GAMIFY_TEST_PG too): every
#   learner's Postgres row equals the dump, and both lags reach 0.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build=$1 examples=$2 check=$3
gamify=$build/processor/gamify
proc=$build/processor/gamify-processor
gen=$build/tests/bench/gen_events
tmp=$(mktemp -d)
pid=
prefix="t$$-$RANDOM:"
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    if [ -n "${GAMIFY_TEST_REDIS:-}" ]; then
        rcli --scan --pattern "$prefix*" 2>/dev/null | while read -r k; do rcli del "$k" >/dev/null; done
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/proc.err" ] && tail -n 20 "$tmp/proc.err" >&2
    exit 1
}
if [ -z "${GAMIFY_TEST_REDIS:-}" ]; then
    [ -n "${GAMIFY_TEST_REQUIRE_SERVERS:-}" ] && fail "GAMIFY_TEST_REDIS is not set"
    echo "skipped: no GAMIFY_TEST_REDIS"
    exit 77
fi

metric() { http "$mport" /metrics | sed -n "s/^$1 //p"; }
start() { # REDIS_URL [FLAGS...]
    local url=$1
    shift
    mport=$(port)
    "$proc" --log "file:$tmp/log" --state "$tmp/state" --rules "$examples/rules.yaml" \
        --metrics "127.0.0.1:$mport" --idle-wait-ms 100 --batch-max 1000 --redis "$url" \
        --redis-prefix "$prefix" "$@" 2>>"$tmp/proc.err" &
    pid=$!
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || fail "the processor exited at start"
        http "$mport" /healthz 2>/dev/null | grep -q ok && return 0
        sleep 0.1
    done
    fail "the processor did not come up"
}
wait_for() { # METRIC VALUE
    for _ in $(seq 600); do
        [ "$(metric "$1")" = "$2" ] && return 0
        kill -0 "$pid" 2>/dev/null || fail "the processor died"
        sleep 0.1
    done
    fail "$1 did not reach $2 (at $(metric "$1"))"
}
entries() { mdb_stat -s changes "$tmp/state" | sed -n 's/^ *Entries: //p'; }

"$gen" --events 6000 --users 400 --seed 31 > "$tmp/all.jsonl"
end=$("$gamify" produce --log "file:$tmp/log" "$tmp/all.jsonl" 2>&1 | sed -n 's/.*log end offset //p')

case $check in
boards)
    start "$GAMIFY_TEST_REDIS"
    wait_for gamify_source_offset "$end"
    wait_for gamify_redis_projector_lag_changes 0
    [ "$(metric gamify_redis_projected_total)" -gt 1000 ] || fail "too few changes projected"
    [ "$(http "$mport" /readyz)" = ready ] || fail "/readyz: $(http "$mport" /readyz)"
    kill -TERM "$pid"
    wait "$pid" || fail "the processor did not stop cleanly"
    pid=
    # every (board, period, learner, score) of the dump is in Redis, and
    # Redis holds nothing more
    "$gamify" dump --state "$tmp/state" | dump_scores > "$tmp/want"
    [ "$(wc -l < "$tmp/want")" -gt 400 ] || fail "the dump's scores: $(head -3 "$tmp/want")"
    redis_scores "$prefix" > "$tmp/got"
    cmp -s "$tmp/want" "$tmp/got" ||
        fail "Redis differs from the dump: $(diff "$tmp/want" "$tmp/got" | head -5)"
    [ "$(rcli get "${prefix}cursor:0")" -gt 0 ] || fail "no cursor in Redis"
    [ "$(entries)" -lt 3000 ] || fail "the change feed was not trimmed behind the projector: $(entries)"
    echo "ok: $(wc -l < "$tmp/got") scores in Redis equal the dump"
    ;;
down)
    closed=$(port)
    start "redis://127.0.0.1:$closed" --projector-max-lag 100
    wait_for gamify_source_offset "$end"
    sleep 1
    [ "$(http "$mport" /readyz)" = "the redis projector is behind" ] ||
        fail "/readyz: $(http "$mport" /readyz)"
    [ "$(metric gamify_redis_projector_failures_total)" -gt 0 ] || fail "no failed steps counted"
    [ "$(metric gamify_redis_projected_total)" = 0 ] || fail "projected to a closed port?"
    [ "$(metric gamify_events_folded_total)" -gt 5000 ] || fail "folding stopped"
    [ "$(entries)" -gt 5000 ] || fail "the feed was trimmed past a projector that read none of it"
    grep -q '"msg":"redis projector: ' "$tmp/proc.err" || fail "the failure was not logged"
    [ "$(grep -c '"msg":"redis projector: ' "$tmp/proc.err")" -lt 5 ] ||
        fail "the same failure logged again and again"
    kill -TERM "$pid"
    wait "$pid" || fail "the processor did not stop cleanly"
    pid=
    echo "ok: folded on while Redis was down"
    ;;
both)
    [ -n "${GAMIFY_TEST_PG:-}" ] || fail "GAMIFY_TEST_PG is not set"
    db="gamify_proc_$$_$RANDOM"
    psql -qXAt "$GAMIFY_TEST_PG" -c "CREATE DATABASE $db" >/dev/null
    dropdb() { psql -qXAt "$GAMIFY_TEST_PG" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; }
    trap 'dropdb; cleanup' EXIT
    pg="$GAMIFY_TEST_PG dbname=$db"
    "$gamify" migrate --postgres "$pg" >/dev/null || fail "migrate"
    start "$GAMIFY_TEST_REDIS" --postgres "$pg"
    wait_for gamify_source_offset "$end"
    wait_for gamify_postgres_projector_lag_changes 0
    wait_for gamify_redis_projector_lag_changes 0
    kill -TERM "$pid"
    wait "$pid" || fail "the processor did not stop cleanly"
    pid=
    # profile, counters, badges and redemptions of every learner
    "$gamify" dump --state "$tmp/state" | dump_learners > "$tmp/want"
    pg_learners "$pg" > "$tmp/got"
    [ "$(wc -l < "$tmp/want")" -gt 300 ] || fail "the dump: $(head -2 "$tmp/want")"
    cmp -s "$tmp/want" "$tmp/got" ||
        fail "Postgres differs from the dump: $(diff "$tmp/want" "$tmp/got" | head -5)"
    echo "ok: $(wc -l < "$tmp/got") learners in Postgres equal the dump"
    ;;
*)
    fail "unknown check $check"
    ;;
esac
