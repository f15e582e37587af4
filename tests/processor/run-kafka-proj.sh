#!/usr/bin/env bash
# gamify-processor on a Kafka topic of 4 partitions (the mock broker of
# tests/run, GAMIFY_TEST_KAFKA) with --postgres and --redis (GAMIFY_TEST_PG,
# GAMIFY_TEST_REDIS): each assigned partition is projected by its own
# Postgres and Redis projectors into the same database and Redis.
#   run-kafka-proj.sh BUILD_ROOT EXAMPLES_DIR CHECK
# CHECK:
# The events span 400 days up to now, so periods are pruned on the way.
#   equal      one instance: every learner's Postgres rows (profile,
#              counters, badges in order, redemptions in order) and every
#              board in Redis equal `gamify dump` of the partitioned state;
#              the ledger has each entry once and sums to the dump; the
#              catalogue's stock left is the rules' stock minus every
#              completed redemption of all partitions; metrics per
#              partition; each partition's change feed trimmed behind its
#              projectors
#   rebalance  a second instance (its own state folder) joins the group
#              mid-stream: the partitions it takes are rebuilt from their
#              start, their projectors wait for the state to reach what
#              the first instance projected, then go on; still equal, no
#              duplicate ledger rows
#   restart    kill -9 mid-stream, then a restart on the same state: still
#              equal, no duplicate ledger rows
#   down       Redis unreachable: folding goes on, failures are counted per
#              partition and /readyz names the partition that is behind
#   prune      events dated after now (a wide --future-skew-seconds), so
#              that the boards' TTLs have not removed pruned periods yet:
#              one partition gets an event 70 days later and prunes finished
#              periods; every other partition's members of those periods
#              stay in Redis (and the memory guard's figures are on
#              /metrics per partition); once every partition has pruned
#              them their keys go and Redis equals the dump again
#   linger     --postgres-linger-ms 20000: a partition's commits that come
#              while its Postgres projector lingers stay out of Postgres;
#              a redemption's outcome ends the linger at once
# Without the servers: skip (77), or fail when GAMIFY_TEST_REQUIRE_SERVERS=1.
# KEEP_TMP=1 keeps the temporary folder.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build=$1 examples=$2 check=$3
gamify=$build/processor/gamify
proc=$build/processor/gamify-processor
gen=$build/tests/bench/gen_events
for v in GAMIFY_TEST_KAFKA GAMIFY_TEST_PG GAMIFY_TEST_REDIS; do
    if [ -z "${!v:-}" ]; then
        if [ "${GAMIFY_TEST_REQUIRE_SERVERS:-0}" = 1 ]; then
            echo "FAIL: $v is not set" >&2
            exit 1
        fi
        echo "skip: $v is not set"
        exit 77
    fi
done
tmp=$(mktemp -d)
pids=()
prefix="kp$$-$RANDOM:"
db="gamify_kproj_$$_$RANDOM"
pg="$GAMIFY_TEST_PG dbname=$db"
cleanup() {
    for p in "${pids[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    rcli --scan --pattern "$prefix*" 2>/dev/null | while read -r k; do rcli del "$k" >/dev/null; done
    psql -qXAt "$GAMIFY_TEST_PG" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
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
# the sum of a labelled metric over its partitions, and how many there are
metric_sum() { http "$1" /metrics 2>/dev/null | awk -v m="$2" 'index($0, m "{") == 1 { s += $2; n++ } END { print s + 0, n + 0 }'; }
sql() { psql -qXAt "$pg" -c "$1"; }

psql -qXAt "$GAMIFY_TEST_PG" -c "CREATE DATABASE $db" >/dev/null
"$gamify" migrate --postgres "$pg" >/dev/null || fail "migrate"
# stock is counted per partition: sticker-pack gets enough that no
# partition sells out, so the total left is the stock minus every
# completed redemption of all partitions
sed 's/^    stock: 2  .*/    stock: 300/' "$examples/rules.yaml" > "$tmp/rules.yaml"
grep -q '^    stock: 300$' "$tmp/rules.yaml" || fail "the rules' sticker-pack stock was not set"
topic="gamify-kproj-$$-$RANDOM"
log="kafka://$GAMIFY_TEST_KAFKA/$topic"
group="g-$topic"
declare -a ports

# start N STATE [FLAGS...]: instance N of $group with both projectors
# (unless projectors=no), stderr in proc<N>.err; waits until it serves
# /healthz
start() {
    local n=$1 state=$2 mport flags=(--postgres "$pg" --redis "$GAMIFY_TEST_REDIS")
    shift 2
    [ "${projectors:-}" = no ] && flags=()
    for _ in 1 2 3 4 5; do
        mport=$(port)
        "$proc" --log "$log" --state "$state" --rules "$tmp/rules.yaml" --group "$group" \
            --metrics "127.0.0.1:$mport" --sync=false --redis-prefix "$prefix" "${flags[@]}" "$@" \
            2>>"$tmp/proc$n.err" &
        pids[$n]=$!
        ports[$n]=$mport
        for _ in $(seq 100); do
            if ! kill -0 "${pids[$n]}" 2>/dev/null; then
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

stop_ok() { # N: SIGTERM, then exit status 0
    kill -TERM "${pids[$1]}"
    local rc=0
    wait "${pids[$1]}" || rc=$?
    pids[$1]=
    [ "$rc" = 0 ] || fail "instance $1: exit status $rc after SIGTERM"
}

produce() { # FILE
    local out
    out=$("$gamify" produce --log "$log" "$1" 2>&1) || fail "produce: $out"
    grep -q "^produced $(wc -l < "$1") events, 0 bad lines" <<<"$out" || fail "produce said: $out"
}

# caught_up_folding OFFSET N: instance N's offsets sum to OFFSET (120 s)
caught_up_folding() {
    local deadline=$((SECONDS + 120))
    until [ "$(metric "${ports[$2]}" gamify_source_offset)" = "$1" ]; do
        kill -0 "${pids[$2]}" 2>/dev/null || fail "instance $2 died"
        [ $SECONDS -lt $deadline ] || fail "instance $2 did not reach offset $1 in 120 s"
        sleep 0.2
    done
}

# caught_up OFFSET N...: the instances' offsets sum to OFFSET, and each
# one's projectors of every partition it holds have nothing left (240 s)
caught_up() {
    local want=$1 deadline=$((SECONDS + 240)) sum lag parts n
    shift
    while :; do
        sum=0 lag=0 parts=0
        for n in "$@"; do
            kill -0 "${pids[$n]}" 2>/dev/null || fail "instance $n died"
            sum=$((sum + $(metric "${ports[$n]}" gamify_source_offset)))
            read -r l c < <(metric_sum "${ports[$n]}" gamify_postgres_projector_lag_changes)
            lag=$((lag + l)) parts=$((parts + c))
            read -r l c < <(metric_sum "${ports[$n]}" gamify_redis_projector_lag_changes)
            lag=$((lag + l)) parts=$((parts + c))
        done
        [ "$sum" = "$want" ] && [ "$lag" = 0 ] && [ "$parts" = 8 ] && return 0
        [ $SECONDS -lt $deadline ] ||
            fail "not caught up in 240 s: offsets $sum of $want, projector lag $lag over $parts"
        sleep 0.3
    done
}

# compare STATE: Postgres and Redis against the partitioned state's dump
compare() {
    local state=$1
    "$gamify" dump --state "$state" > "$tmp/dump"
    [ "$(wc -l < "$tmp/dump")" -ge 300 ] || fail "too few learners: $(wc -l < "$tmp/dump")"
    # learners: profile, counters, opt-out, badges, redemptions
    dump_learners < "$tmp/dump" > "$tmp/want.learners"
    pg_learners "$pg" > "$tmp/got.learners"
    cmp -s "$tmp/want.learners" "$tmp/got.learners" ||
        fail "Postgres learners differ from the dump: $(diff "$tmp/want.learners" "$tmp/got.learners" | head -6)"
    grep -q ':COMPLETED:null' "$tmp/want.learners" || fail "no completed redemption to compare"
    # boards: every (board, period, member, score), and nothing else
    dump_scores < "$tmp/dump" > "$tmp/want.scores"
    redis_scores "$prefix" > "$tmp/got.scores"
    [ "$(wc -l < "$tmp/want.scores")" -gt 1000 ] || fail "too few scores: $(head -3 "$tmp/want.scores")"
    cmp -s "$tmp/want.scores" "$tmp/got.scores" ||
        fail "Redis differs from the dump: $(diff "$tmp/want.scores" "$tmp/got.scores" | head -6)"
    # each partition's projectors wrote under its own number: the learners
    # of partition-N in Postgres as partition N, and both cursors of N at
    # the end of the same feed
    local p
    for p in 0 1 2 3; do
        "$gamify" dump --state "$state/partition-$p" | sed 's/^{"userId":"\([^"]*\)".*/\1/' |
            sort > "$tmp/want.p$p"
        sql "SELECT user_id FROM learners WHERE partition = $p" | sort > "$tmp/got.p$p"
        [ -s "$tmp/want.p$p" ] && cmp -s "$tmp/want.p$p" "$tmp/got.p$p" ||
            fail "the learners of partition $p: $(diff "$tmp/want.p$p" "$tmp/got.p$p" | head -3)"
        c=$(rcli get "${prefix}cursor:$p")
        [ "${c:-0}" -gt 0 ] || fail "no Redis cursor of partition $p"
        [ "$(sql "SELECT next_seq FROM projector_cursor WHERE partition = $p")" = "$c" ] ||
            fail "partition $p: Postgres cursor $(sql "SELECT next_seq FROM projector_cursor WHERE partition = $p"), Redis $c"
    done
    [ "$(sql 'SELECT count(*) FROM projector_cursor')" = 4 ] ||
        fail "not 4 Postgres cursors: $(sql 'SELECT partition, next_seq FROM projector_cursor')"
    # the ledger: each entry once (as many rows as the states hold), and
    # each learner's deltas sum to the dump's exp and coins
    local entries=0
    for p in 0 1 2 3; do
        entries=$((entries + $(mdb_stat -s ledger "$state/partition-$p" | sed -n 's/^ *Entries: //p')))
    done
    [ "$entries" -gt 1000 ] || fail "too few ledger entries in the states: $entries"
    [ "$(sql 'SELECT count(*) FROM ledger')" = "$entries" ] ||
        fail "the ledger has $(sql 'SELECT count(*) FROM ledger') rows, the states $entries entries"
    [ "$(sql 'SELECT count(*) FROM (SELECT 1 FROM ledger GROUP BY partition, user_id, event_id, kind, detail, exp_delta, coins_delta, exp_after, coins_after HAVING count(*) > 1) d')" = 0 ] ||
        fail "duplicate ledger rows"
    sed 's/^{"userId":"\([^"]*\)","exp":\([0-9]*\),"level":[0-9]*,"coins":\([0-9]*\),.*/\1|\2|\3/' \
        "$tmp/dump" | sort > "$tmp/want.sums"
    sql "SELECT l.user_id, coalesce(sum(g.exp_delta), 0), coalesce(sum(g.coins_delta), 0)
         FROM learners l LEFT JOIN ledger g USING (user_id) GROUP BY l.user_id" | sort > "$tmp/got.sums"
    cmp -s "$tmp/want.sums" "$tmp/got.sums" ||
        fail "ledger sums differ from the dump: $(diff "$tmp/want.sums" "$tmp/got.sums" | head -4)"
    # stock: what is left over all partitions
    local completed parts_used
    completed=$({ grep -o '"rewardId":"sticker-pack","status":"COMPLETED"' "$tmp/dump" || true; } | wc -l)
    parts_used=$(sql "SELECT count(*) FROM reward_stock_used WHERE reward_id = 'sticker-pack' AND used > 0")
    [ "$completed" -gt 0 ] && [ "$parts_used" -ge 2 ] ||
        fail "sticker-pack: $completed completed, used in $parts_used partitions (want several)"
    [ "$(sql "SELECT stock_used || ' ' || stock_left FROM reward_catalogue WHERE id = 'sticker-pack'")" = \
        "$completed $((300 - completed))" ] ||
        fail "sticker-pack stock: $(sql "SELECT stock, stock_used, stock_left FROM reward_catalogue WHERE id = 'sticker-pack'"), $completed completed"
    echo "compared: $(wc -l < "$tmp/got.learners") learners, $(wc -l < "$tmp/got.scores") scores, $entries ledger rows, sticker-pack $completed completed"
}

# reference N: the whole topic folded into $tmp/ref (partition-N) by
# instance N of a group of its own, without projectors (gamify replay does
# not read Kafka yet)
reference() {
    local n=$1
    group="ref-$topic" projectors=no start "$n" "$tmp/ref"
    caught_up_folding "$total" "$n"
    stop_ok "$n"
    [ "$(ls -d "$tmp"/ref/partition-* | wc -l)" = 4 ] || fail "the reference has not 4 partitions"
}

# 400 days of event time up to now (events may not be dated after their
# append time), so that finished periods are pruned from the states and
# from Redis on the way; then a lesson for every learner 30 s ago, so that
# every partition's newest event is in the current week and month (Redis
# expires the keys of dropped periods by the wall clock, the states drop
# them by their newest event time)
now=$(date +%s)
"$gen" --events 16000 --users 400 --seed 47 --start "$((now - 400 * 86400))" --span-days 400 \
    > "$tmp/all.jsonl"
at=$(date -u -d "@$((now - 30))" +%Y-%m-%dT%H:%M:%SZ)
for u in $(seq 0 399); do
    printf '{"eventId":"final-%d","userId":"user-%d","occurredAt":"%s","lessonCompleted":{"lessonId":"final","courseId":"c1","score":90}}\n' \
        "$u" "$u" "$at"
done >> "$tmp/all.jsonl"
total=$(wc -l < "$tmp/all.jsonl")
head -n 8000 "$tmp/all.jsonl" > "$tmp/first.jsonl"
tail -n +8001 "$tmp/all.jsonl" > "$tmp/second.jsonl"

case $check in
equal)
    produce "$tmp/all.jsonl"
    start 1 "$tmp/state"
    caught_up "$total" 1
    [ "$(http "${ports[1]}" /readyz)" = ready ] || fail "/readyz: $(http "${ports[1]}" /readyz)"
    [ "$(metric "${ports[1]}" gamify_periods_pruned_total)" -gt 0 ] || fail "no period was pruned"
    m=$(http "${ports[1]}" /metrics)
    for p in 0 1 2 3; do
        for name in gamify_postgres_projected_total gamify_redis_projected_total \
            gamify_postgres_projector_failures_total gamify_redis_projector_failures_total; do
            grep -q "^$name{partition=\"$p\"} [0-9]" <<<"$m" || fail "no $name of partition $p"
        done
        v=$(sed -n "s/^gamify_redis_projected_total{partition=\"$p\"} //p" <<<"$m")
        [ "$v" -gt 100 ] || fail "partition $p: $v changes projected to Redis"
    done
    [ "$(grep -c '^# TYPE gamify_postgres_projector_lag_changes gauge' <<<"$m")" = 1 ] ||
        fail "one TYPE line per family"
    # the feed of each partition is trimmed behind its projectors (idle trim)
    for _ in $(seq 50); do
        left=0
        for p in 0 1 2 3; do
            left=$((left + $(mdb_stat -s changes "$tmp/state/partition-$p" | sed -n 's/^ *Entries: //p')))
        done
        [ "$left" -lt 100 ] && break
        sleep 0.2
    done
    [ "$left" -lt 100 ] || fail "the change feeds were not trimmed: $left entries left"
    stop_ok 1
    compare "$tmp/state"
    ! grep -q '"level":"error"' "$tmp/proc1.err" || fail "errors logged: $(grep '"level":"error"' "$tmp/proc1.err" | head -3)"
    echo "ok: kafka projectors of 4 partitions equal the dump"
    ;;
rebalance)
    produce "$tmp/first.jsonl"
    start 1 "$tmp/state1" --kafka-session-timeout-ms 6000
    caught_up 8000 1
    # the second member: it takes partitions the first one projected, with
    # new states that start over from offset 0
    start 2 "$tmp/state2" --kafka-session-timeout-ms 6000
    for _ in $(seq 300); do
        [ -d "$tmp/state2" ] && [ "$(ls -d "$tmp"/state2/partition-* 2>/dev/null | wc -l)" -ge 1 ] && break
        sleep 0.1
    done
    [ "$(ls -d "$tmp"/state2/partition-* 2>/dev/null | wc -l)" -ge 1 ] || fail "no partition moved"
    produce "$tmp/second.jsonl"
    caught_up "$total" 1 2
    grep -q '"msg":"postgres projector: the read model is at change [0-9]* of partition [0-3], ahead of this state' \
        "$tmp/proc2.err" || fail "the moved partitions did not wait for their states to catch up"
    grep -q '"msg":"redis projector: the state caught up with the read model"' "$tmp/proc2.err" ||
        fail "the moved partitions' Redis projectors did not go on"
    ! grep -q '"level":"error"' "$tmp/proc1.err" "$tmp/proc2.err" ||
        fail "errors logged: $(grep -h '"level":"error"' "$tmp"/proc*.err | head -3)"
    [ "$(metric_sum "${ports[2]}" gamify_postgres_projector_failures_total)" = "0 $(ls -d "$tmp"/state2/partition-* | wc -l)" ] ||
        fail "waiting counted as failures: $(metric_sum "${ports[2]}" gamify_postgres_projector_failures_total)"
    stop_ok 2
    stop_ok 1
    # against the whole topic folded once more, by an instance of its own
    reference 3
    compare "$tmp/ref"
    echo "ok: kafka projectors across a rebalance"
    ;;
restart)
    produce "$tmp/all.jsonl"
    start 1 "$tmp/state" --kafka-session-timeout-ms 6000 --batch-max 200
    # killed while folding and projecting
    for _ in $(seq 200); do
        off=$(metric "${ports[1]}" gamify_source_offset)
        [ "${off:-0}" -gt 3000 ] && break
        sleep 0.05
    done
    [ "${off:-0}" -lt "$total" ] || fail "the instance finished before it could be killed"
    kill -9 "${pids[1]}"
    wait "${pids[1]}" 2>/dev/null || true
    pids[1]=
    start 2 "$tmp/state" --kafka-session-timeout-ms 6000
    caught_up "$total" 2
    grep -q '"msg":"partition [0-3] assigned: resuming' "$tmp/proc2.err" || fail "no partition resumed"
    stop_ok 2
    compare "$tmp/state"
    echo "ok: kafka projectors across kill -9 and a restart (killed at offset $off)"
    ;;
linger)
    at=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
    lesson() { # EVENT_ID LESSON_ID: a first completion of learner kl0
        printf '{"eventId":"%s","userId":"kl0","occurredAt":"%s","lessonCompleted":{"lessonId":"%s","courseId":"c1","score":90}}\n' \
            "$1" "$at" "$2"
    }
    completions() { sql "SELECT lesson_completions FROM learners WHERE user_id = 'kl0'"; }
    lesson kl-0 l0 > "$tmp/one.jsonl"
    produce "$tmp/one.jsonl"
    start 1 "$tmp/state" --postgres-linger-ms 20000
    # the partition's projector was idle: its first commit is projected at
    # once, then it lingers 20 s
    for _ in $(seq 300); do
        [ "$(completions)" = 1 ] && break
        sleep 0.2
    done
    [ "$(completions)" = 1 ] || fail "the first lesson did not reach Postgres"
    for i in 1 2; do
        lesson "kl-$i" "l$i" > "$tmp/one.jsonl"
        produce "$tmp/one.jsonl"
    done
    caught_up_folding 3 1
    [ "$(completions)" = 1 ] || fail "lessons reached Postgres while the projector lingered"
    printf '{"eventId":"kl-r","userId":"kl0","occurredAt":"%s","redeemReward":{"redemptionId":"kl0-r1","rewardId":"dark-theme"}}\n' \
        "$at" > "$tmp/one.jsonl"
    produce "$tmp/one.jsonl"
    seen=
    for _ in $(seq 80); do
        [ "$(sql "SELECT count(*) FROM redemptions WHERE redemption_id = 'kl0-r1'")" = 1 ] &&
            { seen=1; break; }
        sleep 0.1
    done
    # without the hurry it would wait for the linger's end, 15 s or more away
    [ -n "$seen" ] || fail "the redemption's outcome did not reach Postgres within 8 s"
    [ "$(completions)" = 3 ] || fail "the lessons before the redemption are missing: $(completions)"
    stop_ok 1
    echo "ok: kafka, a partition's commits waited out the Postgres linger; a redemption ended it"
    ;;
down)
    closed=$(port)
    produce "$tmp/all.jsonl"
    start 1 "$tmp/state" --redis "redis://127.0.0.1:$closed" --projector-max-lag 10
    caught_up_folding "$total" 1
    # caught up with the log, and Postgres with the states
    for _ in $(seq 300); do
        read -r lag n < <(metric_sum "${ports[1]}" gamify_postgres_projector_lag_changes)
        [ "$n" = 4 ] && [ "$lag" = 0 ] && [ "$(http "${ports[1]}" /readyz)" != "catching up" ] &&
            break
        sleep 0.2
    done
    [ "$n" = 4 ] && [ "$lag" = 0 ] || fail "postgres lag $lag over $n partitions"
    ready=$(http "${ports[1]}" /readyz)
    grep -q '^the redis projector of partition [0-3] is behind$' <<<"$ready" || fail "/readyz: $ready"
    read -r failures n < <(metric_sum "${ports[1]}" gamify_redis_projector_failures_total)
    [ "$n" = 4 ] && [ "$failures" -ge 4 ] || fail "redis failures: $failures over $n partitions"
    read -r lag n < <(metric_sum "${ports[1]}" gamify_redis_projector_lag_changes)
    [ "$lag" -gt 5000 ] || fail "redis lag $lag"
    left=0
    for p in 0 1 2 3; do
        left=$((left + $(mdb_stat -s changes "$tmp/state/partition-$p" | sed -n 's/^ *Entries: //p')))
    done
    [ "$left" -gt 5000 ] || fail "the feeds were trimmed past a projector that read none: $left"
    stop_ok 1
    echo "ok: kafka, Redis down: folding went on, /readyz said: $ready"
    ;;
prune)
    skew=(--future-skew-seconds 94608000)
    fut=$((now + 86400))
    "$gen" --events 8000 --users 200 --seed 48 --start "$fut" --span-days 60 > "$tmp/fut.jsonl"
    produce "$tmp/fut.jsonl"
    total=$(wc -l < "$tmp/fut.jsonl")
    start 1 "$tmp/state" "${skew[@]}"
    caught_up "$total" 1
    stop_ok 1
    # late LATE USER: an event for USER at Unix time LATE, into $tmp/late.jsonl
    late() {
        printf '{"eventId":"late-%s","userId":"%s","occurredAt":"%s","lessonCompleted":{"lessonId":"late","courseId":"c1","score":90}}\n' \
            "$2" "$2" "$(date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ)" >> "$tmp/late.jsonl"
    }
    at=$((fut + 130 * 86400))
    # one learner of partition 0 moves that partition 70 days past the rest
    # first_user N: the first learner of partition N
    first_user() {
        "$gamify" dump --state "$tmp/state/partition-$1" > "$tmp/first.dump"
        sed -n '1s/^{"userId":"\([^"]*\)".*/\1/p' "$tmp/first.dump"
    }
    u0=$(first_user 0)
    [ -n "$u0" ] || fail "partition 0 has no learner"
    : > "$tmp/late.jsonl"
    late "$at" "$u0"
    produce "$tmp/late.jsonl"
    total=$((total + 1))
    start 1 "$tmp/state" "${skew[@]}"
    caught_up "$total" 1
    m=$(http "${ports[1]}" /metrics)
    stop_ok 1
    for p in 0 1 2 3; do
        for name in gamify_redis_guard_actions_total gamify_redis_guard_periods_deleted_total \
            gamify_redis_guard_keys_deleted_total gamify_redis_used_memory_bytes \
            gamify_redis_maxmemory_bytes; do
            grep -q "^$name{partition=\"$p\"} [0-9]" <<<"$m" || fail "no $name of partition $p"
        done
    done
    [ "$(grep -c '^# TYPE gamify_redis_guard_actions_total counter' <<<"$m")" = 1 ] ||
        fail "one TYPE line for the guard's actions"
    # the periods partition 0 pruned that the others still hold
    "$gamify" dump --state "$tmp/state/partition-0" | dump_scores > "$tmp/p0.scores"
    for p in 1 2 3; do "$gamify" dump --state "$tmp/state/partition-$p"; done | dump_scores > "$tmp/rest.scores"
    awk '$2 != "all" { print $2 }' "$tmp/p0.scores" | sort -u > "$tmp/p0.periods"
    awk '$2 != "all" { print $2 }' "$tmp/rest.scores" | sort -u > "$tmp/rest.periods"
    comm -13 "$tmp/p0.periods" "$tmp/rest.periods" > "$tmp/pruned.periods"
    [ -s "$tmp/pruned.periods" ] || fail "partition 0 pruned no period the others hold"
    # every other partition's member of those periods is still on its boards
    awk 'NR == FNR { want[$1]; next } $2 in want' "$tmp/pruned.periods" "$tmp/rest.scores" > "$tmp/want.kept"
    [ "$(wc -l < "$tmp/want.kept")" -gt 100 ] || fail "too few scores in the pruned periods: $(wc -l < "$tmp/want.kept")"
    redis_scores "$prefix" > "$tmp/got.scores"
    missing=$(comm -23 "$tmp/want.kept" "$tmp/got.scores" | wc -l)
    [ "$missing" = 0 ] ||
        fail "partition 0's prune removed $missing members of other partitions: $(comm -23 "$tmp/want.kept" "$tmp/got.scores" | head -3)"
    w=$(head -n 1 "$tmp/pruned.periods")
    [ "$(rcli smembers "${prefix}pruned:$w")" = 0 ] ||
        fail "the pruned mark of $w: $(rcli smembers "${prefix}pruned:$w")"
    # the other partitions prune the same periods: now the keys go
    : > "$tmp/late.jsonl"
    for p in 1 2 3; do
        u=$(first_user "$p")
        [ -n "$u" ] || fail "partition $p has no learner"
        late "$at" "$u"
    done
    produce "$tmp/late.jsonl"
    total=$((total + 3))
    start 1 "$tmp/state" "${skew[@]}"
    caught_up "$total" 1
    stop_ok 1
    "$gamify" dump --state "$tmp/state" | dump_scores > "$tmp/want.scores"
    redis_scores "$prefix" > "$tmp/got.scores"
    cmp -s "$tmp/want.scores" "$tmp/got.scores" ||
        fail "Redis differs from the dump: $(diff "$tmp/want.scores" "$tmp/got.scores" | head -6)"
    for w in $(cat "$tmp/pruned.periods"); do
        [ -z "$(rcli --scan --pattern "${prefix}lb:*:$w")" ] || fail "keys of $w left"
    done
    [ "$(rcli smembers "${prefix}pruned:$w" | sort | tr '\n' ' ')" = "0 1 2 3 " ] ||
        fail "the pruned mark of $w: $(rcli smembers "${prefix}pruned:$w")"
    [ "$(rcli ttl "${prefix}pruned:$w")" -gt 25000000 ] || fail "the pruned mark of $w has no TTL"
    ! grep -q '"level":"error"' "$tmp/proc1.err" || fail "errors logged: $(grep '"level":"error"' "$tmp/proc1.err" | head -3)"
    echo "ok: $(wc -l < "$tmp/want.kept") members of $(wc -l < "$tmp/pruned.periods") periods kept until every partition pruned them"
    ;;
*)
    fail "unknown check $check"
    ;;
esac
