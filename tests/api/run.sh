#!/usr/bin/env bash
# The resolvers against the real pipeline (GAMIFY_TEST_PG, GAMIFY_TEST_REDIS):
#   run.sh BUILD_ROOT EXAMPLES_DIR CHECK   (CHECK: queries, boards, reads, redeem, down, kafka,
#   http, sse, config)
# Events (generated over the last days, the examples, and a learner "buyer"
# granted exactly 3 x 40 coins) are produced to a file log and folded by
# gamify-processor with --postgres and --redis into a fresh database and a
# private Redis prefix; then check.mjs runs GraphQL documents through
# gql_run (the engine with the resolvers bound) and compares them with
# `gamify dump` (reads: the badge catalogue, redemptions and ledgers also
# with `gamify ledger`). down: servers unreachable give masked errors, not ready.
# kafka: redeemReward appends to a Kafka topic (GAMIFY_TEST_KAFKA) that a
# replay then folds. http: queries, boards and redeemReward through a
# running gamify-api over HTTP (curl, tokens from deploy/local/mint-token).
# sse: live leaderboards over Server-Sent Events (sse.mjs, graphql-sse), with
# a second replica (allow-list mode) sharing the per-user stream limit, and
# two more, started by sse.mjs, whose Redis goes down and comes back.
# config: `gamify-api --check-config` against good and broken settings (and,
# with GAMIFY_TEST_KAFKA, a kafka:// log: a topic's partitions, a dead broker).
set -euo pipefail
# shellcheck source=../processor/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../processor/lib.sh"
build=$1 examples=$2 check=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
gamify=$build/processor/gamify
proc=$build/processor/gamify-processor
gen=$build/tests/bench/gen_events
tmp=$(mktemp -d)
pid=
apid=
apid2=
apid3=
db="gm_api_$$_$RANDOM"
prefix="tapi$$-$RANDOM:"
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    [ -n "$apid" ] && kill -9 "$apid" 2>/dev/null || true
    [ -n "$apid2" ] && kill -9 "$apid2" 2>/dev/null || true
    [ -n "$apid3" ] && kill -9 "$apid3" 2>/dev/null || true
    if [ -n "${GAMIFY_TEST_REDIS:-}" ]; then
        rcli --scan --pattern "$prefix*" 2>/dev/null | while read -r k; do rcli del "$k" >/dev/null; done
    fi
    [ -n "${GAMIFY_TEST_PG:-}" ] && psql -qXAt "$GAMIFY_TEST_PG" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/proc.err" ] && tail -n 20 "$tmp/proc.err" >&2
    # gamify-api's own errors (a client sees INTERNAL_SERVER_ERROR only)
    [ -f "$tmp/api.err" ] && grep '"level":"error"' "$tmp/api.err" | tail -n 20 >&2
    exit 1
}
need="GAMIFY_TEST_PG GAMIFY_TEST_REDIS"
[ "$check" = kafka ] && need="$need GAMIFY_TEST_KAFKA"
for v in $need; do
    if [ -z "${!v:-}" ]; then
        [ -n "${GAMIFY_TEST_REQUIRE_SERVERS:-}" ] && fail "$v is not set"
        echo "skipped: no $v"
        exit 77
    fi
done
hostport=${GAMIFY_TEST_REDIS#redis://}
hostport=${hostport%%/*}
rcli() { redis-cli -h "${hostport%%:*}" -p "${hostport##*:}" "$@"; }
# boards: the processor's projector and the resolvers reach Redis over its
# Unix socket (a unix:// URL) when tests/run gave one; every other check over TCP.
redis_url=$GAMIFY_TEST_REDIS
if [ "$check" = boards ]; then
    if [ -n "${GAMIFY_TEST_REDIS_SOCKET:-}" ]; then
        redis_url="unix://$GAMIFY_TEST_REDIS_SOCKET"
        echo "boards: the projector and the resolvers use $redis_url"
    elif [ -n "${GAMIFY_TEST_REQUIRE_SERVERS:-}" ]; then
        fail "GAMIFY_TEST_REDIS_SOCKET is not set"
    fi
fi
metric() { http "$mport" /metrics | sed -n "s/^$1 //p"; }
start() {
    mport=$(port)
    "$proc" --log "file:$tmp/log" --state "$tmp/state" --rules "$examples/rules.yaml" \
        --metrics "127.0.0.1:$mport" --idle-wait-ms 20 --postgres "$pg" \
        --redis "$redis_url" --redis-prefix "$prefix" 2>>"$tmp/proc.err" &
    pid=$!
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || fail "the processor exited at start"
        http "$mport" /healthz 2>/dev/null | grep -q ok && return 0
        sleep 0.1
    done
    fail "the processor did not come up"
}
wait_for() { # METRIC VALUE
    for _ in $(seq 600); do
        [ "$(metric "$1")" = "$2" ] && return 0
        kill -0 "$pid" 2>/dev/null || fail "the processor died"
        sleep 0.1
    done
    fail "$1 did not reach $2 (at $(metric "$1"))"
}

psql -qXAt "$GAMIFY_TEST_PG" -c "CREATE DATABASE $db" >/dev/null
pg="$GAMIFY_TEST_PG dbname=$db"
"$gamify" migrate --postgres "$pg" >/dev/null || fail "migrate"

# config: `gamify-api --check-config` opens the backend and names what failed.
if [ "$check" = config ]; then
    api=$build/api/gamify-api
    head -c 48 /dev/urandom | base64 >"$tmp/jwt.secret"
    touch "$tmp/afile"
    psql -qXAt "$GAMIFY_TEST_PG" -c "CREATE DATABASE ${db}_bare" >/dev/null
    psql -qXAt "$GAMIFY_TEST_PG" -c "CREATE DATABASE ${db}_old" >/dev/null
    psql -qXAt "$GAMIFY_TEST_PG dbname=${db}_old" \
        -c "CREATE TABLE schema_migrations (version int); INSERT INTO schema_migrations VALUES (1)" >/dev/null
    trap 'psql -qXAt "$GAMIFY_TEST_PG" -c "DROP DATABASE IF EXISTS ${db}_bare" -c "DROP DATABASE IF EXISTS ${db}_old" >/dev/null 2>&1; cleanup' EXIT
    dead=$(port)
    n=0
    # NAME|FLAG|VALUE (after the good settings: it wins)|EXIT|TEXT the output must hold
    while IFS='|' read -r name flag value want text; do
        rc=0
        extra=()
        [ -n "$flag" ] && extra=("$flag" "$value")
        out=$("$api" --listen 127.0.0.1:1 --postgres "$pg" --redis "$GAMIFY_TEST_REDIS" \
            --log "file:$tmp/newlog/sub" --jwt-hs256-secret-file "$tmp/jwt.secret" \
            "${extra[@]}" --check-config 2>&1) || rc=$?
        if [ "$want" = 0 ] && [ "$rc" != 0 ]; then
            fail "config $name: exit $rc: $out"
        elif [ "$want" != 0 ] && [ "$rc" = 0 ]; then
            fail "config $name: exit 0: $out"
        elif ! grep -qF -- "$text" <<<"$out"; then
            fail "config $name: no '$text' in: $out"
        fi
        echo "ok: config $name (exit $rc): $(grep -F -- "$text" <<<"$out" | head -n1)"
        n=$((n + 1))
    done <<EOF2
good|||0|gamify-api: configuration ok
good: postgres said|||0|postgres: ok (schema version
good: redis said|||0|redis: ok
good: the log folder would be created|||0|to be created
postgres unreachable|--postgres|host=127.0.0.1 port=$dead dbname=x|1|postgres: cannot connect
postgres not migrated|--postgres|$GAMIFY_TEST_PG dbname=${db}_bare|1|postgres: no schema version
postgres at another version|--postgres|$GAMIFY_TEST_PG dbname=${db}_old|1|the schema is at version 1, this program needs
redis unreachable|--redis|redis://127.0.0.1:$dead|1|redis: cannot connect to 127.0.0.1:$dead
redis refuses AUTH|--redis|redis://:wrong@${hostport}|1|redis: AUTH
log: a file in the way|--log|file:$tmp/afile/log|1|$tmp/afile/log
log: a file, not a folder|--log|file:$tmp/afile|1|is not a folder
log: no scheme|--log|nowhere|1|log URI 'nowhere'
key file missing|--jwt-hs256-secret-file|$tmp/none.secret|1|none.secret
EOF2
    [ -e "$tmp/newlog" ] && fail "--check-config created the log folder"
    # A unix:// URL: the same Redis over its socket, and a socket nobody listens on.
    if [ -n "${GAMIFY_TEST_REDIS_SOCKET:-}" ]; then
        for want in "0|unix://$GAMIFY_TEST_REDIS_SOCKET|redis: ok (unix:$GAMIFY_TEST_REDIS_SOCKET answers PING)" \
            "1|unix://$tmp/none.sock|redis: cannot connect to unix:$tmp/none.sock"; do
            rc=0
            out=$("$api" --listen 127.0.0.1:1 --postgres "$pg" --redis "$(cut -d'|' -f2 <<<"$want")" \
                --log "file:$tmp/newlog/sub" --jwt-hs256-secret-file "$tmp/jwt.secret" \
                --check-config 2>&1) || rc=$?
            [ "$rc" = "${want%%|*}" ] && grep -qF -- "${want##*|}" <<<"$out" ||
                fail "config unix socket: exit $rc, want ${want%%|*} and '${want##*|}': $out"
            echo "ok: config unix socket (exit $rc): $(grep -F 'redis:' <<<"$out" | head -n1)"
        done
    elif [ -n "${GAMIFY_TEST_REQUIRE_SERVERS:-}" ]; then
        fail "GAMIFY_TEST_REDIS_SOCKET is not set"
    fi
    # A kafka:// log must answer with its partitions: a fresh topic on the
    # mock broker (created by the metadata request, 4 partitions) says so;
    # a broker nobody listens on fails, naming it, within a bounded time.
    if [ -n "${GAMIFY_TEST_KAFKA:-}" ]; then
        ktopic="gamify-api-check-$$-$RANDOM"
        kcheck() { # LOG-URI: sets out, rc, secs
            rc=0
            local t0=$SECONDS
            out=$("$api" --listen 127.0.0.1:1 --postgres "$pg" --redis "$GAMIFY_TEST_REDIS" \
                --log "$1" --jwt-hs256-secret-file "$tmp/jwt.secret" --check-config 2>&1) || rc=$?
            secs=$((SECONDS - t0))
        }
        kcheck "kafka://$GAMIFY_TEST_KAFKA/$ktopic"
        [ "$rc" = 0 ] || fail "config kafka topic: exit $rc: $out"
        grep -qF 'log: ok (Kafka topic with 4 partitions)' <<<"$out" ||
            fail "config kafka topic: no partition count in: $out"
        echo "ok: config kafka topic (${secs}s): $(grep -F 'log:' <<<"$out")"
        kcheck "kafka://127.0.0.1:$dead/$ktopic"
        [ "$rc" != 0 ] || fail "config kafka unreachable: exit 0: $out"
        grep -qF "no Kafka broker reachable at 127.0.0.1:$dead" <<<"$out" ||
            fail "config kafka unreachable: no clear message in: $out"
        [ "$secs" -le 12 ] || fail "config kafka unreachable: took ${secs}s"
        echo "ok: config kafka unreachable (exit $rc, ${secs}s): $(grep -F 'Kafka' <<<"$out" | head -n1)"
        # A "broker" that accepts connections and never answers: the check
        # gives up after its own bound (5 s for Kafka), not librdkafka's.
        python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
held = []
while True:
    held.append(s.accept()[0])
' > "$tmp/silent.port" &
        silent_pid=$!
        for _ in $(seq 50); do [ -s "$tmp/silent.port" ] && break; sleep 0.1; done
        silent=$(cat "$tmp/silent.port")
        kcheck "kafka://127.0.0.1:$silent/$ktopic"
        kill "$silent_pid" 2>/dev/null || true
        [ "$rc" != 0 ] || fail "config kafka silent: exit 0: $out"
        grep -qF "no Kafka broker at 127.0.0.1:$silent answered within 5000 ms" <<<"$out" ||
            fail "config kafka silent: no clear message in: $out"
        [ "$secs" -le 8 ] || fail "config kafka silent: took ${secs}s"
        echo "ok: config kafka silent (exit $rc, ${secs}s): $(grep -F 'Kafka' <<<"$out" | head -n1)"
        n=$((n + 3))
    else
        echo "note: no GAMIFY_TEST_KAFKA, the kafka:// checks did not run"
    fi
    echo "ok: config: $n checks"
    exit 0
fi

# Learners active over the last 11 days (so the current week and month
# have scores, and earlier ones are kept), then the examples.
now=$(date +%s)
"$gen" --events 3000 --users 120 --seed 7 --start $((now - 12 * 86400)) --span-days 11 \
    > "$tmp/events.jsonl"
cat "$examples/events.jsonl" >> "$tmp/events.jsonl"
at=$(date -u -d "@$((now - 3600))" +%Y-%m-%dT%H:%M:%SZ)
echo "{\"eventId\":\"buyer-1\",\"userId\":\"buyer\",\"occurredAt\":\"$at\",\"source\":\"admin\",\"adjustment\":{\"coins\":120,\"reason\":\"test\"}}" \
    >> "$tmp/events.jsonl"
# Equal scores on the board tie-club (check.mjs): 40 each, reached by tie-b
# first, tie-a 2 minutes later, tie-d 30 s after tie-a (the same minute),
# tie-c last; names chosen so that id order gives neither ranking.
t0=$(((now - 3600) / 60 * 60))
for tie in b:0 a:120 d:150 c:300; do
    at=$(date -u -d "@$((t0 + ${tie#*:}))" +%Y-%m-%dT%H:%M:%SZ)
    echo "{\"eventId\":\"tie-${tie%%:*}\",\"userId\":\"tie-${tie%%:*}\",\"occurredAt\":\"$at\",\"source\":\"admin\",\"groupIds\":[\"tie-club\"],\"adjustment\":{\"exp\":40,\"reason\":\"tie\"}}"
done >> "$tmp/events.jsonl"
end=$("$gamify" produce --log "file:$tmp/log" "$tmp/events.jsonl" 2>&1 | sed -n 's/.*log end offset //p')
start
wait_for gamify_source_offset "$end"
wait_for gamify_postgres_projector_lag_changes 0
wait_for gamify_redis_projector_lag_changes 0
"$gamify" dump --state "$tmp/state" > "$tmp/dump.jsonl" || fail "dump"

export GM_GQL_RUN="$build/tests/api/gql_run" GM_SCHEMA="$here/../../api/schema.graphql"
export GM_PG="$pg" GM_REDIS="$redis_url" GM_PREFIX="$prefix" GM_LOG="file:$tmp/log"
export GM_DUMP="$tmp/dump.jsonl" GM_RULES="$examples/rules.yaml" GM_TMP="$tmp"
export GM_PROC_PID="$pid" GM_GAMIFY="$gamify" GM_PROC="$proc" GM_STATE="$tmp/state"

# http and sse: gamify-api over the same servers, with an HS256 secret and
# tokens minted by deploy/local/mint-token.
if [ "$check" = http ] || [ "$check" = sse ]; then
    if [ "$check" = sse ] && [ ! -f "$here/node_modules/graphql-sse/package.json" ]; then
        (
            flock -w 600 9 || exit 1 # another check may be installing
            [ -f "$here/node_modules/graphql-sse/package.json" ] && exit 0
            cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2
        ) 9>"$here/.npm-install.lock" || fail "npm ci in $here"
    fi
    head -c 48 /dev/urandom | base64 >"$tmp/jwt.secret"
    aport=$(port)
    # sse: rewards (2 a minute) shows that streams are rate limited too.
    limits='*=100000'
    [ "$check" = sse ] && limits='*=100000,rewards=2'
    "$build/api/gamify-api" --listen "127.0.0.1:$aport" --postgres "$pg" \
        --redis "$GAMIFY_TEST_REDIS" --redis-prefix "$prefix" --log "file:$tmp/log" \
        --jwt-hs256-secret-file "$tmp/jwt.secret" --threads 2 --rate-limits "$limits" \
        --streams-per-user 2 --timeout-seconds 4 --redeem-wait-ms 10000 \
        --stream-lease-seconds 3 2>>"$tmp/api.err" &
    apid=$!
    for _ in $(seq 100); do
        kill -0 "$apid" 2>/dev/null || { tail -n 20 "$tmp/api.err" >&2; fail "gamify-api exited"; }
        curl -fs "http://127.0.0.1:$aport/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    export GM_API_URL="http://127.0.0.1:$aport" GM_SECRET="$tmp/jwt.secret"
    export GM_MINT="$here/../../deploy/local/mint-token"
fi
# http: a second gamify-api whose leaderboard pages are cached for a minute
# (only a leaderboard-changed message can refresh them in the test's time;
# no board mirror, which would answer without the page cache)
# and whose leaderboard limit is 5 a minute (the check its script carries).
if [ "$check" = http ]; then
    aport2=$(port)
    "$build/api/gamify-api" --listen "127.0.0.1:$aport2" --postgres "$pg" \
        --redis "$GAMIFY_TEST_REDIS" --redis-prefix "$prefix" --log "file:$tmp/log" \
        --jwt-hs256-secret-file "$tmp/jwt.secret" --threads 2 --page-cache-ms 60000 \
        --mirror-members 0 --rate-limits 'leaderboard=5,*=100000' 2>>"$tmp/api.err" &
    apid2=$!
    for _ in $(seq 100); do
        kill -0 "$apid2" 2>/dev/null || { tail -n 20 "$tmp/api.err" >&2; fail "gamify-api exited"; }
        curl -fs "http://127.0.0.1:$aport2/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    export GM_API_URL2="http://127.0.0.1:$aport2"
fi
# sse: a second replica sharing the per-user stream limit through Redis
# leases of 3 s; its pings are 15 s apart (--timeout-seconds 60), so only the
# watcher of closed sockets can free a slot sooner; it serves only the
# allow-listed document GM_SUB_DOC.
if [ "$check" = sse ]; then
    export GM_SUB_DOC='subscription { leaderboardChanged(first: 3) { board totalCount entries { rank userId score } } }'
    GM_SUB_SHA=$(printf '%s' "$GM_SUB_DOC" | sha256sum | cut -d' ' -f1)
    export GM_SUB_SHA
    printf '{"%s": "%s"}\n' "$GM_SUB_SHA" "$GM_SUB_DOC" >"$tmp/allow.json"
    aport2=$(port)
    "$build/api/gamify-api" --listen "127.0.0.1:$aport2" --postgres "$pg" \
        --redis "$GAMIFY_TEST_REDIS" --redis-prefix "$prefix" --log "file:$tmp/log" \
        --jwt-hs256-secret-file "$tmp/jwt.secret" --threads 2 --rate-limits '*=100000' \
        --streams-per-user 2 --timeout-seconds 60 --stream-lease-seconds 3 \
        --persisted-queries allowlist --allowlist "$tmp/allow.json" 2>>"$tmp/api2.err" &
    apid2=$!
    for _ in $(seq 100); do
        kill -0 "$apid2" 2>/dev/null || { tail -n 20 "$tmp/api2.err" >&2; fail "gamify-api 2 exited"; }
        curl -fs "http://127.0.0.1:$aport2/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    export GM_API_URL2="http://127.0.0.1:$aport2" GM_API_PID2=$apid2
    # Two more replicas that sse.mjs starts itself, their Redis behind a relay it cuts.
    export GM_API_BIN="$build/api/gamify-api"
fi
script=check.mjs
[ "$check" = sse ] && script=sse.mjs
node "$here/$script" "$check" || { [ -f "$tmp/api.err" ] && tail -n 20 "$tmp/api.err" >&2; fail "check $check"; }
# http: the Redis calls of concurrent requests share round trips (--redis-batch,
# api/resolvers/rbatch.c; off by default, 32 here). A third server with 8 threads and a leaderboard limit
# of 3 a minute; Redis is paused (CLIENT PAUSE) while 8 requests of one learner
# come in: the first round trip waits, the other 7 calls queue and go in one.
# The limit stays exact (3 answered, 5 refused), the answers are those of the
# first server, and the calls outnumber the round trips (a request after the
# first refusal is refused without a call).
if [ "$check" = http ]; then
    aport3=$(port)
    "$build/api/gamify-api" --listen "127.0.0.1:$aport3" --postgres "$pg" \
        --redis "$GAMIFY_TEST_REDIS" --redis-prefix "$prefix" --log "file:$tmp/log" \
        --jwt-hs256-secret-file "$tmp/jwt.secret" --threads 8 --page-cache-ms 0 \
        --mirror-members 0 --rate-limits 'leaderboard=3,*=100000' \
        --redis-batch "${GM_TEST_REDIS_BATCH:-32}" \
        2>>"$tmp/api3.err" &
    apid3=$!
    for _ in $(seq 100); do
        kill -0 "$apid3" 2>/dev/null || { tail -n 20 "$tmp/api3.err" >&2; fail "gamify-api 3 exited"; }
        curl -fs "http://127.0.0.1:$aport3/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    metric() { curl -fs "http://127.0.0.1:$aport3/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
    tok=$("$GM_MINT" "$GM_SECRET" batch-user)
    doc='{"query":"{ leaderboard(first: 3) { totalCount entries { rank userId score } } }"}'
    want=$(curl -fs "$GM_API_URL/graphql" -H "Authorization: Bearer $("$GM_MINT" "$GM_SECRET" batch-ref)" \
        -H 'Content-Type: application/json' -d "$doc")
    lease='gamify_api_rate_limit_decisions_total{where="lease"}'
    c0=$(metric gamify_api_redis_calls_total) t0=$(metric gamify_api_redis_round_trips_total)
    k0=$(metric "$lease")
    rcli CLIENT PAUSE 1500 ALL >/dev/null
    bpids=()
    for i in $(seq 8); do
        curl -s -o "$tmp/batch.$i" -w '%{http_code}' "http://127.0.0.1:$aport3/graphql" \
            -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' -d "$doc" \
            >"$tmp/batch.$i.code" &
        bpids+=($!)
    done
    wait "${bpids[@]}"
    c1=$(metric gamify_api_redis_calls_total) t1=$(metric gamify_api_redis_round_trips_total)
    k1=$(metric "$lease")
    kill -TERM "$apid3"
    wait "$apid3" || fail "gamify-api 3 exited $? after SIGTERM"
    apid3=
    ok=0 limited=0
    for i in $(seq 8); do
        case $(cat "$tmp/batch.$i.code") in
        200)
            ok=$((ok + 1))
            [ "$(cat "$tmp/batch.$i")" = "$want" ] ||
                fail "a batched answer differs: $(cat "$tmp/batch.$i") against $want"
            ;;
        429) limited=$((limited + 1)) ;;
        *) fail "batched request $i: HTTP $(cat "$tmp/batch.$i.code"): $(cat "$tmp/batch.$i")" ;;
        esac
    done
    [ "$ok" = 3 ] && [ "$limited" = 5 ] ||
        fail "8 leaderboard requests with a limit of 3: $ok answered, $limited refused"
    # A request that comes after a refusal is refused by the kept refusal
    # (docs/api.md "Rate limits"), without a Redis call; every other one is a call.
    [ $((c1 - c0 + k1 - k0)) = 8 ] ||
        fail "8 leaderboard requests made $((c1 - c0)) Redis calls and $((k1 - k0)) kept refusals"
    [ $((c1 - c0)) -ge 4 ] || fail "8 leaderboard requests made $((c1 - c0)) Redis calls (want 4 or more)"
    [ $((t1 - t0)) -lt $((c1 - c0)) ] || fail "$((c1 - c0)) concurrent Redis calls took $((t1 - t0)) round trips"
    echo "ok: 8 concurrent leaderboard requests: $((c1 - c0)) Redis calls in $((t1 - t0))" \
        "round trips, 3 answered, 5 refused"
fi
# sse: a stream open at SIGTERM gets complete and ends; the API exits 0.
cpid=
if [ "$check" = sse ]; then
    tok=$("$GM_MINT" "$GM_SECRET" drain-user)
    curl -sN "$GM_API_URL/graphql/stream" -H "Authorization: Bearer $tok" \
        -H 'Content-Type: application/json' -H 'Accept: text/event-stream' \
        -d '{"query":"subscription { leaderboardChanged(first: 1) { totalCount } }"}' \
        >"$tmp/stream.out" 2>&1 &
    cpid=$!
    for _ in $(seq 100); do
        grep -q '^event: next' "$tmp/stream.out" && break
        sleep 0.1
    done
    grep -q '^event: next' "$tmp/stream.out" || fail "no first page on a stream: $(cat "$tmp/stream.out")"
fi
if [ -n "$apid" ]; then
    kill -TERM "$apid"
    rc=0
    wait "$apid" || rc=$?
    apid=
    [ "$rc" = 0 ] || fail "gamify-api exited $rc after SIGTERM"
fi
if [ -n "$cpid" ]; then
    for _ in $(seq 50); do
        kill -0 "$cpid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$cpid" 2>/dev/null && { kill "$cpid"; fail "the stream stayed open after SIGTERM"; }
    tail -n 5 "$tmp/stream.out" | grep -q '^event: complete' ||
        fail "the stream did not end with complete: $(tail -c 300 "$tmp/stream.out")"
    echo "ok: a stream open at SIGTERM got complete"
fi
