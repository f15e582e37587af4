#!/usr/bin/env bash
# The audit commands, end to end:
#   run.sh BUILD_ROOT EXAMPLES_DIR CHECK
# CHECK:
#   what-if       `gamify replay --rules-override`: under the published rules
#                 the diff is empty; under changed rules it equals a plain
#                 replay with the changed rules published first, and differs
#                 from the real state by what the change pays; RulesPublished
#                 events in the log are counted and ignored; the state is
#                 marked (dump, digest) and no processor or plain replay may
#                 continue it
#   ledger        `gamify ledger`: for every learner of a generated log the
#                 entries sum to the dump's exp and coins; windows add up;
#                 partitioned states; diff of a single and a partitioned
#                 state of the same events is empty; all of it beside a
#                 running processor (read-only opens)
#   kafka-replay  `gamify replay --log kafka://`: a topic of 4 partitions
#                 replays to the digest of a processor's state of the same
#                 topic and of per-partition JSON-lines replays; records
#                 appended later are left for the next (resumed) replay;
#                 nothing is committed to the cluster
#   kafka-rules   `gamify rules publish --log kafka://` puts the rules in every
#                 partition: each partition's state switches at its own point
#                 of the log, and the learners equal a single JSON-lines
#                 replay with the rules at the same point
#   kafka-third-party  a topic filled by another client (kcat, with the Java
#                 clients' murmur2 partitioner, values encoded by protoc
#                 from text format) replays to the same digest as the same
#                 events produced by `gamify produce`, and to the same
#                 learners as a JSON-lines replay
# Kafka needs GAMIFY_TEST_KAFKA (skip, or fail with GAMIFY_TEST_REQUIRE_SERVERS=1).
# KEEP_TMP=1 keeps the temporary folder.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=../processor/lib.sh
. "$here/../processor/lib.sh"
build=$1 examples=$2 check=${3:-what-if}
gamify=$build/processor/gamify
proc=$build/processor/gamify-processor
gen=$build/tests/bench/gen_events
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    [ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$tmp"/*.err; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
    done
    exit 1
}
summary() { tail -n 1 "$1"; }
field() { sed -n "s/.*\"$2\":\(-\{0,1\}[0-9]*\).*/\1/p" <<<"$1"; }

# stock is counted per partition: none in the tests' rules
grep -v '^ *stock:' "$examples/rules.yaml" > "$tmp/rules.yaml"

case $check in
what-if)
    "$gen" --events 20000 --users 400 --seed 41 > "$tmp/events.jsonl"
    grep -q rulesPublished "$tmp/events.jsonl" && fail "the generated log should hold no rules"
    # the change to try: level-ups pay twice as much, streak milestones too,
    # and a new badge (appended: file order decides award order)
    awk '/^  level_up_coins:/ { $2 = $2 * 2; print "  " $1 " " $2; next }
         /{ days: [0-9]+, coins: [0-9]+ }/ { match($0, /coins: [0-9]+/); c = substr($0, RSTART + 7, RLENGTH - 7);
           sub(/coins: [0-9]+/, "coins: " c * 2) }
         { print }' "$tmp/rules.yaml" > "$tmp/changed.yaml"
    awk '/^badges:/ { print; print "  - id: audit-new\n    name: Ten duels\n    icon: duel\n    criteria: tournaments_played >= 10"; next } { print }' \
        "$tmp/changed.yaml" > "$tmp/changed2.yaml" && mv "$tmp/changed2.yaml" "$tmp/changed.yaml"
    cmp -s "$tmp/rules.yaml" "$tmp/changed.yaml" && fail "the changed rules are not changed"
    "$gamify" rules check "$tmp/changed.yaml" > /dev/null || fail "the changed rules are invalid"

    "$gamify" replay --log "jsonl:$tmp/events.jsonl" --state "$tmp/real" --rules "$tmp/rules.yaml" --no-sync --quiet 2>/dev/null ||
        fail "the real replay failed"

    # 1. the published rules as the override: nothing differs
    "$gamify" replay --log "jsonl:$tmp/events.jsonl" --state "$tmp/same" --rules-override "$tmp/rules.yaml" \
        --no-sync 2> "$tmp/same.err" || fail "what-if replay failed"
    grep -q "what-if: 0 RulesPublished ignored" "$tmp/same.err" || fail "the summary does not say it is a what-if"
    rc=0
    "$gamify" diff --state "$tmp/real" --state "$tmp/same" > "$tmp/diff-same" || rc=$?
    [ "$rc" = 0 ] || fail "diff under the same rules: exit $rc: $(head -n 3 "$tmp/diff-same")"
    [ "$(wc -l < "$tmp/diff-same")" = 1 ] || fail "diff under the same rules printed learners"
    grep -q '"learnersCompared":400,"learnersChanged":0' "$tmp/diff-same" || fail "summary: $(cat "$tmp/diff-same")"
    # the mark: dump and digest say so, and the digest is not the real one
    "$gamify" dump --state "$tmp/same" --user user-1 2>&1 >/dev/null | grep -q "what-if state" ||
        fail "dump does not say the state is a what-if"
    [ "$("$gamify" digest --state "$tmp/same" 2>/dev/null)" != "$("$gamify" digest --state "$tmp/real")" ] ||
        fail "a what-if state has the digest of the real one"
    "$gamify" digest --state "$tmp/same" 2>&1 >/dev/null | grep -q "what-if" || fail "digest does not say what-if"

    # 2. changed rules: equal to a plain replay with them published first
    "$gamify" replay --log "jsonl:$tmp/events.jsonl" --state "$tmp/whatif" --rules-override "$tmp/changed.yaml" \
        --no-sync --quiet 2>/dev/null || fail "what-if replay under the changed rules failed"
    awk 'BEGIN { RS = "\0" } { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\n/, "\\n");
         printf "{\"eventId\":\"publish-changed\",\"userId\":\"admin\",\"occurredAt\":\"2026-11-01T00:00:00Z\",\"rulesPublished\":{\"rulesYaml\":\"%s\"}}\n", $0 }' \
        "$tmp/changed.yaml" > "$tmp/published.jsonl"
    cat "$tmp/published.jsonl" "$tmp/events.jsonl" > "$tmp/published-first.jsonl"
    "$gamify" replay --log "jsonl:$tmp/published-first.jsonl" --state "$tmp/plain" --no-sync --quiet 2>/dev/null ||
        fail "plain replay with the changed rules published failed"
    rc=0
    "$gamify" diff --state "$tmp/whatif" --state "$tmp/plain" > "$tmp/diff-plain" || rc=$?
    [ "$rc" = 0 ] || fail "what-if vs published-first differ: $(head -n 3 "$tmp/diff-plain")"
    rc=0
    "$gamify" diff --state "$tmp/real" --state "$tmp/whatif" > "$tmp/diff-real" || rc=$?
    [ "$rc" = 1 ] || fail "diff of real and what-if: exit $rc, expected 1"
    s=$(summary "$tmp/diff-real")
    [ "$(field "$s" coinsMoved)" -gt 0 ] || fail "the changed rules moved no coins: $s"
    grep -q '"badgesGained":{"audit-new":' <<<"$s" || fail "the new badge was not gained: $s"
    changed=$(field "$s" learnersChanged)
    [ "$(($(wc -l < "$tmp/diff-real") - 1))" = "$changed" ] || fail "learner lines and learnersChanged disagree"
    # one learner line, checked against the two dumps
    line=$(head -n 1 "$tmp/diff-real")
    user=$(sed -n 's/^{"userId":"\([^"]*\)".*/\1/p' <<<"$line")
    before=$("$gamify" dump --state "$tmp/real" --user "$user" | sed -n 's/.*"coins":\([0-9]*\).*/\1/p')
    after=$("$gamify" dump --state "$tmp/whatif" --user "$user" 2>/dev/null | sed -n 's/.*"coins":\([0-9]*\).*/\1/p')
    if [ "$before" != "$after" ]; then
        grep -q "\"coins\":{\"before\":$before,\"after\":$after}" <<<"$line" || fail "diff line of $user: $line"
    fi
    # --user narrows the comparison to one learner
    rc=0
    "$gamify" diff --state "$tmp/real" --state "$tmp/whatif" --user "$user" > "$tmp/diff-user" || rc=$?
    [ "$rc" = 1 ] && grep -q '"learnersCompared":1,' "$tmp/diff-user" || fail "diff --user: $(cat "$tmp/diff-user")"

    # 3. RulesPublished in the log: counted and ignored
    head -n 7000 "$tmp/events.jsonl" > "$tmp/with-rules.jsonl"
    cat "$tmp/published.jsonl" >> "$tmp/with-rules.jsonl"
    tail -n +7001 "$tmp/events.jsonl" >> "$tmp/with-rules.jsonl"
    "$gamify" replay --log "jsonl:$tmp/with-rules.jsonl" --state "$tmp/ignored" --rules-override "$tmp/rules.yaml" \
        --no-sync 2> "$tmp/ignored.err" || fail "what-if replay of a log with rules failed"
    grep -q "what-if: 1 RulesPublished ignored" "$tmp/ignored.err" || fail "the ignored rules are not counted: $(tail -n 1 "$tmp/ignored.err")"
    "$gamify" diff --state "$tmp/real" --state "$tmp/ignored" > /dev/null ||
        fail "a what-if ignoring published rules differs from the real state without them"

    # 4. nothing continues a what-if state as if it were real
    rc=0
    "$gamify" replay --log "jsonl:$tmp/events.jsonl" --state "$tmp/whatif" --quiet 2> "$tmp/cont.err" || rc=$?
    [ "$rc" = 2 ] && grep -q "is a what-if state" "$tmp/cont.err" || fail "a plain replay continued a what-if state (exit $rc)"
    rc=0
    "$gamify" replay --log "jsonl:$tmp/events.jsonl" --state "$tmp/whatif" --rules-override "$tmp/rules.yaml" --quiet 2> "$tmp/other.err" || rc=$?
    [ "$rc" = 2 ] && grep -q "other rules" "$tmp/other.err" || fail "another override continued a what-if state (exit $rc)"
    rc=0
    "$gamify" replay --log "jsonl:$tmp/events.jsonl" --state "$tmp/real" --rules-override "$tmp/rules.yaml" --quiet 2> "$tmp/real-o.err" || rc=$?
    [ "$rc" = 2 ] && grep -q "fresh state folder" "$tmp/real-o.err" || fail "an override was applied to a real state (exit $rc)"
    mkdir -p "$tmp/log"
    rc=0
    timeout 20 "$proc" --log "file:$tmp/log" --state "$tmp/whatif" 2> "$tmp/proc.err" || rc=$?
    [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "is a what-if state" "$tmp/proc.err" ||
        fail "gamify-processor followed a what-if state (exit $rc)"
    # resuming the same what-if replay is fine (and folds nothing new)
    "$gamify" replay --log "jsonl:$tmp/events.jsonl" --state "$tmp/whatif" --rules-override "$tmp/changed.yaml" \
        --no-sync --quiet 2>/dev/null || fail "resuming the same what-if failed"
    "$gamify" diff --state "$tmp/whatif" --state "$tmp/plain" > /dev/null || fail "the resumed what-if changed"
    # a bad override is reported with its position
    printf 'version: 1\nlevels: [\n' > "$tmp/bad.yaml"
    rc=0
    "$gamify" replay --log "jsonl:$tmp/events.jsonl" --state "$tmp/bad" --rules-override "$tmp/bad.yaml" --quiet 2> "$tmp/bad.err" || rc=$?
    [ "$rc" = 1 ] && grep -q "bad.yaml:[0-9]*:[0-9]*:" "$tmp/bad.err" || fail "a bad override: exit $rc: $(cat "$tmp/bad.err")"
    ;;

ledger)
    "$gen" --events 12000 --users 150 --seed 43 --span-days 60 > "$tmp/events.jsonl"
    mkdir -p "$tmp/log"
    out=$("$gamify" produce --log "file:$tmp/log" "$tmp/events.jsonl" 2>&1) || fail "produce failed: $out"
    end=$(sed -n 's/.*log end offset \([0-9]*\).*/\1/p' <<<"$out")
    [ -n "$end" ] || fail "produce did not say where the log ends: $out"
    mport=$(port)
    "$proc" --log "file:$tmp/log" --state "$tmp/state" --rules "$tmp/rules.yaml" --future-skew-seconds 315360000 \
        --metrics "127.0.0.1:$mport" --idle-wait-ms 100 2> "$tmp/proc.err" &
    pids[0]=$!
    deadline=$((SECONDS + 120))
    until [ "$( (http "$mport" /metrics 2>/dev/null || true) | sed -n 's/^gamify_source_offset //p')" = "$end" ]; do
        kill -0 "${pids[0]}" 2>/dev/null || fail "the processor died"
        [ $SECONDS -lt $deadline ] || fail "the processor did not reach offset $end"
        sleep 0.2
    done
    "$gamify" dump --state "$tmp/state" > "$tmp/dump" || fail "dump beside the processor failed"
    [ "$(wc -l < "$tmp/dump")" = 150 ] || fail "the processor did not fold every learner"
    # every learner: the ledger sums to the dump's exp and coins (the
    # processor still runs: read-only opens beside the writer)
    checked=0
    while IFS= read -r line; do
        user=$(sed -n 's/^{"userId":"\([^"]*\)".*/\1/p' <<<"$line")
        exp=$(sed -n 's/^[^}]*"exp":\([0-9]*\).*/\1/p' <<<"$line")
        coins=$(sed -n 's/^[^}]*"coins":\([0-9]*\).*/\1/p' <<<"$line")
        "$gamify" ledger --state "$tmp/state" --user "$user" > "$tmp/ledger" || fail "ledger of $user: exit $?"
        s=$(summary "$tmp/ledger")
        [ "$(field "$s" expDelta)" = "$exp" ] && [ "$(field "$s" coinsDelta)" = "$coins" ] ||
            fail "ledger of $user sums to $s; dump says exp $exp coins $coins"
        grep -q '"balanced":true' <<<"$s" || fail "ledger of $user not balanced: $s"
        entries=$(field "$s" entries)
        [ "$(($(wc -l < "$tmp/ledger") - 1))" = "$entries" ] || fail "ledger of $user: entry count"
        # the last entry's balances are the learner's
        if [ "$entries" -gt 0 ]; then
            last=$(tail -n 2 "$tmp/ledger" | head -n 1)
            [ "$(field "$last" expAfter)" = "$exp" ] && [ "$(field "$last" coinsAfter)" = "$coins" ] ||
                fail "last ledger entry of $user: $last"
        fi
        checked=$((checked + 1))
    done < "$tmp/dump"
    [ "$checked" = 150 ] || fail "checked $checked learners"
    # windows add up: [start, mid) + [mid, end) = all
    user=$(sed -n '1s/^{"userId":"\([^"]*\)".*/\1/p' "$tmp/dump")
    "$gamify" ledger --state "$tmp/state" --user "$user" > "$tmp/all"
    "$gamify" ledger --state "$tmp/state" --user "$user" --until 2026-11-20T00:00:00Z > "$tmp/first"
    "$gamify" ledger --state "$tmp/state" --user "$user" --since 2026-11-20T00:00:00Z > "$tmp/second"
    a=$(field "$(summary "$tmp/all")" coinsDelta)
    b=$(field "$(summary "$tmp/first")" coinsDelta)
    c=$(field "$(summary "$tmp/second")" coinsDelta)
    [ "$((b + c))" = "$a" ] || fail "ledger windows: $b + $c != $a"
    [ "$(field "$(summary "$tmp/first")" entries)" -gt 0 ] && [ "$(field "$(summary "$tmp/second")" entries)" -gt 0 ] ||
        fail "a ledger window is empty (the test's dates)"
    grep -q '"balanced":null' "$tmp/first" || fail "a window claims to balance"
    rc=0
    "$gamify" ledger --state "$tmp/state" --user nobody-here > /dev/null 2> "$tmp/nobody.err" || rc=$?
    [ "$rc" = 1 ] && grep -q "no learner nobody-here" "$tmp/nobody.err" || fail "ledger of an unknown learner: exit $rc"
    rc=0
    "$gamify" ledger --state "$tmp/state" --user "$user" --since yesterday > /dev/null 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "a bad --since: exit $rc"

    # a partitioned state of the same events (learners split in two by
    # their id's last character): diff against the single state is empty,
    # and the ledger finds each learner in its partition
    awk -v dir="$tmp" '{ match($0, /"userId":"[^"]*"/); u = substr($0, RSTART, RLENGTH);
         c = substr(u, length(u) - 1, 1); p = (index("02468", c) > 0) ? 0 : 1;
         print > (dir "/p" p ".jsonl") }' "$tmp/events.jsonl"
    mkdir -p "$tmp/parted"
    for p in 0 1; do
        "$gamify" replay --log "jsonl:$tmp/p$p.jsonl" --state "$tmp/parted/partition-$p" --rules "$tmp/rules.yaml" \
            --no-sync --quiet 2>/dev/null || fail "replay of partition $p failed"
    done
    rc=0
    "$gamify" diff --state "$tmp/state" --state "$tmp/parted" > "$tmp/diff-parted" || rc=$?
    # Per-partition replays see a different newest event time per part, so
    # the dedupe window and periods can differ; this log keeps within them.
    [ "$rc" = 0 ] || fail "single vs partitioned: exit $rc: $(head -n 2 "$tmp/diff-parted")"
    grep -q '"learnersCompared":150,"learnersChanged":0' "$tmp/diff-parted" || fail "$(cat "$tmp/diff-parted")"
    "$gamify" ledger --state "$tmp/parted" --user "$user" > "$tmp/parted-ledger" || fail "ledger in a partitioned state"
    cmp -s <(tail -n 1 "$tmp/all") <(tail -n 1 "$tmp/parted-ledger") || fail "partitioned ledger sums differ"
    # a learner changed in one state only is found, and the exit is 1
    kill -TERM "${pids[0]}"
    wait "${pids[0]}" || fail "the processor did not stop cleanly"
    pids[0]=
    printf '{"eventId":"audit-adj","userId":"%s","occurredAt":"2026-12-30T00:00:00Z","adjustment":{"exp":5,"coins":7,"reason":"audit test"}}\n' "$user" > "$tmp/adj.jsonl"
    "$gamify" produce --log "file:$tmp/log" "$tmp/adj.jsonl" > /dev/null 2>&1
    "$gamify" replay --log "file:$tmp/log" --state "$tmp/state" --future-skew-seconds 315360000 --quiet 2>/dev/null ||
        fail "resuming the state failed"
    rc=0
    "$gamify" diff --state "$tmp/parted" --state "$tmp/state" > "$tmp/diff-one" || rc=$?
    [ "$rc" = 1 ] || fail "diff after an adjustment: exit $rc"
    s=$(summary "$tmp/diff-one")
    [ "$(field "$s" learnersChanged)" = 1 ] && [ "$(field "$s" coinsMoved)" = 7 ] && [ "$(field "$s" expMoved)" = 5 ] ||
        fail "diff after an adjustment: $s"
    ;;

kafka-replay)
    if [ -z "${GAMIFY_TEST_KAFKA:-}" ]; then
        if [ "${GAMIFY_TEST_REQUIRE_SERVERS:-0}" = 1 ]; then
            echo "FAIL: GAMIFY_TEST_KAFKA is not set" >&2
            exit 1
        fi
        echo "skip: GAMIFY_TEST_KAFKA is not set"
        exit 77
    fi
    topic="gamify-audit-$$-$RANDOM$RANDOM"
    log="kafka://$GAMIFY_TEST_KAFKA/$topic"
    # dated before now, so that no event is later than its append time
    "$gen" --events 16000 --users 400 --seed 47 --start 1790000000 --rules-every 5000 > "$tmp/all.jsonl"
    head -n 12000 "$tmp/all.jsonl" > "$tmp/first.jsonl"
    tail -n +12001 "$tmp/all.jsonl" > "$tmp/later.jsonl"
    out=$("$gamify" produce --log "$log" "$tmp/first.jsonl" 2>&1) || fail "produce: $out"

    # the processor's state of the same topic (its own consumer group)
    mport=$(port)
    "$proc" --log "$log" --state "$tmp/proc" --rules "$tmp/rules.yaml" --group "g-$topic" \
        --metrics "127.0.0.1:$mport" --sync=false 2> "$tmp/proc.err" &
    pids[0]=$!
    deadline=$((SECONDS + 120))
    until [ "$( (http "$mport" /metrics 2>/dev/null || true) | sed -n 's/^gamify_source_offset //p')" = 12000 ]; do
        kill -0 "${pids[0]}" 2>/dev/null || fail "the processor died"
        [ $SECONDS -lt $deadline ] || fail "the processor did not reach offset 12000"
        sleep 0.2
    done

    # the audit replay, beside the running processor
    "$gamify" replay --log "$log" --state "$tmp/replay" --rules "$tmp/rules.yaml" --no-sync 2> "$tmp/replay.err" ||
        fail "kafka replay failed"
    grep -q "replay: done: 12000 records of 4 partitions in .*, 4 batches: " "$tmp/replay.err" ||
        fail "replay summary (one batch per partition): $(tail -n 1 "$tmp/replay.err")"
    [ "$(ls -d "$tmp/replay"/partition-* | wc -l)" = 4 ] || fail "the replay did not make 4 partition states"
    # --batch-mib is shared by the partitions' open batches: 1 MiB over 4
    # ends each partition's 3,000 or so records (about 0.5 MiB of copies)
    # in 2 to 4 batches; the same state
    "$gamify" replay --log "$log" --state "$tmp/replay-mib" --rules "$tmp/rules.yaml" --no-sync \
        --batch-mib 1 2> "$tmp/replay-mib.err" || fail "kafka replay --batch-mib 1 failed"
    nb=$(sed -n 's/^replay: done: 12000 records of 4 partitions in .*, \([0-9]*\) batches: .*/\1/p' "$tmp/replay-mib.err")
    [ -n "$nb" ] && [ "$nb" -ge 8 ] && [ "$nb" -le 16 ] ||
        fail "--batch-mib 1 over 4 partitions: '$nb' batches, not 8 to 16 ($(tail -n 1 "$tmp/replay-mib.err"))"
    [ "$("$gamify" digest --state "$tmp/replay-mib")" = "$("$gamify" digest --state "$tmp/replay")" ] ||
        fail "the kafka replay in smaller batches folded another state"
    kill -TERM "${pids[0]}"
    wait "${pids[0]}" || fail "the processor did not stop cleanly"
    pids[0]=
    d_proc=$("$gamify" digest --state "$tmp/proc")
    d_replay=$("$gamify" digest --state "$tmp/replay")
    [ "$d_proc" = "$d_replay" ] || fail "kafka replay digest $d_replay != processor $d_proc"

    # per-partition JSON-lines replays of the same events: the partition of
    # each learner is where the processor holds it
    for d in "$tmp/replay"/partition-*; do
        n=${d##*-}
        "$gamify" dump --state "$d" | sed -n 's/^{"userId":"\([^"]*\)".*/\1/p' > "$tmp/users-$n"
    done
    awk -v dir="$tmp" 'FNR == 1 { f++ }
        f <= 4 { part[$0] = substr(FILENAME, length(dir "/users-") + 1); next }
        { match($0, /"userId":"[^"]*"/); u = substr($0, RSTART + 10, RLENGTH - 11);
          p = (u in part) ? part[u] : "none"; print > (dir "/jsonl-" p ".jsonl") }' \
        "$tmp"/users-0 "$tmp"/users-1 "$tmp"/users-2 "$tmp"/users-3 "$tmp/first.jsonl"
    # RulesPublished events of the admin user went to its partition; an
    # admin that holds no learner line shows up as "none": those go to the
    # partition the processor would give it, found by trying each
    [ -f "$tmp/jsonl-none.jsonl" ] && fail "events of learners the replay does not hold: $(head -c 200 "$tmp/jsonl-none.jsonl")"
    mkdir -p "$tmp/jl"
    for n in 0 1 2 3; do
        [ -f "$tmp/jsonl-$n.jsonl" ] || : > "$tmp/jsonl-$n.jsonl"
        "$gamify" replay --log "jsonl:$tmp/jsonl-$n.jsonl" --state "$tmp/jl/partition-$n" --rules "$tmp/rules.yaml" \
            --no-sync --quiet 2>/dev/null || fail "jsonl replay of partition $n failed"
    done
    d_jl=$("$gamify" digest --state "$tmp/jl")
    [ "$d_jl" = "$d_replay" ] || fail "per-partition JSON-lines digest $d_jl != kafka replay $d_replay"

    # records appended after a replay are for the next one, which resumes
    out=$("$gamify" produce --log "$log" "$tmp/later.jsonl" 2>&1) || fail "produce: $out"
    "$gamify" replay --log "$log" --state "$tmp/replay" --no-sync 2> "$tmp/replay2.err" || fail "resumed kafka replay failed"
    grep -q "replay: done: 4000 records of 4 partitions" "$tmp/replay2.err" || fail "resumed replay: $(tail -n 1 "$tmp/replay2.err")"
    "$gamify" replay --log "$log" --state "$tmp/fresh" --rules "$tmp/rules.yaml" --no-sync --quiet 2>/dev/null ||
        fail "fresh kafka replay failed"
    [ "$("$gamify" digest --state "$tmp/fresh")" = "$("$gamify" digest --state "$tmp/replay")" ] ||
        fail "a resumed replay differs from a fresh one"
    # a what-if of a topic: every partition marked, diff against the real one empty under the same rules
    awk '/^  level_up_coins:/ { print "  level_up_coins: " $2 * 2; next } { print }' "$tmp/rules.yaml" > "$tmp/double.yaml"
    "$gamify" replay --log "$log" --state "$tmp/whatif" --rules-override "$tmp/double.yaml" --no-sync 2> "$tmp/whatif.err" ||
        fail "kafka what-if failed"
    # the generated rules events are all invalid: a what-if folds them as the
    # real replays did, RULES_INVALID dead letters (3, beside the 2
    # adjustments below zero), none of them ignored
    grep -q "done: 16000 records of 4 partitions.* 5 dead letters.*what-if: 0 RulesPublished ignored" "$tmp/whatif.err" ||
        fail "what-if summary: $(tail -n 1 "$tmp/whatif.err")"
    [ "$(grep -c 'RULES_INVALID' "$tmp/whatif.err")" = 3 ] || fail "the what-if did not dead-letter the 3 invalid rules"
    [ "$(grep -c '^replay: partition .*(what-if' "$tmp/whatif.err")" = 4 ] || fail "not every partition is a what-if"
    rc=0
    "$gamify" diff --state "$tmp/fresh" --state "$tmp/whatif" > /dev/null || rc=$?
    [ "$rc" = 1 ] || fail "what-if of a topic with rules changes: diff exit $rc"
    # a missing topic is an error, not a hang
    rc=0
    timeout 60 "$gamify" replay --log "kafka://$GAMIFY_TEST_KAFKA/no-such-topic-$$" --state "$tmp/none" 2> "$tmp/none.err" || rc=$?
    [ "$rc" = 2 ] || [ "$rc" = 0 ] || fail "replay of a missing topic: exit $rc: $(cat "$tmp/none.err")"
    ;;
kafka-rules)
    if [ -z "${GAMIFY_TEST_KAFKA:-}" ]; then
        if [ "${GAMIFY_TEST_REQUIRE_SERVERS:-0}" = 1 ]; then
            echo "FAIL: GAMIFY_TEST_KAFKA is not set" >&2
            exit 1
        fi
        echo "skip: GAMIFY_TEST_KAFKA is not set"
        exit 77
    fi
    topic="gamify-rules-$$-$RANDOM"
    log="kafka://$GAMIFY_TEST_KAFKA/$topic"
    "$gen" --events 6000 --users 200 --seed 53 --start 1790000000 > "$tmp/all.jsonl"
    head -n 3000 "$tmp/all.jsonl" > "$tmp/first.jsonl"
    tail -n +3001 "$tmp/all.jsonl" > "$tmp/later.jsonl"
    awk '/^  level_up_coins:/ { print "  level_up_coins: " $2 * 3; next } { print }' "$tmp/rules.yaml" > "$tmp/new.yaml"
    out=$("$gamify" produce --log "$log" "$tmp/first.jsonl" 2>&1) || fail "produce: $out"
    out=$("$gamify" rules publish --log "$log" --user ops --at 2026-09-22T00:00:00Z "$tmp/new.yaml" 2>&1) ||
        fail "rules publish to kafka: $out"
    grep -q "to every partition of $log" <<<"$out" || fail "rules publish said: $out"
    out=$("$gamify" produce --log "$log" "$tmp/later.jsonl" 2>&1) || fail "produce: $out"
    "$gamify" replay --log "$log" --state "$tmp/k" --rules "$tmp/rules.yaml" --no-sync 2> "$tmp/k.err" ||
        fail "kafka replay failed"
    [ "$(grep -c '^replay: partition [0-9]*: .* 1 rules published' "$tmp/k.err")" = 4 ] ||
        fail "not every partition took the rules: $(grep '^replay: partition' "$tmp/k.err")"
    # the same point in a single JSON-lines log
    cat "$tmp/first.jsonl" > "$tmp/single.jsonl"
    awk 'BEGIN { RS = "\0" } { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\n/, "\\n");
         printf "{\"eventId\":\"publish-new\",\"userId\":\"ops\",\"occurredAt\":\"2026-09-22T00:00:00Z\",\"rulesPublished\":{\"rulesYaml\":\"%s\"}}\n", $0 }' \
        "$tmp/new.yaml" >> "$tmp/single.jsonl"
    cat "$tmp/later.jsonl" >> "$tmp/single.jsonl"
    "$gamify" replay --log "jsonl:$tmp/single.jsonl" --state "$tmp/s" --rules "$tmp/rules.yaml" --no-sync --quiet 2>/dev/null ||
        fail "single replay failed"
    "$gamify" diff --state "$tmp/s" --state "$tmp/k" > "$tmp/diff" || fail "kafka vs single: $(head -n 2 "$tmp/diff")"
    # and the new rules did change something
    "$gamify" replay --log "jsonl:$tmp/all.jsonl" --state "$tmp/old" --rules "$tmp/rules.yaml" --no-sync --quiet 2>/dev/null
    rc=0
    "$gamify" diff --state "$tmp/old" --state "$tmp/k" > /dev/null || rc=$?
    [ "$rc" = 1 ] || fail "the published rules changed nothing"
    ;;
kafka-third-party)
    if [ -z "${GAMIFY_TEST_KAFKA:-}" ]; then
        if [ "${GAMIFY_TEST_REQUIRE_SERVERS:-0}" = 1 ]; then
            echo "FAIL: GAMIFY_TEST_KAFKA is not set" >&2
            exit 1
        fi
        echo "skip: GAMIFY_TEST_KAFKA is not set"
        exit 77
    fi
    command -v kcat >/dev/null || fail "kcat is not installed (deploy/local/packages.txt)"
    command -v protoc >/dev/null || fail "protoc is not installed"
    proto=$(cd "$here/../../proto" && pwd)
    # 120 lessons of 12 learners over 5 days, as JSON lines and as protobuf
    # text format, one file per event
    mkdir -p "$tmp/bin"
    awk -v dir="$tmp" 'BEGIN {
        for (i = 1; i <= 120; i++) {
            u = "tp-" (i * 7 % 12); t = 1790000000 + i * 3600; l = "l-" (i % 40);
            printf "{\"eventId\":\"tp-%d\",\"userId\":\"%s\",\"occurredAt\":\"%s\",\"source\":\"kcat\",\"groupIds\":[\"class-%d\"],\"lessonCompleted\":{\"lessonId\":\"%s\",\"courseId\":\"c1\",\"score\":%d,\"durationS\":300}}\n", \
                i, u, strftime("%Y-%m-%dT%H:%M:%SZ", t, 1), i % 3, l, 50 + i % 51 > (dir "/tp.jsonl")
            printf "event_id: \"tp-%d\" user_id: \"%s\" occurred_at { seconds: %d } source: \"kcat\" group_ids: \"class-%d\" lesson_completed { lesson_id: \"%s\" course_id: \"c1\" score: %d duration_s: 300 }\n", \
                i, u, t, i % 3, l, 50 + i % 51 > (dir "/bin/" sprintf("%04d", i) "." u ".txt")
        }
    }'
    for f in "$tmp"/bin/*.txt; do
        protoc -I "$proto" -I /usr/include --encode=gamification.v1.Event gamification/v1/event.proto \
            < "$f" > "${f%.txt}.pb" || fail "protoc could not encode $f"
    done
    topic_k="gamify-kcat-$$-$RANDOM"
    topic_g="gamify-gprod-$$-$RANDOM"
    # one kcat run per event (keyed by its learner), in log order: the order
    # of a partition's records is part of what the digest covers
    for f in "$tmp"/bin/*.pb; do
        u=${f##*/}
        u=${u#*.}
        u=${u%.pb}
        kcat -P -b "$GAMIFY_TEST_KAFKA" -t "$topic_k" -k "$u" -X partitioner=murmur2_random \
            "$f" 2> "$tmp/kcat.err" || fail "kcat failed: $(cat "$tmp/kcat.err")"
    done
    out=$("$gamify" produce --log "kafka://$GAMIFY_TEST_KAFKA/$topic_g" "$tmp/tp.jsonl" 2>&1) || fail "produce: $out"
    "$gamify" replay --log "kafka://$GAMIFY_TEST_KAFKA/$topic_k" --state "$tmp/k" --rules "$tmp/rules.yaml" \
        --no-sync 2> "$tmp/k.err" || fail "replay of the kcat topic failed"
    grep -q "replay: done: 120 records of 4 partitions" "$tmp/k.err" || fail "kcat topic replay: $(tail -n 1 "$tmp/k.err")"
    grep -q " 0 dead letters" "$tmp/k.err" || fail "records of the kcat topic did not decode: $(tail -n 1 "$tmp/k.err")"
    "$gamify" replay --log "kafka://$GAMIFY_TEST_KAFKA/$topic_g" --state "$tmp/g" --rules "$tmp/rules.yaml" \
        --no-sync --quiet 2>/dev/null || fail "replay of the gamify-produced topic failed"
    # same partitions, same states
    [ "$("$gamify" digest --state "$tmp/k")" = "$("$gamify" digest --state "$tmp/g")" ] ||
        fail "the kcat topic and the gamify topic replay to different states (partitioning?)"
    "$gamify" replay --log "jsonl:$tmp/tp.jsonl" --state "$tmp/j" --rules "$tmp/rules.yaml" --no-sync --quiet 2>/dev/null ||
        fail "jsonl replay failed"
    "$gamify" diff --state "$tmp/j" --state "$tmp/k" > "$tmp/diff" || fail "kcat topic vs JSON lines: $(head -n 2 "$tmp/diff")"
    grep -q '"learnersCompared":12,"learnersChanged":0' "$tmp/diff" || fail "$(cat "$tmp/diff")"
    ;;
*)
    fail "unknown check $check"
    ;;
esac
echo "ok: $check"
