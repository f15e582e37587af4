#!/usr/bin/env bash
# gamify-processor on a Kafka topic, two instances in one consumer group, one
# of them killed mid-stream: the survivor takes its partitions over (resuming
# or rebuilding their states), and the union of the partition states dumps
# exactly like a single replay of the same events.
#   run-kafka.sh BUILD_ROOT EXAMPLES_DIR
# Needs GAMIFY_TEST_KAFKA (bootstrap servers); without it: skip (77), or fail
# when GAMIFY_TEST_REQUIRE_SERVERS=1. KEEP_TMP=1 keeps the temporary folder.
set -euo pipefail
build=$1 examples=$2
gamify=$build/processor/gamify
proc=$build/processor/gamify-processor
gen=$build/tests/bench/gen_events
if [ -z "${GAMIFY_TEST_KAFKA:-}" ]; then
    if [ "${GAMIFY_TEST_REQUIRE_SERVERS:-0}" = 1 ]; then
        echo "FAIL: GAMIFY_TEST_KAFKA is not set" >&2
        exit 1
    fi
    echo "skip: GAMIFY_TEST_KAFKA is not set"
    exit 77
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    [ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$tmp"/proc*.err; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
    done
    exit 1
}
port() { echo $((20000 + RANDOM % 30000)); }
http() {
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: x\r\n\r\n' "$2" >&3
    sed '1,/^\r$/d' <&3
    exec 3<&-
}
metric() { http "$1" /metrics 2>/dev/null | sed -n "s/^$2 //p"; }

topic="gamify-test-$$-$RANDOM$RANDOM"
log="kafka://$GAMIFY_TEST_KAFKA/$topic"
group="g-$topic"
# stock is counted per partition (DESIGN section 4): no stock here
grep -v '^ *stock:' "$examples/rules.yaml" > "$tmp/rules.yaml"
"$gen" --events 20000 --users 500 --seed 31 > "$tmp/all.jsonl"
split -n l/4 "$tmp/all.jsonl" "$tmp/part."

start() { # start N: instance N with its own state and metrics port
    local mport
    mport=$(port)
    "$proc" --log "$log" --state "$tmp/state$1" --rules "$tmp/rules.yaml" --group "$group" \
        --kafka-session-timeout-ms 6000 --metrics "127.0.0.1:$mport" --sync=false \
        2>>"$tmp/proc$1.err" &
    pids[$1]=$!
    ports[$1]=$mport
    for _ in $(seq 100); do
        http "$mport" /healthz 2>/dev/null | grep -q ok && return 0
        sleep 0.1
    done
    fail "instance $1 did not come up"
}
declare -a ports
start 1
start 2
# both members should hold partitions before the events come
for _ in $(seq 200); do
    [ -d "$tmp/state1" ] && [ -d "$tmp/state2" ] && break
    sleep 0.1
done
[ -d "$tmp/state1" ] && [ -d "$tmp/state2" ] || fail "the partitions were not shared"

n=0
for part in "$tmp"/part.*; do
    n=$((n + 1))
    out=$("$gamify" produce --log "$log" "$part" 2>&1) || fail "produce: $out"
    grep -q "^produced $(wc -l < "$part") events, 0 bad lines" <<<"$out" || fail "produce said: $out"
    if [ "$n" = 2 ]; then
        sleep 1
        kill -9 "${pids[2]}"
        wait "${pids[2]}" 2>/dev/null || true
        pids[2]=
    fi
done

# the survivor takes everything over: the sum of its offsets reaches 20000
deadline=$((SECONDS + 90))
while :; do
    off=$(metric "${ports[1]}" gamify_source_offset)
    [ "$off" = 20000 ] && break
    kill -0 "${pids[1]}" 2>/dev/null || fail "the survivor died"
    [ $SECONDS -lt $deadline ] || fail "the survivor reached offset ${off:-?} of 20000 in 90 s"
    sleep 0.5
done
[ "$(ls -d "$tmp"/state1/partition-* | wc -l)" = 4 ] || fail "the survivor holds not 4 partitions"
# caught up: no records left behind the high watermarks
for _ in $(seq 20); do
    lag=$(metric "${ports[1]}" gamify_lag_records)
    [ "$lag" = 0 ] && break
    sleep 0.5
done
[ "$lag" = 0 ] || fail "gamify_lag_records is '${lag:-absent}' after catching up"
[ "$(http "${ports[1]}" /readyz)" = ready ] || fail "not ready after catching up"
# the killed member had partitions of its own: the survivor took them over
moved=$(ls -d "$tmp"/state2/partition-* 2>/dev/null | wc -l)
[ "$moved" -ge 1 ] || fail "the killed instance held no partition"
[ "$(grep -c 'assigned with a new state' "$tmp/proc1.err")" -ge 4 ] ||
    fail "the survivor did not rebuild the partitions it took over"
kill -TERM "${pids[1]}"
rc=0
wait "${pids[1]}" || rc=$?
pids[1]=
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"

# each partition from the folder that got furthest
mkdir "$tmp/union"
for p in 0 1 2 3; do
    best= best_lines=-1
    for s in "$tmp/state1" "$tmp/state2"; do
        [ -d "$s/partition-$p" ] || continue
        l=$("$gamify" dump --state "$s/partition-$p" | wc -l)
        if [ "$l" -gt "$best_lines" ]; then best=$s/partition-$p best_lines=$l; fi
    done
    [ -n "$best" ] || fail "no state for partition $p"
    ln -s "$best" "$tmp/union/partition-$p"
done
"$gamify" replay --quiet --no-sync --rules "$tmp/rules.yaml" --log "jsonl:$tmp/all.jsonl" \
    --state "$tmp/replayed"
"$gamify" dump --state "$tmp/union" > "$tmp/union.dump"
"$gamify" dump --state "$tmp/replayed" > "$tmp/replayed.dump"
[ "$(wc -l < "$tmp/union.dump")" -gt 400 ] || fail "too few learners: $(wc -l < "$tmp/union.dump")"
cmp -s "$tmp/union.dump" "$tmp/replayed.dump" ||
    fail "the partitioned state differs from a replay: $(diff "$tmp/union.dump" "$tmp/replayed.dump" | head -c 600)"
[ "$("$gamify" digest --state "$tmp/union")" = "$(sha256sum < "$tmp/union.dump" | cut -d' ' -f1)" ] ||
    fail "the merged digest is not the SHA-256 of the merged dump"
echo "ok: kafka, $(wc -l < "$tmp/union.dump") learners across 4 partitions"
