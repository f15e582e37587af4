#!/usr/bin/env bash
# gamify-processor end to end: a file log folded with both projectors
# (--postgres, --redis) and --out jsonl, then every learner's Postgres rows,
# every board's Redis members and scores and the outbound events compared
# with `gamify dump` (tests/processor/projcheck.py):
#   run-e2e.sh BUILD_ROOT EXAMPLES_DIR CHECK
# full: 200,000 generated events over 400 days (rules with keep_weeks 2 and
#   keep_months 1, so periods are pruned) already in the log.
# pg-down: events appended while it runs; a private PostgreSQL stopped for
#   20 s mid-stream, then started again: folding goes on, the projector
#   retries with backoff (a few failures, not one per 100 ms), its lag rises
#   and falls back to 0.
# redis-down: the same with a private Redis (append-only file, fsync always)
#   killed with SIGKILL for 20 s and started again.
# kill9: events appended while the processor is killed with SIGKILL at 10
#   random moments and restarted each time; then no ledger row twice and the
#   outbound events those of a clean replay, each once.
# full-held, kill9-held: full and kill9 with write-behind learners.
# out-crash: without projectors, the processor dies (SIGKILL, by a test
#   seam) after writing outbound events but before recording that it did,
#   and a torn line is left at the end of the file: after a restart every
#   outbound event is in the file once, as in a clean replay.
# linger: --postgres-linger-ms 20000: commits that come while the Postgres
#   projector lingers go in one step and stay out of Postgres meanwhile; a
#   redemption's outcome ends the linger at once.
# Uses GAMIFY_TEST_PG and GAMIFY_TEST_REDIS (tests/run) for what is not
# private to a check.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../../deploy/local/servers.sh
. "$here/../../deploy/local/servers.sh"
build=$1 examples=$2 check=$3
# CHECK-held: the same with write-behind learners (--hold-mib 2: some held
# in the journal, the rest written back), so that the projectors read held
# learners and a kill -9 leaves some in the journal
hold=()
if [ "${check%-held}" != "$check" ]; then
    check=${check%-held}
    hold=(--hold-mib 2)
fi
gamify=$build/processor/gamify
proc=$build/processor/gamify-processor
gen=$build/tests/bench/gen_events
tmp=$(mktemp -d)
chmod 0755 "$tmp" # a private PostgreSQL's user reaches its folder inside
pid= prod= db= rpid=
prefix="e$$-$RANDOM:"
cleanup() {
    set +e
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    [ -n "$prod" ] && kill "$prod" 2>/dev/null
    [ -n "$rpid" ] && kill -9 "$rpid" 2>/dev/null
    gm_pg_stop
    if [ -n "$db" ]; then
        psql -qXAt "$GAMIFY_TEST_PG" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
    fi
    if [ -n "${GAMIFY_TEST_REDIS:-}" ]; then
        rcli --scan --pattern "$prefix*" 2>/dev/null | xargs -r -n 500 \
            redis-cli -h "${hostport%%:*}" -p "${hostport##*:}" del >/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
t_start=$(date +%s)
say() { echo "[$(($(date +%s) - t_start)) s] $*" >&2; }
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/proc.err" ] && grep -v '"dead letter at' "$tmp/proc.err" | tail -n 20 >&2
    exit 1
}
for v in GAMIFY_TEST_PG GAMIFY_TEST_REDIS; do
    if [ -z "${!v:-}" ]; then
        [ -n "${GAMIFY_TEST_REQUIRE_SERVERS:-}" ] && fail "$v is not set"
        echo "skipped: no $v"
        exit 77
    fi
done
command -v python3 >/dev/null || fail "python3 is needed to compare the projections"
hostport=${GAMIFY_TEST_REDIS#redis://}
hostport=${hostport%%/*}
rcli() { redis-cli -h "${hostport%%:*}" -p "${hostport##*:}" "$@"; }
redis_url=$GAMIFY_TEST_REDIS

# a database of its own in the shared PostgreSQL (pg-down has its own server)
shared_db() {
    db="gamify_e2e_$$_$RANDOM"
    psql -qXAt "$GAMIFY_TEST_PG" -c "CREATE DATABASE $db" >/dev/null
    pg="$GAMIFY_TEST_PG dbname=$db"
    "$gamify" migrate --postgres "$pg" >/dev/null || fail "migrate"
}

# the rules of examples/ keeping few finished periods, so that a year of
# events prunes many
sed -e 's/^\( *keep_weeks:\) *[0-9]*/\1 2/' -e 's/^\( *keep_months:\) *[0-9]*/\1 1/' \
    "$examples/rules.yaml" > "$tmp/rules.yaml"
grep -q 'keep_weeks: 2' "$tmp/rules.yaml" || fail "no keep_weeks in $examples/rules.yaml"

# EVENTS USERS SEED: events over 400 days ending now, into $tmp/all.jsonl
generate() {
    local start=$(($(date +%s) - 400 * 86400))
    "$gen" --events "$1" --users "$2" --seed "$3" --start "$start" --span-days 400 \
        > "$tmp/all.jsonl"
}
# FILE: appends it to the log; prints the log's end offset
produce() {
    "$gamify" produce --log "file:$tmp/log" "$1" 2>&1 | sed -n 's/.*log end offset //p'
}
# CHUNK_LINES PAUSE_S: appends $tmp/all.jsonl in chunks in the background
produce_paced() {
    mkdir -p "$tmp/chunks"
    split -l "$1" -d -a 4 "$tmp/all.jsonl" "$tmp/chunks/c"
    (
        for f in "$tmp"/chunks/c*; do
            "$gamify" produce --log "file:$tmp/log" "$f" 2>/dev/null >/dev/null || exit 1
            sleep "$2"
        done
    ) &
    prod=$!
}
log_end() { "$gamify" produce --log "file:$tmp/log" /dev/null 2>&1 | sed -n 's/.*log end offset //p'; }

metric() { http "$mport" /metrics 2>/dev/null | sed -n "s/^$1 //p"; }
start() { # [FLAGS...]
    mport=$(port)
    "$proc" --log "file:$tmp/log" --state "$tmp/state" --rules "$tmp/rules.yaml" \
        --metrics "127.0.0.1:$mport" --postgres "$pg" --redis "$redis_url" \
        --redis-prefix "$prefix" --out "jsonl:$tmp/out.jsonl" "${hold[@]}" "$@" 2>>"$tmp/proc.err" &
    pid=$!
    for _ in $(seq 300); do
        kill -0 "$pid" 2>/dev/null || fail "the processor exited at start"
        http "$mport" /healthz 2>/dev/null | grep -q ok && return 0
        sleep 0.1
    done
    fail "the processor did not come up"
}
wait_for() { # METRIC VALUE [SECONDS]
    for _ in $(seq $((${3:-120} * 10))); do
        [ "$(metric "$1")" = "$2" ] && return 0
        kill -0 "$pid" 2>/dev/null || fail "the processor died"
        sleep 0.1
    done
    fail "$1 did not reach $2 (at $(metric "$1"))"
}
# waits until everything in the log is folded and projected, then stops
finish() {
    if [ -n "$prod" ]; then
        wait "$prod" || fail "appending to the log failed"
        prod=
    fi
    wait_for gamify_source_offset "$(log_end)" 180
    wait_for gamify_postgres_projector_lag_changes 0
    wait_for gamify_redis_projector_lag_changes 0
    kill -TERM "$pid"
    wait "$pid" || fail "the processor did not stop cleanly"
    pid=
}
# [EXTRA projcheck FLAGS...]: compares Postgres, Redis and the outbound
# events with the dump of the state
verify() {
    "$gamify" dump --state "$tmp/state" > "$tmp/dump.jsonl" || fail "dump"
    local entries
    entries=$(mdb_stat -s ledger "$tmp/state" | sed -n 's/^ *Entries: //p')
    python3 "$here/projcheck.py" --dump "$tmp/dump.jsonl" --pg "$pg" \
        --redis "${redis_url#redis://}" --prefix "$prefix" --ledger-entries "$entries" \
        --out "$tmp/out.jsonl" "$@" || fail "the projections differ from the dump"
}
# NAME LAG_METRIC FAILURES_METRIC STOP_CMD START_CMD: takes the server down
# for 20 s mid-stream and checks the processor through it
outage() {
    local name=$1 lag=$2 failures=$3 off0 off1 f0 f1 l max=0 seen_lag=0
    sleep 4
    off0=$(metric gamify_events_folded_total)
    f0=$(metric "$failures")
    eval "$4"
    for _ in $(seq 20); do
        sleep 1
        l=$(metric "$lag")
        [ "${l:-0}" -gt "$max" ] && max=$l
    done
    off1=$(metric gamify_events_folded_total)
    f1=$(metric "$failures")
    eval "$5"
    [ "$off1" -gt "$((off0 + 1000))" ] || fail "folding stopped while $name was down ($off0 -> $off1)"
    [ "$max" -gt 1000 ] || fail "the $name lag did not rise while it was down (max $max)"
    [ "$((f1 - f0))" -ge 2 ] || fail "$name down, but $((f1 - f0)) failed steps counted"
    # with backoff (100 ms doubling to 10 s) 20 s of outage is a handful
    # of tries; without it, one every 100 ms
    [ "$((f1 - f0))" -le 30 ] || fail "$((f1 - f0)) tries in 20 s: no backoff"
    grep -q "\"msg\":\"$name projector: .*retrying with backoff" "$tmp/proc.err" ||
        fail "the $name failure was not logged"
    echo "ok: $name down 20 s: folded $((off1 - off0)) events meanwhile, lag rose to $max," \
        "$((f1 - f0)) failed tries"
}

case $check in
linger)
    shared_db
    at=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
    lesson() { # EVENT_ID USER
        printf '{"eventId":"%s","userId":"%s","occurredAt":"%s","lessonCompleted":{"lessonId":"l1","courseId":"c1","score":90}}\n' \
            "$1" "$2" "$at"
    }
    learners() { psql -qXAt "$pg" -c "SELECT count(*) FROM learners WHERE user_id LIKE '$1%'"; }
    lesson e0 la0 > "$tmp/one.jsonl"
    produce "$tmp/one.jsonl" >/dev/null
    start --postgres-linger-ms 20000
    # the projector was idle: the first commit is projected at once, then
    # it lingers 20 s
    wait_for gamify_postgres_projector_lag_changes 0 30
    [ "$(learners la)" = 1 ] || fail "the first learner is not in Postgres"
    steps0=$(metric gamify_postgres_projector_step_seconds_count)
    batches0=$(metric gamify_batch_seconds_count)
    for i in $(seq 10); do
        lesson "e$i" "lb$i" > "$tmp/one.jsonl"
        produce "$tmp/one.jsonl" >/dev/null
        sleep 0.05
    done
    wait_for gamify_source_offset "$(log_end)" 30
    batches=$(($(metric gamify_batch_seconds_count) - batches0))
    [ "$batches" -ge 5 ] || fail "the 10 appends made $batches commits"
    [ "$(learners lb)" = 0 ] || fail "learners reached Postgres while the projector lingered"
    lag=$(metric gamify_postgres_projector_lag_changes)
    [ "$lag" -ge 10 ] || fail "the Postgres lag is $lag while it lingers"
    printf '{"eventId":"r0","userId":"lc0","occurredAt":"%s","redeemReward":{"redemptionId":"lc0-r1","rewardId":"dark-theme"}}\n' \
        "$at" > "$tmp/one.jsonl"
    t0=$(date +%s%N)
    produce "$tmp/one.jsonl" >/dev/null
    seen=
    for _ in $(seq 80); do
        n=$(psql -qXAt "$pg" -c "SELECT count(*) FROM redemptions WHERE redemption_id = 'lc0-r1'")
        [ "$n" = 1 ] && { seen=1; break; }
        sleep 0.1
    done
    ms=$((($(date +%s%N) - t0) / 1000000))
    # without the hurry it would wait for the linger's end, 15 s or more away
    [ -n "$seen" ] || fail "the redemption's outcome did not reach Postgres within 8 s"
    [ "$(learners lb)" = 10 ] || fail "the learners committed before the redemption are missing"
    # the projector's figures reach /metrics at the writer's next commit or
    # its idle second
    for _ in $(seq 50); do
        steps=$(($(metric gamify_postgres_projector_step_seconds_count) - steps0))
        [ "$steps" -ge 1 ] && break
        sleep 0.1
    done
    [ "$steps" -ge 1 ] && [ "$steps" -le 2 ] || fail "$steps Postgres steps for $batches commits"
    finish
    verify
    echo "ok: $batches commits in lingering went in $steps Postgres step(s); a redemption's outcome in Postgres after $ms ms"
    ;;
full)
    shared_db
    generate 200000 5000 7
    end=$(produce "$tmp/all.jsonl")
    t0=$(date +%s)
    start
    wait_for gamify_source_offset "$end" 240
    pruned=$(metric gamify_periods_pruned_total)
    [ "$pruned" -gt 50 ] || fail "only $pruned periods pruned"
    if [ "${#hold[@]}" -gt 0 ]; then
        held=$(metric gamify_held_learners) jbytes=$(metric gamify_journal_bytes)
        # 2 MiB (and a journal of 8) holds some of the 5,000 learners, not all
        [ "$held" -gt 0 ] && [ "$held" -lt 5000 ] || fail "$held learners held"
        [ "$jbytes" -gt 0 ] || fail "the journal is empty ($jbytes bytes)"
        say "$held learners held, journal $jbytes bytes"
    fi
    finish
    echo "ok: 200000 events folded and projected in $(($(date +%s) - t0)) s; $pruned periods pruned"
    verify
    ;;
pg-down)
    pg_port=$(gm_free_port)
    gm_pg_start "$tmp/pg" "$pg_port" off || fail "the private PostgreSQL did not start"
    pg="host=127.0.0.1 port=$pg_port user=postgres dbname=postgres"
    "$gamify" migrate --postgres "$pg" >/dev/null || fail "migrate"
    pg_bin=$(gm_pg_bindir)
    generate 60000 3000 11
    produce_paced 2000 1
    start
    outage postgres gamify_postgres_projector_lag_changes gamify_postgres_projector_failures_total \
        'gm_pg_as_owner "$pg_bin/pg_ctl" -D "$tmp/pg/data" -m fast -w stop >/dev/null' \
        'gm_pg_start "$tmp/pg" "$pg_port" off || fail "PostgreSQL did not start again"'
    finish
    grep -q '"msg":"postgres projector: working again' "$tmp/proc.err" ||
        fail "no 'working again' after PostgreSQL came back"
    verify
    ;;
redis-down)
    shared_db
    r_port=$(gm_free_port)
    mkdir -p "$tmp/redis"
    rstart() {
        redis-server --port "$r_port" --bind 127.0.0.1 --save '' --appendonly yes \
            --appendfsync always --dir "$tmp/redis" --logfile "$tmp/redis/redis.log" &
        rpid=$!
        for _ in $(seq 100); do
            [ "$(redis-cli -p "$r_port" ping 2>/dev/null)" = PONG ] && return 0
            sleep 0.1
        done
        fail "the private Redis did not start"
    }
    rstart
    redis_url="redis://127.0.0.1:$r_port"
    generate 60000 3000 13
    produce_paced 2000 1
    start
    outage redis gamify_redis_projector_lag_changes gamify_redis_projector_failures_total \
        'kill -9 "$rpid"; wait "$rpid" 2>/dev/null || true; rpid=' 'rstart'
    finish
    grep -q '"msg":"redis projector: working again' "$tmp/proc.err" ||
        fail "no 'working again' after Redis came back"
    verify
    redis-cli -p "$r_port" shutdown nosave >/dev/null 2>&1 || true
    wait "$rpid" 2>/dev/null || true
    rpid=
    ;;
kill9)
    shared_db
    generate 60000 3000 17
    head -n 20000 "$tmp/all.jsonl" > "$tmp/first.jsonl"
    produce "$tmp/first.jsonl" >/dev/null
    sed -i '1,20000d' "$tmp/all.jsonl"
    produce_paced 2000 0.5
    # small batches: many commits, outbound writes and projector steps to
    # land in
    start --batch-max 1000
    for i in $(seq 10); do
        # between 0.3 s and 3 s after a start (the first fold, the first
        # projector steps, a busy middle)
        sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.3 + 2.7 * r / 32767 }')"
        off=$(metric gamify_source_offset)
        kill -9 "$pid"
        wait "$pid" 2>/dev/null || true
        pid=
        say "killed ($i) after offset $off"
        start --batch-max 1000
    done
    say "appended, waiting"
    finish
    say "caught up; replaying"
    "$gamify" replay --log "file:$tmp/log" --state "$tmp/clean" --rules "$tmp/rules.yaml" \
        --out "jsonl:$tmp/clean.jsonl" --no-sync --quiet >/dev/null 2>&1 || fail "the clean replay"
    [ "$("$gamify" digest --state "$tmp/state")" = "$("$gamify" digest --state "$tmp/clean")" ] ||
        fail "the state after the kills differs from a clean replay"
    [ "$(wc -l < "$tmp/out.jsonl")" = "$(wc -l < "$tmp/clean.jsonl")" ] ||
        fail "$(wc -l < "$tmp/out.jsonl") outbound events after the kills," \
            "$(wc -l < "$tmp/clean.jsonl") from a clean replay"
    verify --out-expect "$tmp/clean.jsonl"
    ;;
out-crash)
    generate 6000 300 19
    end=$(produce "$tmp/all.jsonl")
    plain=("$proc" --log "file:$tmp/log" --state "$tmp/state" --rules "$tmp/rules.yaml"
        --out "jsonl:$tmp/out.jsonl" --batch-max 500 --idle-wait-ms 100)
    rc=0
    GAMIFY_TEST_CRASH_AFTER_OUT=3 "${plain[@]}" 2>>"$tmp/proc.err" || rc=$?
    [ "$rc" = 137 ] || fail "the test seam did not kill the processor (exit $rc)"
    written=$(wc -l < "$tmp/out.jsonl")
    [ "$written" -gt 100 ] || fail "only $written outbound events before the crash"
    printf '{"eventId":"torn-' >> "$tmp/out.jsonl"
    "${plain[@]}" 2>>"$tmp/proc.err" &
    pid=$!
    for _ in $(seq 600); do
        grep -q '"caught up with the log at offset '"$end" "$tmp/proc.err" && break
        sleep 0.1
    done
    kill -TERM "$pid"
    wait "$pid" || fail "the processor did not stop cleanly"
    pid=
    grep -q 'outbound events past the cursor were written before a crash' "$tmp/proc.err" ||
        fail "the crash did not leave events past the cursor (nothing tested)"
    grep -q 'cutting a torn last line' "$tmp/proc.err" || fail "the torn line was not cut"
    "$gamify" replay --log "file:$tmp/log" --state "$tmp/clean" --rules "$tmp/rules.yaml" \
        --out "jsonl:$tmp/clean.jsonl" --no-sync --quiet >/dev/null 2>&1 || fail "the clean replay"
    "$gamify" dump --state "$tmp/state" > "$tmp/dump.jsonl" || fail "dump"
    python3 "$here/projcheck.py" --dump "$tmp/dump.jsonl" --out "$tmp/out.jsonl" \
        --out-expect "$tmp/clean.jsonl" || fail "the outbound events differ"
    [ "$(wc -l < "$tmp/out.jsonl")" = "$(wc -l < "$tmp/clean.jsonl")" ] ||
        fail "$(wc -l < "$tmp/out.jsonl") outbound lines, a clean replay $(wc -l < "$tmp/clean.jsonl")"
    ;;
*)
    fail "unknown check $check"
    ;;
esac
