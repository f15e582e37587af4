#!/usr/bin/env bash
# Command-line behaviour that the scenarios do not cover:
#   run.sh GAMIFY EXAMPLES_DIR CHECK    (CHECK: out, no-feed, jsonl-tail, publish, future,
#                                        batch-mib, postgres;
#                                        EXAMPLES_DIR: examples/)
# postgres needs the server of tests/run (GAMIFY_TEST_PG); without it, it
# skips (exit 77) unless GAMIFY_TEST_REQUIRE_SERVERS=1.
set -euo pipefail
gamify=$1 examples=$2 check=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

case $check in
out)
    # the outbound events of examples/events.jsonl, each written once, in log
    # order and, within an event, in fold order (streak, level, badges;
    # redeemed or rejected, then badges); worked by hand in
    # tests/scenarios/README.md (scenario `examples`)
    "$gamify" replay --quiet --log "jsonl:$examples/events.jsonl" --state "$tmp/st" \
        --rules "$examples/rules.yaml" --out "jsonl:$tmp/out.jsonl"
    ids=$(sed 's/^{"eventId":"\([^"]*\)".*/\1/' "$tmp/out.jsonl" | tr '\n' ' ')
    want="cs-0001:streak cs-0002:streak cs-0002:badge:hello-world cs-0004:streak "
    want+="cs-0004:badge:duelist cs-0006:streak cs-0009:rejected cs-0010:streak "
    want+="cs-0010:level:2 cs-0011:streak cs-0011:level:2 cs-0011:badge:unbeaten "
    want+="cs-0012:streak cs-0012:badge:hello-world cs-0013:badge:hello-world cs-0014:streak "
    want+="cs-0015:badge:bug-hunter cs-0016:level:3 cs-0018:streak cs-0018:level:3 "
    want+="cs-0019:redeemed cs-0020:streak cs-0020:badge:five-day-flow cs-0021:redeemed "
    want+="cs-0022:redeemed cs-0022:badge:supporter cs-0022:badge:all-rounder cs-0023:streak "
    want+="cs-0024:level:2 cs-0025:rejected cs-0026:rejected cs-0027:redeemed "
    want+="cs-0028:rejected cs-0030:redeemed cs-0031:streak "
    [ "$ids" = "$want" ] || fail "outbound ids: got '$ids'"
    grep -q '"redemptionRejected":{"redemptionId":"lea-r1","rewardId":"dark-theme","reason":"INSUFFICIENT_COINS"}' \
        "$tmp/out.jsonl" || fail "rejection not published"
    grep -q '"eventId":"cs-0031:streak".*"streakUpdated":{"currentStreak":6,"longestStreak":6,"freezesUsed":1}' \
        "$tmp/out.jsonl" || fail "the streak shield's use not published"
    "$gamify" replay --quiet --log "jsonl:$examples/events.jsonl" --state "$tmp/st" \
        --out "jsonl:$tmp/out.jsonl"
    [ "$(wc -l < "$tmp/out.jsonl")" = 35 ] || fail "a resumed replay wrote outbound events again"
    # to a file log: the same count of records
    "$gamify" replay --quiet --log "jsonl:$examples/events.jsonl" --state "$tmp/st2" \
        --rules "$examples/rules.yaml" --out "file:$tmp/outlog"
    [ -n "$(ls "$tmp/outlog"/*.seg)" ] || fail "no outbound file log"
    ;;
batch-mib)
    # replay --batch-mib ends a batch once the records it holds for a retry
    # reach the bound, whatever --batch says; the state is the same as with
    # one batch. 12,000 lessons of about 150 bytes each hold over 2 MiB.
    awk 'BEGIN { for (i = 0; i < 12000; i++)
        printf "{\"eventId\":\"bm-%05d\",\"userId\":\"user-%03d\",\"occurredAt\":\"2026-11-02T%02d:%02d:00Z\",\"lessonCompleted\":{\"lessonId\":\"lesson-%05d\",\"score\":80}}\n", i, i % 300, 8 + int(i / 1200), int(i / 20) % 60, i }' \
        > "$tmp/log.jsonl"
    "$gamify" replay --log "jsonl:$tmp/log.jsonl" --state "$tmp/one" --rules "$examples/rules.yaml" \
        2>"$tmp/one.err" || fail "replay: $(cat "$tmp/one.err")"
    "$gamify" replay --log "jsonl:$tmp/log.jsonl" --state "$tmp/many" --rules "$examples/rules.yaml" \
        --batch 1000000 --batch-mib 1 2>"$tmp/many.err" || fail "replay --batch-mib: $(cat "$tmp/many.err")"
    one=$(sed -n 's/^replay: done: 12000 records in .*, \([0-9]*\) batches: .*/\1/p' "$tmp/one.err")
    many=$(sed -n 's/^replay: done: 12000 records in .*, \([0-9]*\) batches: .*/\1/p' "$tmp/many.err")
    [ "$one" = 1 ] || fail "12,000 records under the default bounds: '$one' batches ($(tail -n 1 "$tmp/one.err"))"
    [ -n "$many" ] && [ "$many" -ge 2 ] && [ "$many" -le 4 ] ||
        fail "--batch-mib 1: '$many' batches, not 2 to 4 ($(tail -n 1 "$tmp/many.err"))"
    [ "$("$gamify" digest --state "$tmp/one")" = "$("$gamify" digest --state "$tmp/many")" ] ||
        fail "the batches folded another state"
    "$gamify" replay --log "jsonl:$tmp/log.jsonl" --state "$tmp/bad" --batch-mib 0 2>"$tmp/bad.err" &&
        fail "--batch-mib 0 was taken"
    grep -q 'batch-mib' "$tmp/bad.err" || fail "--batch-mib 0: $(cat "$tmp/bad.err")"
    ;;
no-feed)
    # replay --no-feed keeps no change feed, writes the same outbound events
    # and folds the same state; an output added afterwards is refused
    # (its events are gone with the feed), and a replay without it keeps
    # the whole feed
    "$gamify" replay --quiet --log "jsonl:$examples/events.jsonl" --state "$tmp/kept" \
        --rules "$examples/rules.yaml" --out "jsonl:$tmp/kept.jsonl"
    "$gamify" replay --quiet --log "jsonl:$examples/events.jsonl" --state "$tmp/nofeed" \
        --rules "$examples/rules.yaml" --out "jsonl:$tmp/nofeed.jsonl" --no-feed --batch 7
    cmp -s "$tmp/kept.jsonl" "$tmp/nofeed.jsonl" || fail "--no-feed wrote other outbound events"
    [ "$("$gamify" digest --state "$tmp/kept")" = "$("$gamify" digest --state "$tmp/nofeed")" ] ||
        fail "--no-feed folded another state"
    if command -v mdb_stat >/dev/null; then
        [ "$(mdb_stat -s changes "$tmp/nofeed" | sed -n 's/.*Entries: //p')" = 0 ] ||
            fail "--no-feed left changes: $(mdb_stat -s changes "$tmp/nofeed")"
        [ "$(mdb_stat -s changes "$tmp/kept" | sed -n 's/.*Entries: //p')" -gt 20 ] ||
            fail "a replay without --no-feed did not keep its feed"
    fi
    rc=0
    "$gamify" replay --quiet --log "jsonl:$examples/events.jsonl" --state "$tmp/nofeed" \
        --out "jsonl:$tmp/late.jsonl" 2>"$tmp/late.err" || rc=$?
    [ "$rc" != 0 ] || fail "an output added to a trimmed feed was accepted"
    grep -q "trimmed" "$tmp/late.err" || fail "the refusal does not say why: $(cat "$tmp/late.err")"
    ;;
jsonl-tail)
    # a jsonl: log that grows while it is replayed: its last line may still
    # be being written. A replay stopped there and resumed once the log grew
    # must equal one replay of the whole (docs/operations.md, JSON lines).
    ev="$examples/events.jsonl"
    n=$(wc -l < "$ev")
    "$gamify" replay --quiet --log "jsonl:$ev" --state "$tmp/whole" --rules "$examples/rules.yaml"
    want=$("$gamify" digest --state "$tmp/whole")
    # 1. cut inside a line: the torn line is no record yet (no DECODE), then
    #    the log grows and the resumed replay reads it whole
    head -n 10 "$ev" > "$tmp/g1.jsonl"
    sed -n 11p "$ev" | head -c 40 >> "$tmp/g1.jsonl"
    "$gamify" replay --quiet --log "jsonl:$tmp/g1.jsonl" --state "$tmp/s1" \
        --rules "$examples/rules.yaml" 2>"$tmp/g1.err"
    [ -z "$("$gamify" dlq list --state "$tmp/s1")" ] || fail "a torn last line was a dead letter"
    grep -q "no newline" "$tmp/g1.err" || fail "the unread torn line was not reported: $(cat "$tmp/g1.err")"
    cp "$ev" "$tmp/g1.jsonl"
    "$gamify" replay --quiet --log "jsonl:$tmp/g1.jsonl" --state "$tmp/s1" ||
        fail "the replay did not resume after a torn line"
    [ "$("$gamify" digest --state "$tmp/s1")" = "$want" ] || fail "resumed after a torn line: other digest"
    # 2. a last line that is whole but has no newline yet is read; the
    #    replay resumes once the newline and more lines come
    head -n 10 "$ev" > "$tmp/g2.jsonl"
    sed -n 11p "$ev" | tr -d '\n' >> "$tmp/g2.jsonl"
    "$gamify" replay --quiet --log "jsonl:$tmp/g2.jsonl" --state "$tmp/s2" --rules "$examples/rules.yaml"
    "$gamify" replay --quiet --log "jsonl:$tmp/g2.jsonl" --state "$tmp/s2" ||
        fail "a replay of an unchanged log ending without a newline did not resume"
    cp "$ev" "$tmp/g2.jsonl"
    "$gamify" replay --quiet --log "jsonl:$tmp/g2.jsonl" --state "$tmp/s2" ||
        fail "the replay did not resume after a last line without a newline"
    [ "$("$gamify" digest --state "$tmp/s2")" = "$want" ] || fail "resumed after an unended line: other digest"
    # 3. a broken last line waits for its newline, then is a DECODE dead letter
    head -n 10 "$ev" > "$tmp/g3.jsonl"
    printf '{"eventId":"broken",' >> "$tmp/g3.jsonl"
    "$gamify" replay --quiet --log "jsonl:$tmp/g3.jsonl" --state "$tmp/s3" \
        --rules "$examples/rules.yaml" 2>/dev/null
    [ -z "$("$gamify" dlq list --state "$tmp/s3")" ] || fail "an unended broken line was a dead letter"
    printf '\n' >> "$tmp/g3.jsonl"
    sed -n "11,${n}p" "$ev" >> "$tmp/g3.jsonl"
    "$gamify" replay --quiet --log "jsonl:$tmp/g3.jsonl" --state "$tmp/s3" 2>/dev/null
    "$gamify" dlq list --state "$tmp/s3" | grep -q '"reason":"DECODE"' ||
        fail "the ended broken line is no DECODE dead letter"
    [ "$("$gamify" digest --state "$tmp/s3")" = "$want" ] || fail "after a broken line: other digest"
    ;;
publish)
    head -n 3 "$examples/events.jsonl" > "$tmp/a.jsonl"
    printf '%s\n' '{"eventId":"later","userId":"u-cy","occurredAt":"2026-11-24T10:00:00Z","lessonCompleted":{"lessonId":"x"}}' > "$tmp/b.jsonl"
    "$gamify" produce --log "file:$tmp/log" "$tmp/a.jsonl" 2>/dev/null
    # the exercise's base exp, 15 in the example, becomes 70
    sed 's/^    exp: 15$/    exp: 70/' "$examples/rules.yaml" > "$tmp/rules2.yaml"
    grep -q '    exp: 70' "$tmp/rules2.yaml" || fail "could not derive the second rules file"
    printf 'version: 2\n' > "$tmp/bad.yaml"
    if "$gamify" rules publish --log "file:$tmp/log" "$tmp/bad.yaml" 2>/dev/null; then
        fail "bad rules were published"
    fi
    "$gamify" rules publish --log "file:$tmp/log" --user ops --comment "more exp" \
        --at 2026-11-24T00:00:00Z "$tmp/rules2.yaml" > "$tmp/pub.txt"
    grep -q '^published .* as event rules-[0-9a-f]*-1795478400 by ops at offset ' "$tmp/pub.txt" ||
        fail "publish said: $(cat "$tmp/pub.txt")"
    "$gamify" produce --log "file:$tmp/log" "$tmp/b.jsonl" 2>/dev/null
    "$gamify" replay --log "file:$tmp/log" --state "$tmp/st" --rules "$examples/rules.yaml" \
        2> "$tmp/replay.txt"
    grep -q ', 1 rules published;' "$tmp/replay.txt" || fail "$(cat "$tmp/replay.txt")"
    # before the publication: ana's first two exercises, 23 (15, + 5 for a
    # perfect score, + 20% of 15 for a quick one) and 15; after it: 70
    "$gamify" dump --state "$tmp/st" --user ana | grep -q '"exp":38,' || fail "ana changed"
    "$gamify" dump --state "$tmp/st" --user u-cy | grep -q '"exp":70,' || fail "new rules not applied"
    if "$gamify" dump --state "$tmp/st" --user ops >/dev/null 2>&1; then
        fail "the publisher became a learner"
    fi
    ;;
future)
    # The file log records when each record was appended: an event dated far
    # past that is a TOO_FAR_AHEAD dead letter and never moves time forward,
    # so a later event of today still folds.
    {
        printf '%s\n' '{"eventId":"far","userId":"u-fa","occurredAt":"2199-01-01T00:00:00Z","lessonCompleted":{"lessonId":"x"}}'
        printf '%s\n' '{"eventId":"now","userId":"u-fa","occurredAt":"2026-11-25T10:00:00Z","lessonCompleted":{"lessonId":"y"}}'
    } > "$tmp/ev.jsonl"
    "$gamify" produce --log "file:$tmp/log" "$tmp/ev.jsonl" 2>/dev/null
    "$gamify" replay --quiet --log "file:$tmp/log" --state "$tmp/st" --rules "$examples/rules.yaml"
    dlq=$("$gamify" dlq list --state "$tmp/st")
    [ "$(wc -l <<<"$dlq")" = 1 ] || fail "one dead letter expected: $dlq"
    grep -q '"reason":"TOO_FAR_AHEAD"' <<<"$dlq" || fail "not TOO_FAR_AHEAD: $dlq"
    grep -q '"eventId":"far"' <<<"$dlq" || fail "not the far event: $dlq"
    "$gamify" dump --state "$tmp/st" --user u-fa | grep -q '"lessonsCompleted":1,' ||
        fail "the later event did not fold: $("$gamify" dump --state "$tmp/st" --user u-fa)"
    # JSON lines carry no append time: nothing to check against.
    "$gamify" replay --quiet --log "jsonl:$tmp/ev.jsonl" --state "$tmp/js" \
        --rules "$examples/rules.yaml"
    if "$gamify" dlq list --state "$tmp/js" | grep -q TOO_FAR_AHEAD; then
        fail "jsonl: records have no append time to check against"
    fi
    ;;
postgres)
    # gamify migrate / project on their own database: migrate twice, a
    # partitioned state (two partitions into one database), --follow beside
    # a replay, SIGTERM
    if [ -z "${GAMIFY_TEST_PG:-}" ]; then
        [ "${GAMIFY_TEST_REQUIRE_SERVERS:-}" = 1 ] && fail "GAMIFY_TEST_PG is not set"
        echo "skip: GAMIFY_TEST_PG is not set"
        exit 77
    fi
    db=gm_cli_$$_$(date +%s%N)
    psql -qX "$GAMIFY_TEST_PG" -c "CREATE DATABASE $db" >/dev/null
    trap 'psql -qX "$GAMIFY_TEST_PG" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; rm -rf "$tmp"' EXIT
    pg="$GAMIFY_TEST_PG dbname=$db"
    sql() { psql -qXAt "$pg" -c "$1"; }
    "$gamify" migrate --help | grep -q 'migrate --postgres CONNINFO' || fail "migrate --help"
    "$gamify" project --help | grep -q -- '--follow' || fail "project --help"
    "$gamify" migrate --postgres "$pg" | grep -q 'schema at version 5 (5 migrations applied)' || fail "first migrate"
    GAMIFY_POSTGRES="$pg" "$gamify" migrate | grep -q '(0 migrations applied)' || fail "second migrate"
    # two partitions with disjoint learners
    mkdir -p "$tmp/st"
    sed 's/"userId":"/"userId":"p1-/' "$examples/events.jsonl" > "$tmp/p1.jsonl"
    "$gamify" replay --quiet --log "jsonl:$examples/events.jsonl" --state "$tmp/st/partition-0" \
        --rules "$examples/rules.yaml"
    "$gamify" replay --quiet --log "jsonl:$tmp/p1.jsonl" --state "$tmp/st/partition-1" \
        --rules "$examples/rules.yaml"
    "$gamify" project --state "$tmp/st" --postgres "$pg" 2>"$tmp/project.err" ||
        fail "project: $(cat "$tmp/project.err")"
    [ "$(sql 'SELECT count(*) FROM projector_cursor')" = 2 ] || fail "two cursors"
    learners=$("$gamify" dump --state "$tmp/st" | wc -l)
    [ "$(sql 'SELECT count(*) FROM learners')" = "$learners" ] || fail "learners: not $learners"
    [ "$(sql "SELECT count(*) FROM learners WHERE partition = 1 AND user_id NOT LIKE 'p1-%'")" = 0 ] ||
        fail "partition 1 wrote learners of partition 0"
    used=$(sql 'SELECT sum(used) FROM reward_stock_used WHERE partition = 0')
    [ "$used" -gt 0 ] || fail "no stock used"
    [ "$(sql 'SELECT sum(stock_used) FROM reward_catalogue')" = $((2 * used)) ] ||
        fail "stock used is not the sum over partitions"
    # --follow beside a replay that goes on, then SIGTERM
    head -n 15 "$examples/events.jsonl" > "$tmp/half.jsonl"
    "$gamify" replay --quiet --log "jsonl:$tmp/half.jsonl" --state "$tmp/one" \
        --rules "$examples/rules.yaml"
    psql -qX "$GAMIFY_TEST_PG" -c "CREATE DATABASE ${db}_f" >/dev/null
    trap 'psql -qX "$GAMIFY_TEST_PG" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP DATABASE IF EXISTS ${db}_f WITH (FORCE)" >/dev/null; rm -rf "$tmp"' EXIT
    pgf="$GAMIFY_TEST_PG dbname=${db}_f"
    "$gamify" migrate --postgres "$pgf" >/dev/null
    "$gamify" project --state "$tmp/one" --postgres "$pgf" --follow --batch 3 2>"$tmp/follow.err" &
    follower=$!
    "$gamify" replay --quiet --log "jsonl:$examples/events.jsonl" --state "$tmp/one"
    end=$("$gamify" dump --state "$tmp/one" | wc -l)
    # caught up: every learner and every redemption there (the learners all
    # appear early in the log, so their count alone would stop it midway)
    reds=$(psql -qXAt "$pg" -c 'SELECT count(*) FROM redemptions WHERE partition = 0')
    for _ in $(seq 300); do
        [ "$(psql -qXAt "$pgf" -c 'SELECT count(*) FROM learners')" = "$end" ] &&
            [ "$(psql -qXAt "$pgf" -c 'SELECT count(*) FROM redemptions')" = "$reds" ] && break
        sleep 0.1
    done
    kill -TERM "$follower"
    wait "$follower" || fail "project --follow did not exit 0 on SIGTERM: $(cat "$tmp/follow.err")"
    [ "$(psql -qXAt "$pgf" -c 'SELECT count(*) FROM learners')" = "$end" ] ||
        fail "--follow did not catch up"
    # Postgres down: a JSON warning per attempt, retried until SIGTERM, exit 1
    "$gamify" project --state "$tmp/one" --postgres "host=127.0.0.1 port=1 connect_timeout=1" \
        2>"$tmp/down.err" &
    down=$!
    # SIGTERM once it has retried (a fixed second was too short for a slow start)
    for _ in $(seq 200); do
        [ "$(grep -c 'retrying in' "$tmp/down.err")" -ge 2 ] && break
        sleep 0.05
    done
    kill -TERM "$down"
    rc=0
    wait "$down" || rc=$?
    [ "$rc" = 1 ] || fail "project with Postgres down: exit $rc, not 1"
    [ "$(grep -c '^{"ts":.*"level":"warn","msg":"partition 0: postgres: connect: .*retrying in' \
        "$tmp/down.err")" -ge 2 ] || fail "no retried warnings: $(cat "$tmp/down.err")"
    [ "$(psql -qXAt "$pgf" -c 'SELECT count(*) FROM redemptions')" = \
      "$(psql -qXAt "$pg" -c 'SELECT count(*) FROM redemptions WHERE partition = 0')" ] ||
        fail "--follow: redemptions differ from the one-pass projection"
    ;;
*)
    fail "unknown check $check"
    ;;
esac
echo "ok: $check"
