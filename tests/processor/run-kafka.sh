#!/usr/bin/env bash
# gamify-processor on a Kafka topic (the mock broker that tests/run starts):
#   run-kafka.sh BUILD_ROOT EXAMPLES_DIR CHECK
# CHECK:
#   group         two instances in one consumer group, one killed mid-stream:
#                 the survivor takes its partitions over (resuming or
#                 rebuilding their states), and the union of the partition
#                 states dumps exactly like a single replay of the same events
#   log-gap       records deleted by retention before a state read them: a
#                 resuming state and a new one both stop with an error naming
#                 the offsets; --allow-log-gap goes on from the log start
#                 (counted), once: a restart without it resumes
#   log-gap-live  the same while the processor runs (it is stopped with
#                 SIGSTOP while the log start moves past its position): the
#                 fetch fails instead of jumping; with --allow-log-gap it goes on
#   ahead         a state whose offset is past the end of the partition (the
#                 topic was recreated) is an error
#   future        an event dated in 2199 is a TOO_FAR_AHEAD dead letter (the
#                 Kafka message timestamp is its append time); later events fold
#   disk-low      below --min-free-disk-mb the processor folds nothing (it says
#                 so in /metrics and /readyz) until restarted with room; a
#                 Kafka replay stops with exit 2 and continues when run again
# The mock cluster (librdkafka 2.0.2) has no DeleteRecords and no retention
# settings, but it keeps at most 5 MiB of message sets per partition and
# deletes the oldest beyond that, moving the log start: the log-gap checks
# produce about 9 MB of large records to move it.
# Needs GAMIFY_TEST_KAFKA (bootstrap servers); without it: skip (77), or fail
# when GAMIFY_TEST_REQUIRE_SERVERS=1. KEEP_TMP=1 keeps the temporary folder.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build=$1 examples=$2 check=${3:-group}
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
    for p in "${pids[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    [ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$tmp"/proc*.err; do
        [ -f "$f" ] && { echo "--- $f" >&2; grep -v '"rules published' "$f" | tail -n 15 >&2; }
    done
    exit 1
}
metric() { http "$1" /metrics 2>/dev/null | sed -n "s/^$2 //p"; }
new_topic() { echo "gamify-test-$$-$RANDOM$RANDOM"; }

# stock is counted per partition (DESIGN section 4): no stock here
grep -v '^ *stock:' "$examples/rules.yaml" > "$tmp/rules.yaml"

declare -a ports

# start N TOPIC STATE [FLAGS...]: instance N on TOPIC with its own state,
# stderr in proc<N>.err and a metrics port; waits until it serves /healthz.
# Its consumer group is $group, else one of its own (a group's next member
# may wait for a member gone before to time out).
start() {
    local n=$1 topic=$2 state=$3 mport
    shift 3
    for _ in 1 2 3 4 5; do
        mport=$(port)
        "$proc" --log "kafka://$GAMIFY_TEST_KAFKA/$topic" --state "$state" \
            --rules "$tmp/rules.yaml" --group "${group:-g-$topic-$n}" \
            --metrics "127.0.0.1:$mport" --sync=false "$@" 2>>"$tmp/proc$n.err" &
        pids[$n]=$!
        ports[$n]=$mport
        for _ in $(seq 100); do
            if ! kill -0 "${pids[$n]}" 2>/dev/null; then
                # a metrics port taken since it was chosen: another one
                tail -n 1 "$tmp/proc$n.err" | grep -q "in use" && continue 2
                fail "instance $n exited at start"
            fi
            http "$mport" /healthz 2>/dev/null | grep -q ok && kill -0 "${pids[$n]}" 2>/dev/null &&
                return 0
            sleep 0.1
        done
        fail "instance $n did not come up"
    done
    fail "instance $n found no free metrics port"
}

# wait_offset N OFFSET: until instance N's offsets sum to OFFSET (90 s at most)
wait_offset() {
    local off deadline=$((SECONDS + 90))
    while :; do
        off=$(metric "${ports[$1]}" gamify_source_offset)
        [ "$off" = "$2" ] && return 0
        kill -0 "${pids[$1]}" 2>/dev/null || fail "instance $1 died"
        [ $SECONDS -lt $deadline ] || fail "instance $1 reached offset ${off:-?} of $2 in 90 s"
        sleep 0.2
    done
}

# stop_ok N: SIGTERM, then exit status 0
stop_ok() {
    kill -TERM "${pids[$1]}"
    local rc=0
    wait "${pids[$1]}" || rc=$?
    pids[$1]=
    [ "$rc" = 0 ] || fail "instance $1: exit status $rc after SIGTERM"
}

# wait_exit N: the instance must exit by itself (60 s at most), not with 0
wait_exit() {
    local rc=0
    for _ in $(seq 600); do
        kill -0 "${pids[$1]}" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "${pids[$1]}" 2>/dev/null && fail "instance $1 still runs; it should have stopped"
    wait "${pids[$1]}" || rc=$?
    pids[$1]=
    [ "$rc" != 0 ] || fail "instance $1 exited 0; it should have failed"
}

produce() { # produce TOPIC FILE
    local out
    out=$("$gamify" produce --log "kafka://$GAMIFY_TEST_KAFKA/$1" "$2" 2>&1) || fail "produce: $out"
    grep -q "^produced $(wc -l < "$2") events, 0 bad lines" <<<"$out" || fail "produce said: $out"
}

lesson() { # lesson ID USER TIME: a LessonCompleted event as a JSON line
    printf '{"eventId":"%s","userId":"%s","occurredAt":"%s","lessonCompleted":{"lessonId":"lesson-%s","courseId":"c1","score":90}}\n' \
        "$1" "$2" "$3" "$1"
}

# filler TAG USER N: N records of about 200 KB for USER, enough to make the
# mock cluster delete older message sets of USER's partition: RulesPublished
# events that publish the test's rules again behind a long YAML comment
filler() {
    awk -v tag="$1" -v user="$2" -v n="$3" '
    { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); yaml = yaml $0 "\\n" }
    END {
        pad = "# filler that moves the log start of the partition\\n"
        while (length(pad) < 200000)
            pad = pad pad
        for (i = 1; i <= n; i++)
            printf "{\"eventId\":\"%s-filler-%d\",\"userId\":\"%s\",\"occurredAt\":\"2026-11-23T10:00:00Z\",\"rulesPublished\":{\"rulesYaml\":\"%s%s\"}}\n", tag, i, user, yaml, pad
    }' "$tmp/rules.yaml"
}

# user_field STATE USER KEY: a number of USER's dump line
user_field() {
    "$gamify" dump --state "$1" --user "$2" | sed -n "s/.*\"$3\":\([0-9]*\).*/\1/p"
}

# the partition that holds USER in STATE (a folder of partition-N states)
partition_of() {
    local d
    for d in "$1"/partition-*; do
        "$gamify" dump --state "$d" --user "$2" >/dev/null 2>&1 && { echo "${d##*-}"; return 0; }
    done
    fail "no partition of $1 holds $2"
}

case $check in
group)
    topic=$(new_topic)
    log="kafka://$GAMIFY_TEST_KAFKA/$topic"
    group="g-$topic"
    "$gen" --events 20000 --users 500 --seed 31 > "$tmp/all.jsonl"
    split -n l/4 "$tmp/all.jsonl" "$tmp/part."

    start 1 "$topic" "$tmp/state1" --kafka-session-timeout-ms 6000
    start 2 "$topic" "$tmp/state2" --kafka-session-timeout-ms 6000
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
    wait_offset 1 20000
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
    stop_ok 1

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
    # the partitioned digest: SHA-256 of each partition's name and digest
    want=$({
        printf 'gamify partitioned state\0'
        for p in 0 1 2 3; do
            printf 'partition-%d\0' "$p"
            # shellcheck disable=SC2059
            printf "$("$gamify" digest --state "$tmp/union/partition-$p" | sed 's/../\\x&/g')"
        done
    } | sha256sum | cut -d' ' -f1)
    [ "$("$gamify" digest --state "$tmp/union")" = "$want" ] ||
        fail "the partitioned digest is not built from the partitions' digests"
    echo "ok: kafka, $(wc -l < "$tmp/union.dump") learners across 4 partitions"
    ;;
log-gap)
    topic=$(new_topic)
    {
        lesson gap-1 u-gap 2026-11-23T09:00:00Z
        lesson gap-2 u-gap 2026-11-23T09:01:00Z
        lesson gap-3 u-gap 2026-11-23T09:02:00Z
    } > "$tmp/first.jsonl"
    filler gap u-gap 40 > "$tmp/filler.jsonl"
    {
        lesson gap-4 u-gap 2026-11-23T11:00:00Z
        lesson gap-5 u-gap 2026-11-23T11:01:00Z
    } > "$tmp/later.jsonl"
    # a state at offset 3 of u-gap's partition
    produce "$topic" "$tmp/first.jsonl"
    start 1 "$topic" "$tmp/state"
    wait_offset 1 3
    stop_ok 1
    p=$(partition_of "$tmp/state" u-gap)
    [ "$(user_field "$tmp/state" u-gap lessonsCompleted)" = 3 ] || fail "3 lessons expected"
    # retention deletes the first records of the partition, those 3 included
    produce "$topic" "$tmp/filler.jsonl"
    produce "$topic" "$tmp/later.jsonl"
    total=$((3 + 40 + 2))

    # the state resumes at 3, but the partition starts later: an error
    start 2 "$topic" "$tmp/state"
    wait_exit 2
    line=$(grep '"level":"error"' "$tmp/proc2.err" | grep "partition $p: the state" || true)
    [ -n "$line" ] || fail "no error about partition $p"
    for want in "kafka topic $topic partition $p" "$tmp/state/partition-$p reads offset 3 next" \
        "retention.ms=-1" "--allow-log-gap"; do
        grep -qF -- "$want" <<<"$line" || fail "the error does not say '$want': $line"
    done
    start_at=$(sed -n 's/.*the partition now starts at offset \([0-9]*\).*/\1/p' <<<"$line")
    if [ -z "$start_at" ] || [ "$start_at" -le 3 ] || [ "$start_at" -ge "$total" ]; then
        fail "the log start should lie between 3 and $total: ${start_at:-none}"
    fi
    grep -qF "records 3..$((start_at - 1)) were deleted" <<<"$line" || fail "records: $line"
    [ "$(user_field "$tmp/state" u-gap lessonsCompleted)" = 3 ] || fail "the state changed"

    # a new state would be rebuilt from offset 0, which is gone too: an error
    start 3 "$topic" "$tmp/fresh"
    wait_exit 3
    grep '"level":"error"' "$tmp/proc3.err" | grep -qF "partition-$p reads offset 0 next" ||
        fail "no error for the new state of partition $p"

    # the operator accepts the loss: from the log start on, counted, logged
    start 4 "$topic" "$tmp/state" --allow-log-gap
    wait_offset 4 "$total"
    [ "$(metric "${ports[4]}" gamify_kafka_log_gap_skipped_total)" = $((start_at - 3)) ] ||
        fail "gamify_kafka_log_gap_skipped_total is not $((start_at - 3))"
    [ "$(metric "${ports[4]}" gamify_kafka_offset_gaps_total)" = 0 ] ||
        fail "offset jumps reported where there were none"
    grep '"level":"warn"' "$tmp/proc4.err" |
        grep -qF "partition $p: going on from offset $start_at WITHOUT records 3..$((start_at - 1))" ||
        fail "no warning about the records skipped"
    stop_ok 4
    [ "$(user_field "$tmp/state" u-gap lessonsCompleted)" = 5 ] ||
        fail "the lessons after the gap were not folded"

    # accepted once: a restart without the flag resumes
    start 5 "$topic" "$tmp/state"
    wait_offset 5 "$total"
    stop_ok 5
    ! grep -q '"level":"error"' "$tmp/proc5.err" || fail "an error after the gap was accepted"
    echo "ok: kafka log gap at the assignment (log start $start_at on partition $p)"
    ;;
log-gap-live)
    # an instance at offset 3 of u-gap's partition is stopped while the
    # filler moves the log start past it, then continued: once without,
    # once with --allow-log-gap
    for mode in refuse accept; do
        topic=$(new_topic)
        n=$([ $mode = refuse ] && echo 1 || echo 2)
        lesson "live-$mode-1" u-gap 2026-11-23T09:00:00Z > "$tmp/first-$mode.jsonl"
        lesson "live-$mode-2" u-gap 2026-11-23T09:01:00Z >> "$tmp/first-$mode.jsonl"
        lesson "live-$mode-3" u-gap 2026-11-23T09:02:00Z >> "$tmp/first-$mode.jsonl"
        filler "live-$mode" u-gap 40 > "$tmp/filler-$mode.jsonl"
        lesson "live-$mode-4" u-gap 2026-11-23T11:00:00Z > "$tmp/later-$mode.jsonl"
        produce "$topic" "$tmp/first-$mode.jsonl"
        flags=(--kafka-session-timeout-ms 60000)
        [ $mode = accept ] && flags+=(--allow-log-gap)
        start "$n" "$topic" "$tmp/state-$mode" "${flags[@]}"
        wait_offset "$n" 3
        # stopped, it cannot fetch: the log start moves past its position
        kill -STOP "${pids[$n]}"
        produce "$topic" "$tmp/filler-$mode.jsonl"
        produce "$topic" "$tmp/later-$mode.jsonl"
        kill -CONT "${pids[$n]}"
        p=$(partition_of "$tmp/state-$mode" u-gap)
        if [ $mode = refuse ]; then
            wait_exit "$n"
            grep '"level":"error"' "$tmp/proc$n.err" |
                grep -qF "partition $p: the state $tmp/state-$mode/partition-$p reads offset 3 next" ||
                fail "no error about the records deleted under the running processor"
        else
            wait_offset "$n" 44
            skipped=$(metric "${ports[$n]}" gamify_kafka_log_gap_skipped_total)
            [ "${skipped:-0}" -gt 0 ] || fail "no records counted as skipped"
            [ "$(metric "${ports[$n]}" gamify_kafka_offset_gaps_total)" = 0 ] ||
                fail "offset jumps reported where there were none"
            grep -qF "partition $p: going on from offset $((3 + skipped)) WITHOUT records 3.." \
                "$tmp/proc$n.err" || fail "no warning about the records skipped"
            stop_ok "$n"
            [ "$(user_field "$tmp/state-$mode" u-gap lessonsCompleted)" = 4 ] ||
                fail "the lesson after the gap was not folded"
        fi
        # the fetch found the gap, not a new assignment: one assignment of each partition
        [ "$(grep -c '"msg":"partition [0-9]* assigned' "$tmp/proc$n.err")" = 4 ] ||
            fail "the partitions were assigned again ($mode)"
    done
    echo "ok: kafka log gap under a running processor (partition $p)"
    ;;
ahead)
    topic=$(new_topic)
    lesson ahead-1 u-ahead 2026-11-23T09:00:00Z > "$tmp/first.jsonl"
    lesson ahead-2 u-ahead 2026-11-23T09:01:00Z >> "$tmp/first.jsonl"
    produce "$topic" "$tmp/first.jsonl"
    start 1 "$topic" "$tmp/state"
    wait_offset 1 2
    stop_ok 1
    p=$(partition_of "$tmp/state" u-ahead)
    # the same state on an empty topic (as after deleting and creating it)
    other=$(new_topic)
    start 2 "$other" "$tmp/state"
    wait_exit 2
    grep '"level":"error"' "$tmp/proc2.err" |
        grep -qF "kafka topic $other partition $p: the state reads offset 2 next, but the partition ends at offset 0" ||
        fail "no error about a state past the end of the partition"
    echo "ok: kafka state ahead of its partition"
    ;;
future)
    # the message timestamp is the append time: an event dated in 2199 is a
    # dead letter, and it does not move time, so a later event still folds
    topic=$(new_topic)
    {
        lesson fut-1 u-future 2026-11-23T09:00:00Z
        lesson fut-far u-future 2199-01-01T00:00:00Z
        lesson fut-2 u-future 2026-11-23T11:00:00Z
    } > "$tmp/events.jsonl"
    produce "$topic" "$tmp/events.jsonl"
    start 1 "$topic" "$tmp/state"
    wait_offset 1 3
    stop_ok 1
    p=$(partition_of "$tmp/state" u-future)
    "$gamify" dlq list --state "$tmp/state/partition-$p" > "$tmp/dlq"
    [ "$(wc -l < "$tmp/dlq")" = 1 ] || fail "one dead letter expected: $(cat "$tmp/dlq")"
    grep -q '"reason":"TOO_FAR_AHEAD".*"eventId":"fut-far"' "$tmp/dlq" ||
        fail "fut-far is not a TOO_FAR_AHEAD dead letter: $(cat "$tmp/dlq")"
    [ "$(user_field "$tmp/state" u-future lessonsCompleted)" = 2 ] ||
        fail "the events around the far-future one were not both folded"
    echo "ok: kafka far-future event is a dead letter"
    ;;
disk-low)
    topic=$(new_topic)
    {
        lesson dl-1 u-disk-1 2026-11-23T09:00:00Z
        lesson dl-2 u-disk-2 2026-11-23T10:00:00Z
        lesson dl-3 u-disk-3 2026-11-23T11:00:00Z
    } > "$tmp/events.jsonl"
    produce "$topic" "$tmp/events.jsonl"
    huge=1073741824 # MiB: more than any disk here has free
    start 1 "$topic" "$tmp/state" --min-free-disk-mb "$huge"
    for _ in $(seq 300); do
        [ "$(metric "${ports[1]}" gamify_state_disk_low)" = 1 ] && break
        sleep 0.1
    done
    [ "$(metric "${ports[1]}" gamify_state_disk_low)" = 1 ] || fail "disk_low not raised"
    sleep 1.5
    off=$(metric "${ports[1]}" gamify_source_offset)
    [ "${off:-0}" = 0 ] || fail "folded below the floor (offset $off)"
    http "${ports[1]}" /readyz | grep -q "paused: the state's disk" ||
        fail "readyz: $(http "${ports[1]}" /readyz)"
    stop_ok 1
    start 1 "$topic" "$tmp/state"
    wait_offset 1 3
    stop_ok 1
    rc=0
    "$gamify" replay --quiet --log "kafka://$GAMIFY_TEST_KAFKA/$topic" --state "$tmp/r2" \
        --rules "$tmp/rules.yaml" --min-free-disk-mb "$huge" 2> "$tmp/r2.err" || rc=$?
    [ "$rc" = 2 ] || fail "replay below the floor: exit $rc"
    grep -q "stopped (run again to continue): the disk of the state" "$tmp/r2.err" ||
        fail "replay: $(cat "$tmp/r2.err")"
    "$gamify" replay --quiet --log "kafka://$GAMIFY_TEST_KAFKA/$topic" --state "$tmp/r2" \
        --rules "$tmp/rules.yaml"
    cmp -s <("$gamify" dump --state "$tmp/state") <("$gamify" dump --state "$tmp/r2") ||
        fail "the processor's state and the replay continued after its stop differ"
    [ "$("$gamify" dump --state "$tmp/r2" | wc -l)" = 3 ] || fail "three learners expected"
    echo "ok: kafka disk floor"
    ;;
*)
    echo "run-kafka.sh: unknown check '$check'" >&2
    exit 2
    ;;
esac
