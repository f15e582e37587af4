#!/usr/bin/env bash
# gamify-processor end to end on the embedded file log (no servers needed):
#   run.sh BUILD_ROOT EXAMPLES_DIR CHECK     (EXAMPLES_DIR: examples/)
# CHECK: follow, restart, config, bad-records, requeue, unsynced, ahead, future, out-trim,
# disk-low, progress.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build=$1 examples=$2 check=$3
gamify=$build/processor/gamify
proc=$build/processor/gamify-processor
gen=$build/tests/bench/gen_events
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/proc.err" ] && tail -n 20 "$tmp/proc.err" >&2
    exit 1
}



metric() { http "$mport" /metrics | sed -n "s/^$1 //p"; }

start() {
    for _ in 1 2 3 4 5; do
        mport=$(port)
        "$proc" --log "file:$tmp/log" --state "$tmp/state" --rules "$examples/rules.yaml" \
            --metrics "127.0.0.1:$mport" --idle-wait-ms 100 "$@" 2>>"$tmp/proc.err" &
        pid=$!
        for _ in $(seq 100); do
            # ours answers (not another program that took the port first)
            kill -0 "$pid" 2>/dev/null || break
            http "$mport" /healthz 2>/dev/null | grep -q ok && kill -0 "$pid" 2>/dev/null &&
                return 0
            sleep 0.1
        done
        wait "$pid" 2>/dev/null || true
        tail -n 1 "$tmp/proc.err" | grep -q "in use" || break
        echo "metrics port $mport was taken; trying another" >&2
    done
    pid=
    fail "the processor did not come up"
}

# wait_offset END: until the processor has committed up to END (60 s at most)
wait_offset() {
    for _ in $(seq 600); do
        [ "$(metric gamify_source_offset)" = "$1" ] && return 0
        kill -0 "$pid" 2>/dev/null || fail "the processor died"
        sleep 0.1
    done
    fail "the processor did not reach offset $1 (at $(metric gamify_source_offset))"
}

stop_ok() {
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    pid=
    [ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
    grep -q '"msg":"stopping at offset' "$tmp/proc.err" || fail "no stop message"
}

produce() { "$gamify" produce --log "file:$tmp/log" "$1" 2>&1 | sed -n 's/.*log end offset //p'; }

compare_with_replay() {
    "$gamify" replay --quiet --no-sync --rules "$examples/rules.yaml" --log "file:$tmp/log" \
        --state "$tmp/replayed"
    [ "$("$gamify" digest --state "$tmp/state")" = "$("$gamify" digest --state "$tmp/replayed")" ] ||
        fail "the processor's state differs from a replay of the same log"
    cmp -s <("$gamify" dump --state "$tmp/state") <("$gamify" dump --state "$tmp/replayed") ||
        fail "dumps differ"
}

case $check in
follow)
    "$gen" --events 20000 --users 500 --seed 21 > "$tmp/all.jsonl"
    split -n l/4 "$tmp/all.jsonl" "$tmp/part."
    start
    [ "$(http "$mport" /nope | head -c 9)" = "not found" ] || fail "unknown path"
    for part in "$tmp"/part.*; do
        end=$(produce "$part")
        sleep 0.2
    done
    wait_offset "$end"
    [ "$(http "$mport" /readyz)" = ready ] || fail "not ready after catching up"
    [ "$(metric gamify_events_folded_total)" -gt 19000 ] || fail "too few events folded"
    [ "$(metric gamify_batch_size_count)" -ge 2 ] || fail "expected several batches"
    stop_ok
    compare_with_replay
    # with no consumer of the change feed, the processor trims it as it goes
    # (a replay keeps it whole)
    entries() { mdb_stat -s changes "$1" | sed -n 's/^ *Entries: //p'; }
    kept=$(entries "$tmp/state") whole=$(entries "$tmp/replayed")
    [ "$whole" -gt 19000 ] || fail "the replay's feed: $whole"
    [ "$kept" -lt $((whole / 2)) ] || fail "the change feed was not trimmed ($kept of $whole)"
    ;;
restart)
    "$gen" --events 100000 --users 5000 --seed 22 > "$tmp/all.jsonl"
    end=$(produce "$tmp/all.jsonl")
    start --batch-max 2000
    sleep 1
    stop_ok
    mid=$("$gamify" dump --state "$tmp/state" | wc -l)
    echo "stopped once with $mid learners folded"
    start --batch-max 2000
    wait_offset "$end"
    stop_ok
    [ "$(grep -c '"msg":"stopping at offset' "$tmp/proc.err")" = 2 ] || fail "two stops expected"
    compare_with_replay
    ;;
bad-records)
    # bad records between good ones: dead letters, and the good ones folded
    head -n 5 "$examples/events.jsonl" > "$tmp/first.jsonl"
    tail -n +6 "$examples/events.jsonl" > "$tmp/rest.jsonl"
    start
    produce "$tmp/first.jsonl" > /dev/null
    "$build/tests/processor/append_bad_records" "$tmp/log"
    end=$(produce "$tmp/rest.jsonl")
    wait_offset "$end"
    # the four bad records, then the example's own refused adjustment
    [ "$(metric gamify_dead_letters_total)" = 5 ] || fail "5 dead letters expected"
    stop_ok
    reasons=$("$gamify" dlq list --state "$tmp/state" | sed 's/.*"reason":"\([A-Z_]*\)".*/\1/' | tr '\n' ' ')
    [ "$reasons" = "DECODE DECODE INVALID INVALID ADJUSTMENT_BELOW_ZERO " ] || fail "reasons: $reasons"
    "$gamify" dlq list --state "$tmp/state" | grep -q '"detail":"body: missing or unknown' ||
        fail "unknown body not named"
    "$gamify" dlq list --state "$tmp/state" | grep -q '"detail":"event_id: 200 bytes, at most 128' ||
        fail "oversized id not named"
    [ "$("$gamify" dump --state "$tmp/state" | wc -l)" = 3 ] || fail "the good learners"
    "$gamify" dump --state "$tmp/state" --user ana | grep -q '"exp":226,"level":3,"coins":10,' ||
        fail "ana not folded around the bad records"
    ;;
requeue)
    # events before any rules wait as NO_RULES dead letters; after the rules
    # are published, a requeue folds them
    mport=$(port)
    "$proc" --log "file:$tmp/log" --state "$tmp/state" --metrics "127.0.0.1:$mport" \
        --idle-wait-ms 100 2>>"$tmp/proc.err" &
    pid=$!
    end=$(produce "$examples/events.jsonl")
    wait_offset "$end"
    [ "$(metric gamify_dead_letters_total)" = 33 ] || fail "33 NO_RULES dead letters expected"
    # Published as of a day before the example's events: published as of
    # now, they would fall out of the dedupe window behind it (TOO_LATE) a
    # month after the dates in examples/events.jsonl.
    "$gamify" rules publish --log "file:$tmp/log" --user ops --at 2026-11-01T00:00:00Z \
        "$examples/rules.yaml" > /dev/null
    out=$("$gamify" dlq requeue --state "$tmp/state" --log "file:$tmp/log" --reason NO_RULES)
    [ "$out" = "requeued 33 dead letters to file:$tmp/log; kept 0 that still do not decode" ] ||
        fail "requeue said: $out"
    left=$("$gamify" dlq list --state "$tmp/state")
    ! grep -q NO_RULES <<<"$left" || fail "NO_RULES dead letters left: $left"
    end=$(wc -c < "$tmp/log/00000000000000000000.seg")
    wait_offset "$end"
    stop_ok
    "$gamify" dump --state "$tmp/state" --user ana |
        grep -q '"exp":226,"level":3,"coins":10,"coinsEarned":160,"coinsSpent":150,' ||
        fail "ana after the requeue: $("$gamify" dump --state "$tmp/state" --user ana)"
    [ "$("$gamify" dump --state "$tmp/state" | wc -l)" = 3 ] || fail "three learners expected"
    # folded this time: the refused adjustment is the one dead letter left
    reasons=$("$gamify" dlq list --state "$tmp/state" | sed 's/.*"reason":"\([A-Z_]*\)".*/\1/' | tr '\n' ' ')
    [ "$reasons" = "ADJUSTMENT_BELOW_ZERO " ] || fail "dead letters after the requeue: $reasons"
    ;;
unsynced)
    # Readers only see what is durable. Records written but not synced (as an
    # appender that died before its fdatasync leaves them) are not folded;
    # a power cut then takes them (the log is cut back to its last synced
    # length under the stopped processor), and the restarted processor's
    # state equals a clean replay of the log as it is.
    head -n 5 "$examples/events.jsonl" > "$tmp/first.jsonl"
    sed -n 6,8p "$examples/events.jsonl" > "$tmp/mid.jsonl"
    tail -n +9 "$examples/events.jsonl" > "$tmp/rest.jsonl"
    seg=$tmp/log/00000000000000000000.seg
    start
    synced=$(produce "$tmp/first.jsonl")
    wait_offset "$synced"
    "$build/tests/processor/append_unsynced" "$tmp/log" "$tmp/mid.jsonl"
    [ "$(wc -c < "$seg")" -gt "$synced" ] || fail "nothing was appended"
    sleep 1 # ten idle waits: long enough to fold them, were they visible
    [ "$(metric gamify_source_offset)" = "$synced" ] ||
        fail "the processor folded records that are not durable"
    stop_ok
    truncate -s "$synced" "$seg"
    end=$(produce "$tmp/rest.jsonl")
    start
    wait_offset "$end"
    stop_ok
    compare_with_replay
    [ "$("$gamify" dump --state "$tmp/state" | wc -l)" = 3 ] || fail "the example's three learners"
    ;;
ahead)
    # A state ahead of its log (the log lost records the state had folded)
    # is refused loudly, by the processor and by a resumed replay, with the
    # way out; a fresh replay rebuilds it.
    head -n 5 "$examples/events.jsonl" > "$tmp/first.jsonl"
    tail -n +6 "$examples/events.jsonl" > "$tmp/rest.jsonl"
    half=$(produce "$tmp/first.jsonl")
    end=$(produce "$tmp/rest.jsonl")
    start
    wait_offset "$end"
    stop_ok
    truncate -s "$half" "$tmp/log/00000000000000000000.seg"
    rc=0
    timeout 60 "$proc" --log "file:$tmp/log" --state "$tmp/state" 2>"$tmp/ahead.err" || rc=$?
    [ "$rc" = 1 ] || fail "the processor exited $rc on a state ahead of its log"
    grep -q "the state is ahead of the log" "$tmp/ahead.err" || fail "$(cat "$tmp/ahead.err")"
    grep -q "offset $end is past the end ($half)" "$tmp/ahead.err" || fail "$(cat "$tmp/ahead.err")"
    grep -q "gamify replay --log file:$tmp/log --state NEW_DIR" "$tmp/ahead.err" ||
        fail "no way out: $(cat "$tmp/ahead.err")"
    grep -q "durable mark says $end" "$tmp/ahead.err" || fail "the lost records went unnoticed"
    rc=0
    "$gamify" replay --quiet --log "file:$tmp/log" --state "$tmp/state" 2>"$tmp/replay.err" || rc=$?
    [ "$rc" != 0 ] || fail "a resumed replay accepted a state ahead of its log"
    grep -q "the state is ahead of the log" "$tmp/replay.err" || fail "$(cat "$tmp/replay.err")"
    "$gamify" replay --quiet --log "file:$tmp/log" --state "$tmp/fresh" \
        --rules "$examples/rules.yaml"
    [ "$("$gamify" dump --state "$tmp/fresh" | wc -l)" = 2 ] || fail "the rebuilt state"
    ;;
future)
    # an event dated far after its append time: a dead letter counted in
    # its own metric, and the events after it fold
    start
    cat > "$tmp/f.jsonl" <<'JSONL'
{"eventId":"f1","userId":"u-far","occurredAt":"2199-01-01T00:00:00Z","lessonCompleted":{"lessonId":"l1"}}
{"eventId":"f2","userId":"u-near","occurredAt":"2026-11-20T10:00:00Z","lessonCompleted":{"lessonId":"l1"}}
JSONL
    end=$(produce "$tmp/f.jsonl")
    wait_offset "$end"
    [ "$(metric gamify_too_far_ahead_total)" = 1 ] || fail "TOO_FAR_AHEAD not counted"
    [ "$(metric gamify_dead_letters_total)" = 1 ] || fail "one dead letter expected"
    "$gamify" dump --state "$tmp/state" --user u-near | grep -q '"lessonsCompleted":1,' ||
        fail "the event after the far one did not fold"
    "$gamify" dlq list --state "$tmp/state" | grep -q '"reason":"TOO_FAR_AHEAD".*"eventId":"f1"' ||
        fail "the dead letter: $("$gamify" dlq list --state "$tmp/state")"
    stop_ok
    ;;
out-trim)
    # an output holds the feed back: each outbound event is written once,
    # as a replay writes them; an output added to a trimmed feed is refused
    "$gen" --events 5000 --users 300 --seed 23 > "$tmp/all.jsonl"
    end=$(produce "$tmp/all.jsonl")
    start --out "jsonl:$tmp/out.jsonl" --batch-max 500
    wait_offset "$end"
    stop_ok
    "$gamify" replay --quiet --no-sync --rules "$examples/rules.yaml" --log "file:$tmp/log" \
        --state "$tmp/replayed" --out "jsonl:$tmp/replayed-out.jsonl"
    cmp -s "$tmp/out.jsonl" "$tmp/replayed-out.jsonl" ||
        fail "outbound events differ from a replay's ($(wc -l < "$tmp/out.jsonl") vs $(wc -l < "$tmp/replayed-out.jsonl"))"
    rc=0
    timeout 60 "$proc" --log "file:$tmp/log" --state "$tmp/state" --out "jsonl:$tmp/late.jsonl" \
        2>"$tmp/late.err" || rc=$?
    [ "$rc" != 0 ] || fail "an output added to a trimmed feed was accepted"
    grep -q "was trimmed" "$tmp/late.err" || fail "$(cat "$tmp/late.err")"
    ;;
config)
    out=$("$proc" --log "file:$tmp/log" --state "$tmp/state" --check-config)
    grep -q '^batch-max = 20000  # default$' <<<"$out" || fail "defaults: $out"
    printf 'batch-max = 77\n# a comment\nidle-wait-ms = 5\n' > "$tmp/p.conf"
    out=$(GAMIFY_IDLE_WAIT_MS=9 "$proc" --config "$tmp/p.conf" --log "file:$tmp/log" \
        --state "$tmp/state" --check-config)
    grep -q '^batch-max = 77  # file$' <<<"$out" || fail "file: $out"
    grep -q '^idle-wait-ms = 9  # env$' <<<"$out" || fail "env over file: $out"
    out=$(GAMIFY_BATCH_MAX=5 "$proc" --log "file:$tmp/log" --state "$tmp/state" --batch-max 6 \
        --check-config)
    grep -q '^batch-max = 6  # flag$' <<<"$out" || fail "flag over env: $out"
    expect_error() {
        local want=$1
        shift
        local err rc=0
        err=$("$proc" "$@" --check-config 2>&1 >/dev/null) || rc=$?
        [ "$rc" = 2 ] || fail "exit $rc for $*"
        grep -q -- "$want" <<<"$err" || fail "for $*: expected '$want', got '$err'"
    }
    expect_error "--log is required" --state "$tmp/state"
    expect_error "outside 1..1000000" --log "file:$tmp/log" --state s --batch-max 0
    expect_error "not an integer" --log "file:$tmp/log" --state s --batch-max ten
    expect_error "unknown flag --bogus" --log "file:$tmp/log" --state s --bogus 1
    expect_error "not true or false" --log "file:$tmp/log" --state s --sync=maybe
    expect_error "expected kafka://HOST:PORT" --log kafka://127.0.0.1:9092 --state s
    expect_error "jsonl: is for replays" --log jsonl:/x --state s
    expect_error "expected redis://HOST" --log "file:$tmp/log" --state s --redis http://x
    # projectors with a Kafka log: accepted, and their settings checked
    "$proc" --log kafka://127.0.0.1:9092/t --state s --check-config --redis redis://127.0.0.1:1 \
        --postgres "host=127.0.0.1 port=1" >/dev/null || fail "--redis/--postgres with kafka://"
    expect_error 'bad Postgres conninfo: port "x"' --log kafka://127.0.0.1:9092/t --state s \
        --postgres "host=127.0.0.1 port=x"
    # a conninfo libpq would refuse only when connecting: refused here
    expect_error 'bad Postgres conninfo: port "abc" is not a number' --log "file:$tmp/log" \
        --state s --postgres "host=127.0.0.1 port=abc"
    expect_error 'bad Postgres conninfo: sslmode "sometimes"' --log "file:$tmp/log" --state s \
        --postgres "postgresql://127.0.0.1/gamify?sslmode=sometimes"
    "$proc" --log "file:$tmp/log" --state s --postgres "host=127.0.0.1 port=1" --check-config \
        >/dev/null || fail "a well-formed conninfo to a closed port is refused at --check-config"
    printf 'version: 2\n' > "$tmp/bad.yaml"
    expect_error "bad.yaml:" --log "file:$tmp/log" --state s --rules "$tmp/bad.yaml"
    printf 'nonsense line\n' > "$tmp/bad.conf"
    expect_error "bad.conf:1: expected name = value" --config "$tmp/bad.conf"
    # whole output first: grep -q may exit before --help ends writing (SIGPIPE)
    grep -q -- '--idle-wait-ms N  (GAMIFY_IDLE_WAIT_MS)' <<<"$("$proc" --help)" || fail "help"
    ;;
progress)
    # --progress-ms: a catch-up (30,000 events in 6,000 batches of 5, each
    # committed with its fsync: 0.3 s at 50 us a commit, seconds here) logs
    # where it is every 100 ms, and when it is done
    "$gen" --events 30000 --users 500 --seed 26 > "$tmp/all.jsonl"
    end=$(produce "$tmp/all.jsonl")
    start --batch-max 5 --progress-ms 100 --log-level info
    wait_offset "$end"
    stop_ok
    # grep -m 1, not | head -n 1: a slow disk logs enough lines for grep to
    # be killed by SIGPIPE once head is done (exit 141 under pipefail)
    line=$(grep -m 1 '"msg":"catching up: offset' "$tmp/proc.err")
    [ -n "$line" ] || fail "no progress line: $(grep -c . "$tmp/proc.err") lines logged"
    grep -Eq "catching up: offset [0-9]+ of $end \([0-9.]+%\), [0-9]+ records/s, about [0-9]+ s left" \
        <<<"$line" || fail "progress line: $line"
    grep -q "\"msg\":\"caught up at offset $end: [0-9]* records in " "$tmp/proc.err" ||
        fail "no caught-up line after the progress lines"
    lines=$(grep -c '"msg":"catching up: offset' "$tmp/proc.err")
    # off: no such line
    rm -rf "$tmp/state" "$tmp/proc.err"
    start --batch-max 5 --progress-ms 0 --log-level info
    wait_offset "$end"
    stop_ok
    ! grep -q 'catching up: offset' "$tmp/proc.err" || fail "a progress line with 0"
    echo "ok: $lines progress lines, the first: $line"
    ;;
disk-low)
    # --min-free-disk-mb: below the floor nothing is folded (MDB_WRITEMAP
    # would die of SIGBUS on a full disk); the processor pauses and resumes,
    # gamify replay stops with exit 2 and continues when run again.
    "$gen" --events 3000 --users 100 --seed 23 > "$tmp/all.jsonl"
    end=$(produce "$tmp/all.jsonl")
    huge=1073741824 # MiB: 1 PiB, more than any disk here has free
    start --min-free-disk-mb "$huge"
    for _ in $(seq 50); do
        [ "$(metric gamify_state_disk_low)" = 1 ] && break
        sleep 0.1
    done
    [ "$(metric gamify_state_disk_low)" = 1 ] || fail "disk_low not raised"
    [ "$(metric gamify_state_disk_free_bytes)" -gt 0 ] || fail "free bytes not reported"
    sleep 1.5
    [ "$(metric gamify_source_offset)" = 0 ] || fail "folded below the floor"
    # paused before its first batch, it still shows how far it has to go
    [ "$(metric gamify_lag_bytes)" = "$end" ] ||
        fail "paused at offset 0 of $end: gamify_lag_bytes $(metric gamify_lag_bytes)"
    http "$mport" /readyz | grep -q "paused: the state's disk" || fail "readyz: $(http "$mport" /readyz)"
    grep -q "MiB free, less than --min-free-disk-mb $huge" "$tmp/proc.err" || fail "no warning"
    stop_ok
    start
    wait_offset "$end"
    [ "$(metric gamify_state_disk_low)" = 0 ] || fail "disk_low still raised"
    [ "$(metric gamify_lag_bytes)" = 0 ] || fail "caught up: gamify_lag_bytes $(metric gamify_lag_bytes)"
    stop_ok
    rc=0
    "$gamify" replay --quiet --log "file:$tmp/log" --state "$tmp/r2" --min-free-disk-mb "$huge" \
        2> "$tmp/r2.err" || rc=$?
    [ "$rc" = 2 ] || fail "replay below the floor: exit $rc"
    grep -q "stopped at offset 0 (run again to continue): the disk of the state" "$tmp/r2.err" ||
        fail "replay: $(cat "$tmp/r2.err")"
    "$gamify" replay --quiet --rules "$examples/rules.yaml" --log "file:$tmp/log" --state "$tmp/r2"
    [ "$("$gamify" digest --state "$tmp/state")" = "$("$gamify" digest --state "$tmp/r2")" ] ||
        fail "the replay continued after the stop differs"
    # A real small disk (a tmpfs; needs root): filled up to under the floor,
    # the processor pauses, and resumes when space is freed.
    small=$tmp/small
    mkdir "$small"
    if mount -t tmpfs -o size=96m gamify-disk-low "$small" 2>/dev/null; then
        trap 'umount "$small" 2>/dev/null || true; cleanup' EXIT
        # a fresh state on it, folding the whole log from the start
        rm -rf "$tmp/state"
        mkdir "$small/state"
        ln -s "$small/state" "$tmp/state"
        # a filler that leaves about 16 MiB free; the floor is 32 MiB
        dd if=/dev/zero of="$small/filler" bs=1M count=80 status=none
        "$gen" --events 3000 --users 100 --seed 24 > "$tmp/more.jsonl"
        end2=$(produce "$tmp/more.jsonl")
        start --min-free-disk-mb 32
        sleep 1.5
        [ "$(metric gamify_state_disk_low)" = 1 ] || fail "tmpfs: disk_low not raised"
        [ "$(metric gamify_source_offset)" = 0 ] || fail "tmpfs: folded below the floor"
        rm "$small/filler"
        wait_offset "$end2"
        [ "$(metric gamify_state_disk_low)" = 0 ] || fail "tmpfs: disk_low still raised"
        stop_ok
        grep -q "MiB free again: writing resumes" "$tmp/proc.err" || fail "no resume note"
        echo "tmpfs: paused at 16 MiB free, resumed once freed"
        # Without the floor the disk fills under a commit: with its pages on
        # the heap (the default; the map would die of SIGBUS) the processor
        # stops with an error that says so, and once there is room it
        # resumes to the state a replay of the log gives.
        avail=$(df --output=avail -k "$small" | tail -n 1)
        dd if=/dev/zero of="$small/filler" bs=1K count=$((avail - 512)) status=none 2>/dev/null || true
        "$gen" --events 20000 --users 2000 --seed 25 > "$tmp/full.jsonl"
        end3=$(produce "$tmp/full.jsonl")
        "$proc" --log "file:$tmp/log" --state "$tmp/state" --min-free-disk-mb 0 \
            2>"$tmp/full.err" &
        pid=$!
        for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && fail "tmpfs: still running on a full disk"
        rc=0
        wait "$pid" || rc=$?
        pid=
        [ "$rc" != 0 ] || fail "tmpfs: exit 0 on a full disk"
        grep -q "the state's disk has [0-9]* MiB free; nothing committed is lost" "$tmp/full.err" ||
            fail "tmpfs: full disk: $(grep -v 'dead letter' "$tmp/full.err" | tail -n 3)"
        rm "$small/filler"
        start --min-free-disk-mb 0
        wait_offset "$end3"
        stop_ok
        compare_with_replay
        echo "tmpfs: a commit on a full disk failed with its cause, and resumed once freed"
    else
        echo "tmpfs part skipped: mount not permitted here"
    fi
    ;;
*)
    fail "unknown check $check"
    ;;
esac
echo "ok: $check"
