#!/usr/bin/env bash
# Determinism of the fold (DESIGN section 3): the same log always gives the
# same state digest, however it is delivered and interrupted.
#   run.sh GAMIFY GEN_EVENTS RULES CHECK [PROCESSOR]
# CHECK is one of: twice, formats, halves, doubled, kill9, held (write-behind
# learners: held, written back, killed and resumed), long (more than a
# year of event time with short-lived leaderboard periods: replay, file log,
# kill -9 and resume, and gamify-PROCESSOR following the log, killed and
# restarted, all give the digest of a clean replay).
set -euo pipefail
gamify=$1 gen=$2 rules=$3 check=$4 proc=${5:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
digest() { "$gamify" digest --state "$1"; }
replay() { "$gamify" replay --quiet --no-sync --rules "$rules" --log "$1" --state "$2"; }

"$gen" --events 20000 --users 2000 --seed 7 --rules-every 6000 > "$tmp/events.jsonl"
replay "jsonl:$tmp/events.jsonl" "$tmp/ref"
ref=$(digest "$tmp/ref")
[ "${#ref}" = 64 ] || fail "no digest"
users=$("$gamify" dump --state "$tmp/ref" | wc -l)
[ "$users" -gt 1000 ] || fail "reference replay folded too little ($users learners)"

case $check in
twice)
    replay "jsonl:$tmp/events.jsonl" "$tmp/again"
    [ "$(digest "$tmp/again")" = "$ref" ] || fail "a second replay gave another digest"
    cmp <("$gamify" dump --state "$tmp/ref") <("$gamify" dump --state "$tmp/again") ||
        fail "dumps differ"
    ;;
formats)
    "$gamify" produce --log "file:$tmp/log" "$tmp/events.jsonl" 2>/dev/null
    replay "file:$tmp/log" "$tmp/fromlog"
    [ "$(digest "$tmp/fromlog")" = "$ref" ] || fail "file log and JSON lines disagree"
    ;;
halves)
    head -n 10000 "$tmp/events.jsonl" > "$tmp/first.jsonl"
    tail -n +10001 "$tmp/events.jsonl" > "$tmp/second.jsonl"
    "$gamify" produce --log "file:$tmp/log" "$tmp/first.jsonl" 2>/dev/null
    replay "file:$tmp/log" "$tmp/halves"
    mid=$(digest "$tmp/halves")
    [ "$mid" != "$ref" ] || fail "half the log gave the whole log's digest"
    "$gamify" produce --log "file:$tmp/log" "$tmp/second.jsonl" 2>/dev/null
    replay "file:$tmp/log" "$tmp/halves"
    [ "$(digest "$tmp/halves")" = "$ref" ] || fail "two halves with a restart differ"
    ;;
doubled)
    awk '{ print; print }' "$tmp/events.jsonl" > "$tmp/doubled.jsonl"
    replay "jsonl:$tmp/doubled.jsonl" "$tmp/doubled"
    [ "$(digest "$tmp/doubled")" = "$ref" ] || fail "every event twice (adjacent) differs"
    cat "$tmp/events.jsonl" "$tmp/events.jsonl" > "$tmp/again.jsonl"
    replay "jsonl:$tmp/again.jsonl" "$tmp/again"
    [ "$(digest "$tmp/again")" = "$ref" ] || fail "the whole log delivered twice differs"
    ;;
kill9)
    "$gen" --events 150000 --users 20000 --seed 11 > "$tmp/big.jsonl"
    "$gamify" produce --log "file:$tmp/biglog" "$tmp/big.jsonl" 2>/dev/null
    replay "file:$tmp/biglog" "$tmp/clean"
    want=$(digest "$tmp/clean")
    interrupted=0
    for pause in 0.4 0.9 1.5; do
        "$gamify" replay --quiet --batch 500 --rules "$rules" --log "file:$tmp/biglog" \
            --state "$tmp/killed" 2>"$tmp/killed.err" &
        pid=$!
        sleep "$pause"
        if kill -9 "$pid" 2>/dev/null; then
            interrupted=$((interrupted + 1))
        fi
        wait "$pid" 2>/dev/null || true
    done
    [ "$interrupted" -gt 0 ] || fail "no replay was interrupted (machine too fast?)"
    replay "file:$tmp/biglog" "$tmp/killed"
    [ "$(digest "$tmp/killed")" = "$want" ] ||
        fail "kill -9 ($interrupted times) then resume differs from a clean replay"
    echo "interrupted $interrupted replays with SIGKILL"
    ;;
long)
    # 420 days from 2026-11-01 with weeks kept 2 and months 1 finished
    # periods: thousands of learners lose scores to pruning many times.
    # The events lie in the future of the append clock, so the file log's
    # skew check is widened (3 years).
    skew=(--future-skew-seconds 94608000)
    sed -e 's/^\( *keep_weeks:\).*/\1 2/' -e 's/^\( *keep_months:\).*/\1 1/' "$rules" \
        > "$tmp/rules.yaml"
    grep -q '^ *keep_weeks: 2' "$tmp/rules.yaml" || fail "the rules have no keep_weeks to shorten"
    rules=$tmp/rules.yaml
    "$gen" --events 60000 --users 3000 --seed 13 --span-days 420 > "$tmp/long.jsonl"
    replay "jsonl:$tmp/long.jsonl" "$tmp/lref"
    want=$(digest "$tmp/lref")
    # pruning happened: no learner shows a week or month long past
    "$gamify" dump --state "$tmp/lref" > "$tmp/ldump"
    ! grep -q '"2026-W4[5-9]"\|"2026-11"\|"2027-0[1-9]"' "$tmp/ldump" ||
        fail "expired periods are still shown"
    grep -q '"2027-W5[0-2]"\|"2027-12"' "$tmp/ldump" || fail "the last periods are missing"
    "$gamify" produce --log "file:$tmp/llog" "$tmp/long.jsonl" 2>/dev/null
    "$gamify" replay --quiet --no-sync --rules "$rules" "${skew[@]}" --log "file:$tmp/llog" \
        --state "$tmp/lfile"
    [ "$(digest "$tmp/lfile")" = "$want" ] || fail "long log: file log and JSON lines differ"
    interrupted=0
    for pause in 0.3 0.7 1.2; do
        "$gamify" replay --quiet --batch 300 --rules "$rules" "${skew[@]}" \
            --log "file:$tmp/llog" --state "$tmp/lkilled" 2>/dev/null &
        pid=$!
        sleep "$pause"
        kill -9 "$pid" 2>/dev/null && interrupted=$((interrupted + 1))
        wait "$pid" 2>/dev/null || true
    done
    "$gamify" replay --quiet --rules "$rules" "${skew[@]}" --log "file:$tmp/llog" \
        --state "$tmp/lkilled"
    [ "$(digest "$tmp/lkilled")" = "$want" ] || fail "long log: kill -9 and resume differ"
    # follow: the processor, killed once, then run to the end; the digest
    # is read beside it (read-only opens work next to the writer)
    [ -x "$proc" ] || fail "no gamify-processor given"
    "$proc" --log "file:$tmp/llog" --state "$tmp/lfollow" --rules "$rules" "${skew[@]}" \
        --batch-max 700 2>/dev/null &
    pid=$!
    sleep 0.8
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    "$proc" --log "file:$tmp/llog" --state "$tmp/lfollow" --rules "$rules" "${skew[@]}" \
        2>"$tmp/follow.err" &
    pid=$!
    got=
    for _ in $(seq 600); do
        got=$(digest "$tmp/lfollow" 2>/dev/null || true)
        [ "$got" = "$want" ] && break
        kill -0 "$pid" 2>/dev/null || fail "the processor died: $(tail -3 "$tmp/follow.err")"
        sleep 0.1
    done
    kill -TERM "$pid"
    wait "$pid" || fail "the processor did not stop cleanly"
    [ "$(digest "$tmp/lfollow")" = "$want" ] || fail "long log: follow differs ($got)"
    echo "long: $(wc -l < "$tmp/ldump") learners; $interrupted replays killed"
    ;;
held)
    # write-behind learners (--hold-mib): whatever is held in the journal
    # and whatever was written back, dump and digest show the same state.
    # 64 MiB holds every learner of this log (nothing is written back); 1
    # MiB writes back all the time, the journal trimmed behind.
    for mib in 64 1; do
        for batch in 200000 333; do
            "$gamify" replay --quiet --no-sync --rules "$rules" --hold-mib "$mib" \
                --batch "$batch" --log "jsonl:$tmp/events.jsonl" --state "$tmp/h$mib-$batch"
            [ "$(digest "$tmp/h$mib-$batch")" = "$ref" ] ||
                fail "--hold-mib $mib --batch $batch: another digest"
            cmp -s <("$gamify" dump --state "$tmp/ref") <("$gamify" dump --state "$tmp/h$mib-$batch") ||
                fail "--hold-mib $mib --batch $batch: dumps differ"
        done
    done
    # single learners: a held one is read from the journal
    for u in $("$gamify" dump --state "$tmp/ref" | head -n 400 | sed -n 's/^{"userId":"\([^"]*\)".*/\1/p' | head -n 20); do
        cmp -s <("$gamify" dump --state "$tmp/ref" --user "$u") \
            <("$gamify" dump --state "$tmp/h64-333" --user "$u") || fail "dump --user $u differs"
        cmp -s <("$gamify" ledger --state "$tmp/ref" --user "$u") \
            <("$gamify" ledger --state "$tmp/h64-333" --user "$u") || fail "ledger --user $u differs"
    done
    # held learners survive a stop and a kill -9: the next writer takes
    # them back from the journal, with holding on, smaller or off
    "$gamify" produce --log "file:$tmp/log" "$tmp/events.jsonl" 2>/dev/null
    interrupted=0
    for pause in 0.3 0.6 1.0; do
        "$gamify" replay --quiet --batch 200 --hold-mib 2 --rules "$rules" --log "file:$tmp/log" \
            --state "$tmp/hkilled" 2>/dev/null &
        pid=$!
        sleep "$pause"
        kill -9 "$pid" 2>/dev/null && interrupted=$((interrupted + 1))
        wait "$pid" 2>/dev/null || true
    done
    "$gamify" replay --quiet --batch 500 --hold-mib 0 --rules "$rules" --log "file:$tmp/log" \
        --state "$tmp/hkilled"
    [ "$(digest "$tmp/hkilled")" = "$ref" ] || fail "held: kill -9 and resume differ"
    # pruning of held learners: the long log of 'long' with its short keeps
    sed -e 's/^\( *keep_weeks:\).*/\1 2/' -e 's/^\( *keep_months:\).*/\1 1/' "$rules" \
        > "$tmp/rules.yaml"
    "$gen" --events 30000 --users 3000 --seed 13 --span-days 420 > "$tmp/long.jsonl"
    "$gamify" replay --quiet --no-sync --rules "$tmp/rules.yaml" --log "jsonl:$tmp/long.jsonl" \
        --state "$tmp/lref"
    want=$(digest "$tmp/lref")
    for mib in 64 1; do
        "$gamify" replay --quiet --no-sync --rules "$tmp/rules.yaml" --hold-mib "$mib" \
            --batch 250 --log "jsonl:$tmp/long.jsonl" --state "$tmp/lh$mib"
        [ "$(digest "$tmp/lh$mib")" = "$want" ] || fail "long log, --hold-mib $mib: another digest"
    done
    echo "held: $interrupted replays killed"
    ;;
*)
    fail "unknown check $check"
    ;;
esac
echo "ok: $check ($ref)"
