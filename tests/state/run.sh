#!/usr/bin/env bash
# The state folder as operators meet it (issue 10, items 5, 9 and 11):
#   run.sh GAMIFY GAMIFY_PROCESSOR CHECK
#   (CHECK: writer-lock, partitioned, long-out)
# writer-lock: a second writer (gamify replay) is refused while the
#   processor runs, naming its pid; dump, digest and dlq list work beside
#   it; read-only commands on a missing state create nothing.
# partitioned: dlq list and digest of a partitioned (Kafka) state see every
#   partition, create nothing at the top, and the digest covers dedupe ids
#   that the dump does not show.
# long-out: two --out URIs of 400+ bytes that share their first 390 keep
#   their own cursors (one used to fail, or the two shared one).
set -euo pipefail
gamify=$1 proc=$2 check=$3
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > "$tmp/rules.yaml" <<'YAML'
version: 1
timezone: UTC
levels:
  thresholds: [0, 1000]
  level_up_coins: 50
activities:
  lesson_completed: { exp: 20, coins: 5 }
  tournament_result:
    win: { exp: 50, coins: 20 }
    draw: { exp: 20, coins: 5 }
    loss: { exp: 10, coins: 0 }
YAML
ev() { # ID USER LESSON
    printf '{"eventId":"%s","userId":"%s","occurredAt":"2026-11-02T09:00:00Z","lessonCompleted":{"lessonId":"%s"}}\n' "$1" "$2" "$3"
}

case $check in
writer-lock)
    { ev e1 ann l1; ev e2 bob l1
      echo '{"eventId":"adj","userId":"ann","occurredAt":"2026-11-02T09:01:00Z","adjustment":{"exp":-500,"coins":0,"reason":"x"}}'
    } > "$tmp/a.jsonl"
    "$gamify" produce --log "file:$tmp/log" "$tmp/a.jsonl" 2>/dev/null
    "$proc" --log "file:$tmp/log" --state "$tmp/state" --rules "$tmp/rules.yaml" \
        --idle-wait-ms 100 2>"$tmp/proc.err" &
    pid=$!
    for _ in $(seq 300); do
        [ "$("$gamify" dump --state "$tmp/state" 2>/dev/null | wc -l)" = 2 ] && break
        kill -0 "$pid" || fail "the processor died: $(cat "$tmp/proc.err")"
        sleep 0.1
    done
    [ "$("$gamify" dump --state "$tmp/state" | wc -l)" = 2 ] || fail "not folded"
    if "$gamify" replay --quiet --log "file:$tmp/log" --state "$tmp/state" 2>"$tmp/replay.err"; then
        fail "a second writer was let in"
    fi
    grep -q "in use by another writer (pid $pid)" "$tmp/replay.err" ||
        fail "the refusal does not name the holder: $(cat "$tmp/replay.err")"
    [ "$(wc -c < "$tmp/replay.err")" -gt 0 ]
    "$gamify" digest --state "$tmp/state" | grep -Eq '^[0-9a-f]{64}$' || fail "digest beside"
    "$gamify" dlq list --state "$tmp/state" | grep -q '"reason":"ADJUSTMENT_BELOW_ZERO"' ||
        fail "dlq list beside the writer"
    kill -TERM "$pid"
    wait "$pid" || fail "the processor did not stop cleanly"
    pid=
    # the lock left with it
    "$gamify" replay --quiet --log "file:$tmp/log" --state "$tmp/state" ||
        fail "the lock outlived its writer"
    # read-only commands create nothing
    for cmd in dump digest "dlq list"; do
        # shellcheck disable=SC2086
        if "$gamify" $cmd --state "$tmp/none" 2>/dev/null; then
            fail "$cmd on a missing state succeeded"
        fi
        [ ! -e "$tmp/none" ] || fail "$cmd created $tmp/none"
    done
    ;;
partitioned)
    mkdir "$tmp/p" "$tmp/q"
    { ev e1 ann l1; echo '{"eventId":"x1","userId":"","occurredAt":"2026-11-02T09:00:00Z","lessonCompleted":{"lessonId":"l"}}'; } > "$tmp/p0.jsonl"
    { ev e2 bob l1; echo 'not json'; } > "$tmp/p1.jsonl"
    for part in 0 1; do
        "$gamify" replay --quiet --log "jsonl:$tmp/p$part.jsonl" --state "$tmp/p/partition-$part" \
            --rules "$tmp/rules.yaml"
    done
    "$gamify" dlq list --state "$tmp/p" > "$tmp/dlq.jsonl"
    [ "$(wc -l < "$tmp/dlq.jsonl")" = 2 ] || fail "dlq list: $(cat "$tmp/dlq.jsonl")"
    grep -q '^{"partition":0,.*"reason":"INVALID",.*"eventId":"x1"' "$tmp/dlq.jsonl" ||
        fail "partition 0's dead letter (with its event id): $(cat "$tmp/dlq.jsonl")"
    grep -q '^{"partition":1,.*"reason":"\(DECODE\|INVALID\)"' "$tmp/dlq.jsonl" ||
        fail "partition 1's dead letter: $(cat "$tmp/dlq.jsonl")"
    [ ! -e "$tmp/p/data.mdb" ] || fail "dlq list created a state at the top"
    # the same learners with other event ids: equal dumps, other digests
    ev e1-other ann l1 > "$tmp/q0.jsonl"
    ev e2 bob l1 > "$tmp/q1.jsonl"
    for part in 0 1; do
        "$gamify" replay --quiet --log "jsonl:$tmp/q$part.jsonl" --state "$tmp/q/partition-$part" \
            --rules "$tmp/rules.yaml"
    done
    cmp <("$gamify" dump --state "$tmp/p") <("$gamify" dump --state "$tmp/q") ||
        fail "the dumps should be equal"
    dp=$("$gamify" digest --state "$tmp/p")
    dq=$("$gamify" digest --state "$tmp/q")
    [ "$dp" != "$dq" ] || fail "the partitioned digest does not cover the dedupe ids"
    [ "$("$gamify" digest --state "$tmp/p")" = "$dp" ] || fail "digest not stable"
    [ ! -e "$tmp/p/data.mdb" ] || fail "digest created a state at the top"
    ;;
long-out)
    deep=$tmp/$(printf 'd%.0s' $(seq 120))/$(printf 'e%.0s' $(seq 120))/$(printf 'f%.0s' $(seq 140))
    mkdir -p "$deep"
    { ev e1 ann l1; ev e2 bob l1; } > "$tmp/a.jsonl"
    "$gamify" replay --quiet --log "jsonl:$tmp/a.jsonl" --state "$tmp/state" \
        --rules "$tmp/rules.yaml" --out "jsonl:$deep/out-one.jsonl" 2>"$tmp/err" ||
        fail "replay with a long --out: $(cat "$tmp/err")"
    [ "${#deep}" -gt 390 ] || fail "the path is not long enough"
    "$gamify" replay --quiet --log "jsonl:$tmp/a.jsonl" --state "$tmp/state" \
        --out "jsonl:$deep/out-two.jsonl" 2>"$tmp/err" || fail "second output: $(cat "$tmp/err")"
    one=$(wc -l < "$deep/out-one.jsonl")
    [ "$one" -gt 0 ] || fail "nothing written to the first output"
    [ "$(wc -l < "$deep/out-two.jsonl")" = "$one" ] ||
        fail "the second output shared the first one's cursor"
    "$gamify" replay --quiet --log "jsonl:$tmp/a.jsonl" --state "$tmp/state" \
        --out "jsonl:$deep/out-one.jsonl"
    [ "$(wc -l < "$deep/out-one.jsonl")" = "$one" ] || fail "the first output was written again"
    ;;
*)
    fail "unknown check $check"
    ;;
esac
echo "ok: $check"
