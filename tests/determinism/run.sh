#!/usr/bin/env bash
# Determinism of the fold (DESIGN section 3): the same log always gives the
# same state digest, however it is delivered and interrupted.
#   run.sh GAMIFY GEN_EVENTS RULES CHECK
# CHECK is one of: twice, formats, halves, doubled, kill9.
set -euo pipefail
gamify=$1 gen=$2 rules=$3 check=$4
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
*)
    fail "unknown check $check"
    ;;
esac
echo "ok: $check ($ref)"
