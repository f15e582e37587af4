#!/usr/bin/env bash
# Outbound events to a Kafka topic (the mock broker that tests/run starts):
#   run-out-kafka.sh BUILD_ROOT EXAMPLES_DIR CHECK
# CHECK:
#   file    gamify-processor on a file log with --out kafka://.../TOPIC. It is
#           first killed (SIGKILL, by the GAMIFY_TEST_OUT_KILL_AFTER seam)
#           right after a round of events was delivered and before its
#           cursor moved, then killed -9 at random moments while events
#           arrive, and restarted each time.
#   kafka   the same with a kafka:// input log (a state per partition; the
#           records carry the input partition as their source).
#   replay  gamify replay --out kafka://: killed by the seam, run again.
# Each time the topic must hold exactly the outbound events of a clean
# replay of the same events, once each, in change order per partition and
# source, keyed by user id in the murmur2_random partition, with the
# gamify-id header (read_out_topic checks each record).
# Needs GAMIFY_TEST_KAFKA (bootstrap servers); without it: skip (77), or fail
# when GAMIFY_TEST_REQUIRE_SERVERS=1. KEEP_TMP=1 keeps the temporary folder.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build=$1 examples=$2 check=${3:-file}
gamify=$build/processor/gamify
proc=$build/processor/gamify-processor
gen=$build/tests/bench/gen_events
reader=$build/tests/processor/read_out_topic
if [ -z "${GAMIFY_TEST_KAFKA:-}" ]; then
    if [ "${GAMIFY_TEST_REQUIRE_SERVERS:-0}" = 1 ]; then
        echo "FAIL: GAMIFY_TEST_KAFKA is not set" >&2
        exit 1
    fi
    echo "skip: GAMIFY_TEST_KAFKA is not set"
    exit 77
fi
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    [ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/proc.err" ] && { echo "--- proc.err" >&2; grep -v '"rules published' "$tmp/proc.err" | tail -n 15 >&2; }
    exit 1
}
suffix=$$-$RANDOM$RANDOM
in_topic=gamify-test-in-$suffix
out_topic=gamify-test-out-$suffix
out="kafka://$GAMIFY_TEST_KAFKA/$out_topic"

# stock is counted per partition (DESIGN section 4): no stock here, so a
# partitioned state and a single replay agree
grep -v '^ *stock:' "$examples/rules.yaml" > "$tmp/rules.yaml"
"$gen" --events 6000 --users 300 --seed 41 > "$tmp/all.jsonl"
split -n l/3 "$tmp/all.jsonl" "$tmp/part."
"$gamify" replay --quiet --no-sync --rules "$tmp/rules.yaml" --log "jsonl:$tmp/all.jsonl" \
    --state "$tmp/ref-state" --out "jsonl:$tmp/ref.jsonl"
grep -o '"eventId":"[^"]*"' "$tmp/ref.jsonl" | sed 's/^"eventId":"//; s/"$//' | sort > "$tmp/want.ids"
want=$(wc -l < "$tmp/want.ids")
[ "$want" -gt 1000 ] || fail "the reference has only $want outbound events"

case $check in
file | replay) log="file:$tmp/log" ;;
kafka) log="kafka://$GAMIFY_TEST_KAFKA/$in_topic" ;;
*)
    echo "run-out-kafka.sh: unknown check '$check'" >&2
    exit 2
    ;;
esac

produce() { # produce FILE
    local o
    o=$("$gamify" produce --log "$log" "$1" 2>&1) || fail "produce: $o"
}

n_start=0
# start [ENV...]: the processor in the background, stderr in proc.err
start() {
    n_start=$((n_start + 1))
    env "$@" "$proc" --log "$log" --state "$tmp/state" --rules "$tmp/rules.yaml" --out "$out" \
        --group "g-$suffix-$n_start" --kafka-session-timeout-ms 6000 --idle-wait-ms 100 \
        --sync=false 2>>"$tmp/proc.err" &
    pid=$!
}

# topic_count: the records in the out topic (read_out_topic checks each)
topic_count() {
    "$reader" "$GAMIFY_TEST_KAFKA" "$out_topic" > "$tmp/topic.txt" 2>"$tmp/reader.err" ||
        fail "bad records in the topic: $(head -n 3 "$tmp/reader.err")"
    wc -l < "$tmp/topic.txt"
}

# wait_count N: until the topic holds at least N records (120 s at most)
wait_count() {
    local got deadline=$((SECONDS + 120))
    while :; do
        got=$(topic_count)
        [ "$got" -ge "$1" ] && return 0
        [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || fail "the processor died (topic has $got)"
        [ $SECONDS -lt $deadline ] || fail "the topic holds $got of $1 records after 120 s"
        sleep 0.5
    done
}

# the seam's kill: after a round was delivered, before its cursor moved
seam_kill() {
    local rc=0
    wait "$pid" || rc=$?
    pid=
    [ "$rc" = 137 ] || fail "the seam should have killed it (status $rc)"
}

if [ "$check" = replay ]; then
    produce "$tmp/all.jsonl"
    # no broker there: a clear error, nothing folded
    rc=0
    msg=$("$gamify" replay --quiet --no-sync --log "$log" --state "$tmp/nobroker" \
        --out "kafka://127.0.0.1:1/$out_topic" 2>&1) || rc=$?
    [ "$rc" = 2 ] || fail "replay to an unreachable broker: status $rc"
    grep -qF "kafka://127.0.0.1:1/$out_topic: cannot read the topic's partitions" <<<"$msg" ||
        fail "replay to an unreachable broker said: $msg"
    rc=0
    GAMIFY_TEST_OUT_KILL_AFTER=700 "$gamify" replay --quiet --no-sync --batch 1000 \
        --rules "$tmp/rules.yaml" --log "$log" --state "$tmp/state" --out "$out" \
        2>>"$tmp/proc.err" || rc=$?
    [ "$rc" = 137 ] || fail "the seam should have killed the replay (status $rc)"
    "$gamify" replay --quiet --no-sync --batch 1000 --rules "$tmp/rules.yaml" --log "$log" \
        --state "$tmp/state" --out "$out" 2>>"$tmp/proc.err" || fail "the second replay failed"
else
    produce "$tmp/part.aa"
    start GAMIFY_TEST_OUT_KILL_AFTER=300
    seam_kill
    start
    for part in "$tmp/part.ab" "$tmp/part.ac"; do
        produce "$part"
        sleep "0.$((RANDOM % 9 + 1))"
        kill -9 "$pid"
        wait "$pid" 2>/dev/null || true
        start
    done
    wait_count "$want"
    sleep 1 # anything more would show now
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    pid=
    [ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
fi

grep -q 'the topic already holds outbound events up to change' "$tmp/proc.err" ||
    fail "no restart found delivered events past its cursor (the seam missed the window)"
got=$(topic_count)
cut -d' ' -f1 "$tmp/topic.txt" | sort > "$tmp/got.ids"
dups=$(uniq -d "$tmp/got.ids" | head -n 3 | tr '\n' ' ')
[ -z "$dups" ] || fail "events twice in the topic ($got records for $want events): $dups"
cmp -s "$tmp/got.ids" "$tmp/want.ids" ||
    fail "the topic differs from the replay's events: $(diff "$tmp/got.ids" "$tmp/want.ids" | head -n 6 | tr '\n' ' ')"
# per partition and source: (seq, index) strictly increasing (change order)
awk '{ k = $2 " " $3
       if ((k in seq) && ($4 < seq[k] || ($4 == seq[k] && $5 <= idx[k]))) { print "out of order: " $0; exit 1 }
       seq[k] = $4; idx[k] = $5 }' "$tmp/topic.txt" || fail "records out of change order"
sources=$(cut -d' ' -f3 "$tmp/topic.txt" | sort -u | wc -l)
echo "ok: out kafka ($check): $got records, each event once, from $sources sources"
