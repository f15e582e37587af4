#!/usr/bin/env bash
# tests/http/run.sh API CHECK: gamify-api's HTTP layer against running
# servers. API is a gamify-api binary (the tests link the stub resolvers of
# stub_backend.c); Redis is the one tests/run starts (GAMIFY_TEST_REDIS).
# Tokens are minted by jwt.mjs (node). CHECK is one of:
#   auth          missing, expired, not yet valid, wrong iss/aud, bad
#                 signature, alg none, HS256 signed with the RS256 public
#                 key, bad role: 401 with WWW-Authenticate; good ones pass
#   http          GET mutation 405, methods, Accept 406, Content-Type 415,
#                 body and header limits, request ids, /healthz /readyz
#                 /metrics, internal errors masked
#   ratelimit     the 21st redeemReward in a minute is refused (429,
#                 RATE_LIMITED, Retry-After, RateLimit), across two servers;
#                 leases of cells, refusals kept, --rate-limit-lease 1
#   redis-down    Redis unreachable: limits still hold, locally, and
#                 /readyz and /metrics say so
#   drain         SIGTERM: a request in progress is answered (Connection:
#                 close), new connections refused, exit 0
#   config        --check-config, --help, environment, bad settings
#   audit         graphql-http's serverAudits: every audit passes
#   introspection graphql-js round trip; --introspection false refuses it
#   persisted     automatic persisted queries and the allow-list mode
#   connections   1,000 connections open at once, all answered, with the
#                 server started under a soft limit of 512 open files (it raises it)
# Exit 0 when the check passes, 1 when it fails, 77 (skip) without Redis or
# node unless GAMIFY_TEST_REQUIRE_SERVERS=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
API=${1:?usage: run.sh API CHECK}
CHECK=${2:?usage: run.sh API CHECK}
# shellcheck source=../processor/lib.sh
. "$ROOT/tests/processor/lib.sh"

unavailable() {
    echo "api-$CHECK: $*" >&2
    if [ "${GAMIFY_TEST_REQUIRE_SERVERS:-0}" = 1 ]; then
        exit 1
    fi
    echo "api-$CHECK: skipped" >&2
    exit 77
}
[ -n "${GAMIFY_TEST_REDIS:-}" ] || unavailable "GAMIFY_TEST_REDIS is not set (tests/run sets it)"
command -v node >/dev/null 2>&1 || unavailable "node is not installed"
command -v curl >/dev/null 2>&1 || unavailable "curl is not installed"
if [ "$CHECK" = audit ] || [ "$CHECK" = introspection ]; then
    # Two checks may start at once (meson runs tests in parallel): one
    # installs under the lock, the other waits and finds it installed.
    if [ ! -f "$HERE/node_modules/graphql-http/package.json" ]; then
        command -v npm >/dev/null 2>&1 || unavailable "npm is not installed"
        (
            flock -w 600 9 || exit 1
            [ -f "$HERE/node_modules/graphql-http/package.json" ] && exit 0
            cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >&2
        ) 9>"$HERE/.npm-install.lock" || unavailable "npm ci failed in $HERE"
    fi
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/gamify-api-test.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap cleanup EXIT

FAILS=0
fail() {
    echo "FAIL: $*"
    FAILS=$((FAILS + 1))
}
pass() {
    echo "ok: $*"
}

head -c 48 /dev/urandom | base64 >"$T/hs.secret"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rs.key" 2>/dev/null
openssl pkey -in "$T/rs.key" -pubout -out "$T/rs.pub"
# A unique prefix per run keeps this run's rate-limit keys apart from others'.
PREFIX="gamify-test-$$-$RANDOM:"

# token KIND [CLAIMS-JSON]: a token (see jwt.mjs)
token() {
    local kind=$1 key
    case $kind in
    hs256 | badsig) key=$T/hs.secret ;;
    rs256) key=$T/rs.key ;;
    *) key=$T/rs.pub ;;
    esac
    node "$HERE/jwt.mjs" "$kind" "$key" "${2:-{\}}"
}

# start NAME ARGS...: starts gamify-api on a free port (another one when
# that port was taken meanwhile); sets PORT and PID; the log is $T/NAME.log.
# KEY_ARGS (default: both test keys), REDIS_URL (default GAMIFY_TEST_REDIS)
# NOFILE (a soft open-files limit) and WRAP (a command to run it under)
# change how it starts.
start() {
    local name=$1
    shift
    local keys=(--jwt-hs256-secret-file "$T/hs.secret" --jwt-rs256-public-key "$T/rs.pub")
    [ -n "${KEY_ARGS:-}" ] && read -r -a keys <<<"$KEY_ARGS"
    for _ in 1 2 3; do
        PORT=$(port)
        (
            [ -n "${NOFILE:-}" ] && ulimit -Sn "$NOFILE"
            # shellcheck disable=SC2086
            exec ${WRAP:-} "$API" --listen "127.0.0.1:$PORT" --postgres "stub" --log "file:$T/log" \
                --redis "${REDIS_URL:-$GAMIFY_TEST_REDIS}" --redis-prefix "$PREFIX" --threads 2 \
                "${keys[@]}" "$@"
        ) >>"$T/$name.log" 2>&1 &
        PID=$!
        PIDS+=("$PID")
        for _ in $(seq 100); do
            if curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
                return 0
            fi
            kill -0 "$PID" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$PID" 2>/dev/null || true
    done
    echo "gamify-api did not start; its log:"
    cat "$T/$name.log"
    exit 1
}

# stop PID: SIGTERM, then its exit status in STOP_RC
stop() {
    kill -TERM "$1"
    STOP_RC=0
    wait "$1" || STOP_RC=$?
}

# burst_most LIMIT T0 T1: the most requests a per-minute LIMIT allows from
# T0 to T1 (ns): the limit at once, a slot per 60/LIMIT s after, and one
# for the edge
burst_most() {
    echo $(($1 + ($3 - $2) * $1 / 60000000000 + 1))
}

# gql PORT TOKEN JSON [CURL-ARGS...]: POST /graphql; the body in $T/body,
# headers in $T/headers; prints the status
gql() {
    local port=$1 tok=$2 json=$3
    shift 3
    local auth=()
    [ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
    curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "${auth[@]}" \
        -H "Content-Type: ${CT:-application/json}" --data-binary "$json" "$@" \
        "http://127.0.0.1:$port/graphql"
}

# expect WHAT WANT GOT
expect() {
    if [ "$2" = "$3" ]; then
        pass "$1"
    else
        fail "$1: expected $2, got $3 ($(head -c 300 "$T/body" 2>/dev/null))"
    fi
}

# header NAME: the value of a response header of the last request
header() {
    grep -i "^$1:" "$T/headers" | head -n1 | cut -d: -f2- | sed 's/^ //; s/\r$//'
}

# body_has TEXT: whether the last body contains TEXT
body_has() {
    grep -qF -- "$1" "$T/body"
}

Q_PROFILE='{"query":"{ userProfile { userId } }"}'

check_auth() {
    start api --jwt-issuer gamify-test --jwt-audience gamify-api --jwt-leeway-seconds 30
    local now good
    now=$(date +%s)
    good='{"iss":"gamify-test","aud":"gamify-api"}'
    expect "HS256 token accepted" 200 "$(gql "$PORT" "$(token hs256 "$good")" "$Q_PROFILE")"
    body_has '"userId":"u1"' && pass "sub is the user id" || fail "sub not the user id: $(cat "$T/body")"
    expect "RS256 token accepted" 200 \
        "$(gql "$PORT" "$(token rs256 '{"iss":"gamify-test","aud":["other","gamify-api"],"sub":"rs1"}')" "$Q_PROFILE")"
    body_has '"userId":"rs1"' || fail "RS256 sub: $(cat "$T/body")"
    expect "staff role accepted" 200 \
        "$(gql "$PORT" "$(token hs256 '{"iss":"gamify-test","aud":"gamify-api","role":"staff"}')" "$Q_PROFILE")"
    expect "expired within the leeway accepted" 200 \
        "$(gql "$PORT" "$(token hs256 "{\"iss\":\"gamify-test\",\"aud\":\"gamify-api\",\"exp\":$((now - 10))}")" "$Q_PROFILE")"

    expect "missing token" 401 "$(gql "$PORT" "" "$Q_PROFILE")"
    [ "$(header WWW-Authenticate)" = 'Bearer realm="gamify"' ] && pass "WWW-Authenticate" ||
        fail "WWW-Authenticate: $(header WWW-Authenticate)"
    body_has UNAUTHENTICATED || fail "no UNAUTHENTICATED code: $(cat "$T/body")"
    local name claims
    while IFS='|' read -r name kind claims; do
        expect "$name refused" 401 "$(gql "$PORT" "$(token "$kind" "$claims")" "$Q_PROFILE")"
        header WWW-Authenticate | grep -q 'error="invalid_token"' ||
            fail "$name: WWW-Authenticate $(header WWW-Authenticate)"
    done <<EOF2
expired|hs256|{"iss":"gamify-test","aud":"gamify-api","exp":$((now - 100))}
not yet valid|hs256|{"iss":"gamify-test","aud":"gamify-api","nbf":$((now + 100))}
without exp|hs256|{"iss":"gamify-test","aud":"gamify-api","exp":null}
wrong issuer|hs256|{"iss":"someone-else","aud":"gamify-api"}
no issuer|hs256|{"aud":"gamify-api"}
wrong audience|hs256|{"iss":"gamify-test","aud":"other"}
wrong signature|badsig|$good
alg none|none|$good
HS256 signed with the RS256 public key|confused|$good
unknown role|hs256|{"iss":"gamify-test","aud":"gamify-api","role":"admin"}
no sub|hs256|{"iss":"gamify-test","aud":"gamify-api","sub":null}
EOF2
    expect "Basic scheme refused" 401 "$(gql "$PORT" "" "$Q_PROFILE" -H 'Authorization: Basic dTpw')"
    expect "garbage token refused" 401 "$(gql "$PORT" "not.a.token" "$Q_PROFILE")"
    # A valid token with a stray byte in its signature (libjwt skips it in RS256) or a
    # padded signature: not the compact form, refused before decoding.
    local rs
    rs=$(token rs256 "$good")
    expect "RS256 with a stray byte in its signature refused" 401 \
        "$(gql "$PORT" "${rs:0:$((${#rs} - 20))}!${rs: -20}" "$Q_PROFILE")"
    body_has "malformed token" || fail "reason: $(cat "$T/body")"
    expect "padded signature refused" 401 "$(gql "$PORT" "$rs=" "$Q_PROFILE")"
    stop "$PID"
    # RS256 only: an HS256 token made with the public key has no key to be checked against.
    KEY_ARGS="--jwt-rs256-public-key $T/rs.pub" start rs --jwt-leeway-seconds 0 --threads 1
    expect "RS256-only: RS256 accepted" 200 "$(gql "$PORT" "$(token rs256)" "$Q_PROFILE")"
    expect "RS256-only: HS256 with the public key refused" 401 \
        "$(gql "$PORT" "$(token confused)" "$Q_PROFILE")"
    # A token verified once (and cached by the one thread) still expires.
    # (10 s of life: both requests must come before it ends on a slow machine)
    local short exp=$(($(date +%s) + 10))
    short=$(token rs256 "{\"exp\":$exp}")
    expect "short-lived token accepted" 200 "$(gql "$PORT" "$short" "$Q_PROFILE")"
    expect "and again (cached)" 200 "$(gql "$PORT" "$short" "$Q_PROFILE")"
    while [ "$(date +%s)" -le $((exp + 1)) ]; do sleep 0.2; done
    expect "the same token once expired" 401 "$(gql "$PORT" "$short" "$Q_PROFILE")"
    body_has "token expired" || fail "reason: $(cat "$T/body")"
    stop "$PID"
}

check_http() {
    start api --max-body-bytes 4096 --max-header-bytes 8192 --body-timeout-seconds 1
    local tok
    tok=$(token hs256)
    local url="http://127.0.0.1:$PORT/graphql"
    local st
    st=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -H "Authorization: Bearer $tok" \
        -H 'Accept: application/graphql-response+json' \
        --get --data-urlencode 'query=mutation { redeemReward(rewardId: "r1") { status } }' "$url")
    expect "GET mutation" 405 "$st"
    [ "$(header Allow)" = POST ] && pass "Allow: POST" || fail "Allow: $(header Allow)"
    st=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -H "Authorization: Bearer $tok" \
        --get --data-urlencode 'query={ userProfile { userId } }' "$url")
    expect "GET query" 200 "$st"
    header Content-Type | grep -q '^application/json' && pass "GET without Accept: application/json" ||
        fail "Content-Type $(header Content-Type)"
    expect "POST mutation" 200 "$(gql "$PORT" "$tok" '{"query":"mutation { redeemReward(rewardId: \"r1\") { status } }"}')"
    expect "graphql-response+json" 200 "$(gql "$PORT" "$tok" "$Q_PROFILE" -H 'Accept: application/graphql-response+json')"
    header Content-Type | grep -q '^application/graphql-response+json' && pass "its Content-Type" ||
        fail "Content-Type $(header Content-Type)"
    expect "validation error with graphql-response+json" 400 \
        "$(gql "$PORT" "$tok" '{"query":"{ nope }"}' -H 'Accept: application/graphql-response+json')"
    expect "validation error with application/json" 200 "$(gql "$PORT" "$tok" '{"query":"{ nope }"}' -H 'Accept: application/json')"
    expect "PUT" 405 "$(gql "$PORT" "$tok" "$Q_PROFILE" -X PUT)"
    expect "Accept: text/html" 406 "$(gql "$PORT" "$tok" "$Q_PROFILE" -H 'Accept: text/html')"
    expect "Content-Type text/plain" 415 "$(CT=text/plain gql "$PORT" "$tok" "$Q_PROFILE")"
    expect "Content-Type charset latin1" 415 \
        "$(CT='application/json; charset=iso-8859-1' gql "$PORT" "$tok" "$Q_PROFILE")"
    expect "body not JSON" 400 "$(gql "$PORT" "$tok" '{"query": ')"
    local big
    big=$(head -c 6000 /dev/zero | tr '\0' ' ')
    expect "body over --max-body-bytes" 413 "$(gql "$PORT" "$tok" "{\"query\":\"{ __typename $big}\"}")"
    expect "chunked body over --max-body-bytes" 413 \
        "$(gql "$PORT" "$tok" "{\"query\":\"{ __typename $big}\"}" -H 'Transfer-Encoding: chunked')"
    st=$(gql "$PORT" "$tok" "$Q_PROFILE" -H "X-Big: $(head -c 12000 /dev/zero | tr '\0' a)")
    if [ "$st" -ge 400 ] && [ "$st" -lt 500 ]; then pass "headers over --max-header-bytes: $st"; else fail "big headers: $st"; fi
    expect "headers under --max-header-bytes" 200 "$(gql "$PORT" "$tok" "$Q_PROFILE" -H "X-Mid: $(head -c 6000 /dev/zero | tr '\0' a)")"
    expect "still serving" 200 "$(gql "$PORT" "$tok" "$Q_PROFILE")"
    # A body trickling in past --body-timeout-seconds: the connection is closed unanswered.
    exec 3<>"/dev/tcp/127.0.0.1/$PORT"
    printf 'POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 26\r\n\r\n{"query":' "$tok" >&3
    sleep 2.5 # past --body-timeout-seconds 1 with room for a slow server
    printf '"{ __typename }"}' >&3 2>/dev/null || true
    local answer
    answer=$(timeout 5 cat <&3 || true)
    exec 3<&-
    [ -z "$answer" ] && pass "a trickling body: connection closed" || fail "trickling body answered: $answer"
    [ "$(header X-Request-Id | wc -c)" -ge 16 ] && pass "a generated X-Request-Id" || fail "X-Request-Id: $(header X-Request-Id)"
    gql "$PORT" "" "$Q_PROFILE" -H 'X-Request-Id: trace-abc.123' >/dev/null
    [ "$(header X-Request-Id)" = trace-abc.123 ] && pass "the client's X-Request-Id" ||
        fail "X-Request-Id: $(header X-Request-Id)"
    grep -q '"request_id":"trace-abc.123"' "$T/api.log" && pass "request id in the log" ||
        fail "request id not in the log: $(tail -n 3 "$T/api.log")"
    gql "$PORT" "" "$Q_PROFILE" -H 'X-Request-Id: bad id"' >/dev/null
    [ "$(header X-Request-Id)" != 'bad id"' ] && pass "an unsafe X-Request-Id replaced" || fail "unsafe request id echoed"
    expect "internal error, 200 with data" 200 \
        "$(gql "$PORT" "$tok" '{"query":"{ streaks(userId: \"boom\") { currentStreak } userProfile { userId } }"}')"
    if body_has INTERNAL_SERVER_ERROR && ! body_has 10.9.8.7 && ! body_has secret_user; then
        pass "internal error masked"
    else
        fail "internal error not masked: $(cat "$T/body")"
    fi
    grep -q 'secret_user' "$T/api.log" && pass "its details in the log" || fail "details not logged"
    expect "unknown path" 404 "$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$PORT/nope")"
    expect "/healthz" 200 "$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")"
    expect "/readyz" 200 "$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")"
    body_has "rate limits: shared" || fail "/readyz: $(cat "$T/body")"
    curl -s "http://127.0.0.1:$PORT/metrics" >"$T/metrics"
    local m
    for m in 'gamify_api_requests_total{operation="userProfile",status="200"}' \
        'gamify_api_requests_total{operation="redeemReward",status="405"}' \
        'gamify_api_requests_total{operation="none",status="413"}' \
        'gamify_api_request_duration_seconds_bucket{le="+Inf"}' \
        'gamify_api_document_cache_total{result="hit"}' 'gamify_api_rate_limit_local 0' \
        'gamify_api_internal_errors_total 1' 'gamify_api_auth_failures_total' \
        'gamify_api_body_timeouts_total 1'; do
        grep -qF "$m" "$T/metrics" && pass "metric $m" || fail "metric $m missing"
    done
    # whole lines: these three once printed each other's values (a missing
    # argument: body timeouts showed the requests in flight, the streams garbage)
    for m in 'gamify_api_body_timeouts_total 1' 'gamify_api_requests_in_flight 1' \
        'gamify_api_streams_open 0'; do
        grep -qxF "$m" "$T/metrics" && pass "metric line $m" ||
            fail "metric line $m: $(grep -E "^${m%% *} " "$T/metrics")"
    done
    local hits
    hits=$(grep -F 'gamify_api_document_cache_total{result="hit"}' "$T/metrics" | awk '{print $2}')
    [ "${hits:-0}" -ge 1 ] && pass "document cache hits counted ($hits)" || fail "cache hits $hits"
    stop "$PID"
    expect "exit status after SIGTERM" 0 "$STOP_RC"
    # /readyz follows the backend
    touch "$T/not-ready"
    GAMIFY_STUB_NOT_READY="$T/not-ready" start api2
    expect "/readyz, backend not ready" 503 "$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")"
    stop "$PID"
}

Q_REDEEM='{"query":"mutation { redeemReward(rewardId: \"r1\") { status } }"}'

check_ratelimit() {
    start a
    local pa=$PORT pida=$PID
    start b
    local pb=$PORT pidb=$PID
    local tok other st i n=0 refuser='' otherp t0 t1 most
    tok=$(token hs256 "{\"sub\":\"rl-$$\"}")
    other=$(token hs256 "{\"sub\":\"rl-other-$$\"}")
    # 20 a minute is a slot every 3 s: a slow machine may see slots freed
    # while the burst runs, so the allowed count is 20 plus those, never fewer
    t0=$(date +%s%N)
    for i in $(seq 26); do
        if [ $((i % 2)) = 0 ]; then otherp=$pb refuser=$pa; else otherp=$pa refuser=$pb; fi
        st=$(gql "$refuser" "$tok" "$Q_REDEEM")
        [ "$st" = 429 ] && break
        [ "$st" = 200 ] || fail "redeemReward $i: $st"
        n=$((n + 1)) refuser=
    done
    t1=$(date +%s%N)
    most=$(burst_most 20 "$t0" "$t1")
    [ -n "$refuser" ] && [ "$n" -ge 20 ] && [ "$n" -le "$most" ] &&
        pass "$n redeemReward over two servers, then 429 (at most $most)" ||
        fail "redeemReward over two servers: $n allowed, refused: ${refuser:-never}, at most $most"
    body_has '"code":"RATE_LIMITED"' && pass "RATE_LIMITED" || fail "code: $(cat "$T/body")"
    [ "$(header Retry-After)" -ge 1 ] 2>/dev/null && pass "Retry-After $(header Retry-After)" ||
        fail "Retry-After: $(header Retry-After)"
    header RateLimit | grep -q 'limit=20, remaining=0' && pass "RateLimit: $(header RateLimit)" ||
        fail "RateLimit: $(header RateLimit)"
    [ "$(header RateLimit-Policy)" = '20;w=60' ] && pass "RateLimit-Policy" || fail "RateLimit-Policy: $(header RateLimit-Policy)"
    # the other server refuses too, unless a slot was freed meanwhile (3 s after the first)
    st=$(gql "$otherp" "$tok" "$Q_REDEEM")
    if [ "$st" = 429 ] || { [ "$st" = 200 ] && [ $(($(date +%s%N) - t0)) -ge 3000000000 ]; }; then
        pass "the other server: $st"
    else
        fail "the other server: $st"
    fi
    expect "another operation of the same user" 200 "$(gql "$pa" "$tok" "$Q_PROFILE")"
    expect "another user" 200 "$(gql "$pb" "$other" "$Q_REDEEM")"
    # (a file, not a pipe: grep -q closing the pipe early would fail curl under pipefail)
    curl -s "http://127.0.0.1:${refuser:-$pa}/metrics" >"$T/metrics"
    grep -qF 'gamify_api_rate_limited_total{operation="redeemReward"} 1' "$T/metrics" &&
        pass "rate-limit rejections counted" || fail "rate_limited metric: $(grep rate_limited_total "$T/metrics")"
    # A configured limit: 3 per minute for userProfile.
    start c --rate-limits 'userProfile=3'
    local u3
    u3=$(token hs256 "{\"sub\":\"rl3-$$\"}")
    for i in 1 2 3; do st=$(gql "$PORT" "$u3" "$Q_PROFILE"); [ "$st" = 200 ] || fail "userProfile $i: $st"; done
    expect "--rate-limits userProfile=3: the 4th" 429 "$(gql "$PORT" "$u3" "$Q_PROFILE")"
    # a query runs while Redis decides: its refused answer must not leak
    grep -q '"data"' "$T/body" && fail "the refused userProfile's data was sent: $(head -c 300 "$T/body")"
    body_has RATE_LIMITED || fail "the 4th userProfile: $(head -c 300 "$T/body")"
    expect "--rate-limits without *: other operations unlimited" 200 "$(gql "$PORT" "$u3" "$Q_REDEEM")"
    stop "$PID"
    # A field hidden under @skip still counts. One redeemReward a minute: a
    # slot frees 60 s after it was taken, far beyond the two requests here
    # (with the 20-a-minute limit a slot freed every 3 s, and a slow machine
    # could find the skipped request allowed because of that alone).
    start d --rate-limits 'redeemReward=1'
    local sk
    sk=$(token hs256 "{\"sub\":\"rl-skip-$$\"}")
    expect "redeemReward under @skip takes the minute's one slot" 200 \
        "$(gql "$PORT" "$sk" '{"query":"mutation { redeemReward(rewardId: \"r1\") @skip(if: true) { status } }"}')"
    expect "so a plain redeemReward after it is refused" 429 "$(gql "$PORT" "$sk" "$Q_REDEEM")"
    expect "a skipped one is refused too once the slot is taken" 429 \
        "$(gql "$PORT" "$sk" '{"query":"mutation { redeemReward(rewardId: \"r1\") @skip(if: true) { status } }"}')"
    stop "$PID"
    # The default limits of the history and catalogue queries (GM_API_RL_DEFAULT).
    # The first request's headers state the limit; then a burst of 1.5 times
    # the limit over one connection: the limit is a rate (a slot frees every
    # 60/limit s), so the allowed count is the limit plus the slots freed
    # while the burst ran, never fewer, and a refusal must come.
    start e
    local op q want u n t0 t1 most
    while IFS='|' read -r op want q; do
        u=$(token hs256 "{\"sub\":\"rl-def-$op-$$\"}")
        t0=$(date +%s%N)
        expect "$op allowed" 200 "$(gql "$PORT" "$u" "$q")"
        body_has '"errors"' && fail "$op: $(head -c 300 "$T/body")"
        header RateLimit | grep -q "limit=$want, remaining=$((want - 1))" && pass "$op RateLimit: $(header RateLimit)" ||
            fail "$op RateLimit: $(header RateLimit)"
        [ "$(header RateLimit-Policy)" = "$want;w=60" ] && pass "$op RateLimit-Policy $want;w=60" ||
            fail "$op RateLimit-Policy: $(header RateLimit-Policy)"
        printf 'url = "http://127.0.0.1:%s/graphql"\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\ndata-binary = "%s"\noutput = /dev/null\nwrite-out = "%%{http_code}\\n"\n' \
            "$PORT" "$u" "$(printf '%s' "$q" | sed 's/\\/\\\\/g; s/"/\\"/g')" >"$T/one.cfg"
        for _ in $(seq $((want * 3 / 2))); do cat "$T/one.cfg"; echo next; done | sed '$d' >"$T/many.cfg"
        curl -s -K "$T/many.cfg" >"$T/codes"
        t1=$(date +%s%N)
        # allowed before the first refusal, counting the request above
        n=$(($(sed '/^429$/,$d' "$T/codes" | grep -c '^200$' || true) + 1))
        most=$(burst_most "$want" "$t0" "$t1")
        if grep -q '^429$' "$T/codes" && [ "$n" -ge "$want" ] && [ "$n" -le "$most" ]; then
            pass "$op: $n allowed in a burst (default $want a minute), then RATE_LIMITED"
        else
            fail "$op: $n allowed before a refusal (want $want to $most): $(sort "$T/codes" | uniq -c | tr '\n' ' ')"
        fi
    done <<EOF2
badgeCatalogue|100|{"query":"{ badgeCatalogue { earned } }"}
redemptions|100|{"query":"{ redemptions { totalCount } }"}
ledger|100|{"query":"{ ledger { totalCount } }"}
redemption|200|{"query":"{ redemption(id: \"x\") { id } }"}
EOF2
    stop "$PID"
    check_ratelimit_leases
    stop "$pida"
    stop "$pidb"
}

# metric_of NAME-AND-LABELS: its value in $T/metrics
metric_of() {
    awk -v m="$1" '$1 == m { print $2 }' "$T/metrics"
}

# Leases (ratelimit.h): cells taken from Redis ahead, a refusal kept until
# its Retry-After, --rate-limit-lease 1, and the bound over two replicas.
check_ratelimit_leases() {
    local u st i key pttl
    # 100 a minute: leases of 5 (a twentieth). Five requests, one Redis call.
    start lease --rate-limits 'userProfile=100'
    u=$(token hs256 "{\"sub\":\"rl-lease-$$\"}")
    expect "leased userProfile 1" 200 "$(gql "$PORT" "$u" "$Q_PROFILE")"
    # The five cells are counted in Redis at once: the pair's time moved 5 x 600 ms
    # (its key expires a second after it; one cell would give 1600 ms at most).
    key="${PREFIX}rl:{rl-lease-$$}:userProfile"
    pttl=$(redis-cli -u "$GAMIFY_TEST_REDIS" PTTL "$key")
    if [ "$pttl" -gt 1600 ] && [ "$pttl" -le 4000 ]; then
        pass "the lease is counted in Redis (PTTL $pttl)"
    else
        fail "the lease in Redis: PTTL $pttl of $key"
    fi
    for i in 2 3 4 5; do
        st=$(gql "$PORT" "$u" "$Q_PROFILE")
        [ "$st" = 200 ] || fail "leased userProfile $i: $st"
    done
    header RateLimit | grep -qE 'limit=100, remaining=9[5-9]' && pass "RateLimit from a lease: $(header RateLimit)" ||
        fail "RateLimit from a lease: $(header RateLimit)"
    curl -s "http://127.0.0.1:$PORT/metrics" >"$T/metrics"
    expect "Redis decided the first of five (a lease of 5)" 1 \
        "$(metric_of 'gamify_api_rate_limit_decisions_total{where="redis"}')"
    expect "the other four were spent from the lease" 4 \
        "$(metric_of 'gamify_api_rate_limit_decisions_total{where="lease"}')"
    # The sixth takes the next lease.
    expect "the sixth" 200 "$(gql "$PORT" "$u" "$Q_PROFILE")"
    curl -s "http://127.0.0.1:$PORT/metrics" >"$T/metrics"
    expect "a sixth request asks Redis again" 2 \
        "$(metric_of 'gamify_api_rate_limit_decisions_total{where="redis"}')"
    stop "$PID"

    # A refusal is kept until its Retry-After: the next request of the pair is
    # refused without Redis (2 a minute: no lease, each allowed request asks Redis).
    start kept --rate-limits 'userProfile=2'
    u=$(token hs256 "{\"sub\":\"rl-kept-$$\"}")
    expect "userProfile=2: the first" 200 "$(gql "$PORT" "$u" "$Q_PROFILE")"
    expect "userProfile=2: the second" 200 "$(gql "$PORT" "$u" "$Q_PROFILE")"
    expect "userProfile=2: the third, refused by Redis" 429 "$(gql "$PORT" "$u" "$Q_PROFILE")"
    expect "the fourth, refused here" 429 "$(gql "$PORT" "$u" "$Q_PROFILE")"
    body_has '"code":"RATE_LIMITED"' && pass "RATE_LIMITED from a kept refusal" || fail "kept refusal: $(cat "$T/body")"
    grep -q '"data"' "$T/body" && fail "a kept refusal sent data: $(head -c 300 "$T/body")"
    [ "$(header Retry-After)" -ge 1 ] 2>/dev/null && [ "$(header Retry-After)" -le 30 ] &&
        pass "kept refusal: Retry-After $(header Retry-After)" || fail "kept refusal: Retry-After $(header Retry-After)"
    header RateLimit | grep -q 'limit=2, remaining=0' && pass "kept refusal: $(header RateLimit)" ||
        fail "kept refusal: RateLimit $(header RateLimit)"
    curl -s "http://127.0.0.1:$PORT/metrics" >"$T/metrics"
    expect "three decisions by Redis" 3 "$(metric_of 'gamify_api_rate_limit_decisions_total{where="redis"}')"
    expect "one kept refusal" 1 "$(metric_of 'gamify_api_rate_limit_decisions_total{where="lease"}')"
    expect "both refusals counted" 2 "$(metric_of 'gamify_api_rate_limited_total{operation="userProfile"}')"
    expect "another user is not refused" 200 "$(gql "$PORT" "$(token hs256 "{\"sub\":\"rl-kept2-$$\"}")" "$Q_PROFILE")"
    stop "$PID"

    # A request of two operations refused by the kept refusal of the second
    # gives back the leased cell it took of the first: the four cells left of
    # userProfile's lease of 5 still serve four requests without Redis, and
    # only four: the fifth asks Redis.
    start give --rate-limits 'userProfile=100,streaks=1'
    u=$(token hs256 "{\"sub\":\"rl-give-$$\"}")
    local q_streaks='{"query":"{ streaks { currentStreak } }"}'
    expect "give-back: userProfile takes a lease" 200 "$(gql "$PORT" "$u" "$Q_PROFILE")"
    expect "give-back: streaks=1, the first" 200 "$(gql "$PORT" "$u" "$q_streaks")"
    expect "give-back: streaks, refused by Redis" 429 "$(gql "$PORT" "$u" "$q_streaks")"
    expect "give-back: userProfile and streaks, refused by the kept refusal" 429 \
        "$(gql "$PORT" "$u" '{"query":"{ userProfile { userId } streaks { currentStreak } }"}')"
    # (the refused pair first: the pair after it took nothing and is given nothing)
    expect "give-back: streaks and userProfile, refused by the kept refusal" 429 \
        "$(gql "$PORT" "$u" '{"query":"{ streaks { currentStreak } userProfile { userId } }"}')"
    for i in 1 2 3 4 5; do
        st=$(gql "$PORT" "$u" "$Q_PROFILE")
        [ "$st" = 200 ] || fail "give-back: userProfile $i: $st"
    done
    curl -s "http://127.0.0.1:$PORT/metrics" >"$T/metrics"
    expect "give-back: Redis decided the two streaks and the first and fifth userProfile" 4 \
        "$(metric_of 'gamify_api_rate_limit_decisions_total{where="redis"}')"
    expect "give-back: two kept refusals and four leased cells" 6 \
        "$(metric_of 'gamify_api_rate_limit_decisions_total{where="lease"}')"
    stop "$PID"

    # --rate-limit-lease 1: Redis decides every request.
    start exact --rate-limits 'userProfile=100' --rate-limit-lease 1
    u=$(token hs256 "{\"sub\":\"rl-exact-$$\"}")
    for i in 1 2 3; do
        st=$(gql "$PORT" "$u" "$Q_PROFILE")
        [ "$st" = 200 ] || fail "--rate-limit-lease 1: userProfile $i: $st"
    done
    curl -s "http://127.0.0.1:$PORT/metrics" >"$T/metrics"
    expect "--rate-limit-lease 1: three decisions by Redis" 3 \
        "$(metric_of 'gamify_api_rate_limit_decisions_total{where="redis"}')"
    expect "--rate-limit-lease 1: none from leases" 0 \
        "$(metric_of 'gamify_api_rate_limit_decisions_total{where="lease"}')"
    stop "$PID"

    # Two replicas, 40 a minute (leases of 2): together they allow the limit,
    # give or take one leased cell per replica (plus the cells freed meanwhile).
    start lease-a --rate-limits 'userProfile=40'
    local p1=$PORT q1=$PID
    start lease-b --rate-limits 'userProfile=40'
    local p2=$PORT q2=$PID n=0 t0 t1 most
    u=$(token hs256 "{\"sub\":\"rl-two-$$\"}")
    t0=$(date +%s%N)
    for i in $(seq 60); do
        if [ $((i % 2)) = 0 ]; then st=$(gql "$p1" "$u" "$Q_PROFILE"); else st=$(gql "$p2" "$u" "$Q_PROFILE"); fi
        [ "$st" = 200 ] && n=$((n + 1))
    done
    t1=$(date +%s%N)
    most=$(($(burst_most 40 "$t0" "$t1") + 2))
    if [ "$n" -ge 38 ] && [ "$n" -le "$most" ]; then
        pass "two replicas with leases allowed $n of 60 (limit 40, 38 to $most)"
    else
        fail "two replicas with leases allowed $n of 60 (want 38 to $most)"
    fi
    stop "$q1"
    stop "$q2"
}

check_redis_down() {
    REDIS_URL="redis://127.0.0.1:$(port)" start api
    local tok st i n=0 t0 t1 most
    curl -s "http://127.0.0.1:$PORT/readyz" >"$T/body"
    body_has "local to this process" && pass "/readyz says so before any request" || fail "/readyz: $(cat "$T/body")"
    tok=$(token hs256 '{"sub":"down-1"}')
    # 20 a minute: 20 at once, then a slot every 3 s (as check_ratelimit)
    t0=$(date +%s%N)
    for i in $(seq 26); do
        st=$(gql "$PORT" "$tok" "$Q_REDEEM")
        [ "$st" = 429 ] && break
        [ "$st" = 200 ] || fail "redeemReward $i with Redis down: $st"
        n=$((n + 1))
    done
    t1=$(date +%s%N)
    most=$(burst_most 20 "$t0" "$t1")
    [ "$st" = 429 ] && [ "$n" -ge 20 ] && [ "$n" -le "$most" ] &&
        pass "$n redeemReward with Redis down, then 429 from the local limiter (at most $most)" ||
        fail "with Redis down: $n allowed, last $st, at most $most"
    curl -s "http://127.0.0.1:$PORT/readyz" >"$T/body"
    body_has "local to this process" && pass "/readyz says the limits are local" || fail "/readyz: $(cat "$T/body")"
    curl -s "http://127.0.0.1:$PORT/metrics" >"$T/metrics"
    grep -qF 'gamify_api_rate_limit_local 1' "$T/metrics" && pass "metric rate_limit_local 1" || fail "rate_limit_local metric"
    grep -qE 'gamify_api_rate_limit_decisions_total\{where="local"\} 2[1-9]' "$T/metrics" &&
        pass "local decisions counted" || fail "$(grep decisions "$T/metrics")"
    stop "$PID"
    expect "exit status" 0 "$STOP_RC"
}

check_drain() {
    start api
    local tok
    tok=$(token hs256)
    curl -s -o "$T/slow.body" -D "$T/slow.headers" -w '%{http_code}' -H "Authorization: Bearer $tok" \
        -H 'Content-Type: application/json' \
        --data-binary '{"query":"{ userProfile(userId: \"slow\") { userId } }"}' \
        "http://127.0.0.1:$PORT/graphql" >"$T/slow.status" &
    local curl_pid=$!
    # The slow request takes 4 s in the stub. SIGTERM goes once it is served:
    # /metrics then counts two requests in flight, itself and the slow one.
    # A poll on the thread the slow request holds would wait for it.
    # So each poll gives up after 0.3 s.
    for _ in $(seq 60); do
        curl -s -m 0.3 "http://127.0.0.1:$PORT/metrics" >"$T/metrics" || true
        [ "$(awk '$1 == "gamify_api_requests_in_flight" { print $2 }' "$T/metrics")" -ge 2 ] 2>/dev/null && break
        sleep 0.05
    done
    kill -TERM "$PID"
    sleep 0.2
    if curl -s -m 2 -o /dev/null "http://127.0.0.1:$PORT/healthz"; then
        fail "a new connection was accepted while draining"
    else
        pass "no new connections while draining"
    fi
    wait "$curl_pid" || true
    expect "the request in progress answered" 200 "$(cat "$T/slow.status")"
    grep -q '"userId":"u1"' "$T/slow.body" && pass "with its data" || fail "slow body: $(cat "$T/slow.body")"
    grep -qi '^Connection: close' "$T/slow.headers" && pass "with Connection: close" ||
        fail "no Connection: close: $(cat "$T/slow.headers")"
    local rc=0
    wait "$PID" || rc=$?
    expect "exit status after the drain" 0 "$rc"
    grep -q 'draining' "$T/api.log" && pass "drain logged" || fail "no drain in the log"
}

check_config() {
    local out rc
    rc=0
    out=$("$API" --listen 127.0.0.1:1 --postgres x --redis redis://127.0.0.1:1 --log file:/x \
        --jwt-hs256-secret-file "$T/hs.secret" --check-config 2>&1) || rc=$?
    expect "--check-config" 0 "$rc"
    echo "$out" | grep -q 'configuration ok' && pass "configuration ok printed" || fail "$out"
    rc=0
    out=$(GAMIFY_LISTEN=127.0.0.1:2 GAMIFY_POSTGRES=x GAMIFY_REDIS=redis://h GAMIFY_LOG=file:/x \
        GAMIFY_JWT_HS256_SECRET_FILE="$T/hs.secret" "$API" --check-config 2>&1) || rc=$?
    expect "settings from the environment" 0 "$rc"
    echo "$out" | grep -q '127.0.0.1:2' && pass "GAMIFY_LISTEN read" || fail "$out"
    rc=0
    out=$("$API" --help 2>&1) || rc=$?
    expect "--help" 0 "$rc"
    echo "$out" | grep -q -- '--jwt-rs256-public-key' && pass "--help lists the flags" || fail "$out"
    # its first line once read "usage: usage: gamify-api"
    local first=${out%%$'\n'*}
    [ "${first:0:18}" = "usage: gamify-api " ] &&
        pass "--help starts with one usage:" || fail "first line: $first"
    local base=(--listen 127.0.0.1:1 --postgres x --redis redis://127.0.0.1:1 --log file:/x)
    local args
    while IFS='|' read -r name args want; do
        rc=0
        # shellcheck disable=SC2086
        out=$("$API" "${base[@]}" $args --check-config 2>&1) || rc=$?
        if [ "$rc" -ne 0 ] && echo "$out" | grep -q -- "$want"; then
            pass "$name refused"
        else
            fail "$name: rc $rc: $out"
        fi
    done <<EOF2
no token key||no token key
short HS256 secret|--jwt-hs256-secret-file $T/short|32
missing key file|--jwt-rs256-public-key $T/none.pem|none.pem
not a public key|--jwt-rs256-public-key $T/rs.key|PEM public key
bad rate limits|--jwt-hs256-secret-file $T/hs.secret --rate-limits redeemReward=0|rate-limits
bad persisted-queries|--jwt-hs256-secret-file $T/hs.secret --persisted-queries maybe|persisted-queries
bad redis URL|--jwt-hs256-secret-file $T/hs.secret --redis http://x|redis
bad threads|--jwt-hs256-secret-file $T/hs.secret --threads 257|threads
EOF2
    rc=0
    out=$("$API" --postgres x --redis redis://h --log file:/x --jwt-hs256-secret-file "$T/hs.secret" 2>&1) || rc=$?
    [ "$rc" -ne 0 ] && echo "$out" | grep -q listen && pass "missing --listen refused" || fail "missing --listen: $rc $out"
    # a port in use
    start api
    rc=0
    out=$(timeout 10 "$API" --listen "127.0.0.1:$PORT" "${base[@]:2}" --jwt-hs256-secret-file "$T/hs.secret" 2>&1) || rc=$?
    [ "$rc" = 1 ] && echo "$out" | grep -q 'cannot listen' && pass "a port in use refused" || fail "port in use: $rc $out"
    stop "$PID"
    # --threads 0 (the default): per CPU the process may run on, two with the
    # board mirror on (at least 4), eight with it off.
    if command -v taskset >/dev/null 2>&1; then
        # the first CPU this shell may run on (CPU 0 may be outside a CI's cpuset)
        local cpu
        cpu=$(taskset -cp $$ | sed 's/.*: *//; s/[-,].*//')
        WRAP="taskset -c $cpu" start cpus --threads 0
        for _ in $(seq 50); do grep -q listening "$T/cpus.log" && break; sleep 0.05; done
        grep -q '(4 threads, up to 4 Postgres connections)' "$T/cpus.log" &&
            pass "--threads 0 on one CPU: 4 threads, 4 Postgres connections" ||
            fail "--threads 0 on one CPU: $(grep listening "$T/cpus.log")"
        stop "$PID"
        WRAP="taskset -c $cpu" start cpus8 --threads 0 --mirror-members 0
        for _ in $(seq 50); do grep -q listening "$T/cpus8.log" && break; sleep 0.05; done
        grep -q '(8 threads, up to 8 Postgres connections)' "$T/cpus8.log" &&
            pass "--threads 0 on one CPU without the mirror: 8 threads, 8 Postgres connections" ||
            fail "--threads 0 on one CPU without the mirror: $(grep listening "$T/cpus8.log")"
        stop "$PID"
        # --pool-size 0 follows the threads up to 32 Postgres connections.
        start pool40 --threads 40
        for _ in $(seq 50); do grep -q listening "$T/pool40.log" && break; sleep 0.05; done
        grep -q '(40 threads, up to 32 Postgres connections)' "$T/pool40.log" &&
            pass "--threads 40: at most 32 Postgres connections" ||
            fail "--threads 40: $(grep listening "$T/pool40.log")"
        stop "$PID"
    fi
}
echo short >"$T/short"

check_audit() {
    start api
    node "$HERE/audit.mjs" "http://127.0.0.1:$PORT/graphql" "$(token hs256 '{"sub":"auditor"}')" >"$T/audit.txt" || true
    cat "$T/audit.txt"
    grep -q '^0 audits failed$' "$T/audit.txt" && pass "graphql-http audits" || fail "graphql-http audits"
    [ "$(grep -c '^ok ' "$T/audit.txt")" -ge 40 ] && pass "$(grep -c '^ok ' "$T/audit.txt") audits ran" || fail "too few audits ran"
    stop "$PID"
    expect "exit status" 0 "$STOP_RC"
}

check_introspection() {
    start api
    local tok
    tok=$(token hs256)
    node "$HERE/introspect.mjs" "http://127.0.0.1:$PORT/graphql" "$tok" "$ROOT/api/schema.graphql" &&
        pass "graphql-js introspection round trip" || fail "introspection round trip"
    stop "$PID"
    start api2 --introspection=false
    expect "introspection off: __schema" 400 \
        "$(gql "$PORT" "$tok" '{"query":"{ __schema { queryType { name } } }"}' -H 'Accept: application/graphql-response+json')"
    body_has 'introspection is not allowed' || fail "message: $(cat "$T/body")"
    expect "introspection off: __type in a fragment" 200 \
        "$(gql "$PORT" "$tok" '{"query":"{ ...F } fragment F on Query { __type(name: \"Query\") { name } }"}')"
    body_has 'introspection is not allowed' && pass "refused through a fragment" || fail "fragment: $(cat "$T/body")"
    expect "introspection off: __typename still answered" 200 "$(gql "$PORT" "$tok" '{"query":"{ __typename }"}')"
    body_has '"__typename":"Query"' || fail "__typename: $(cat "$T/body")"
    stop "$PID"
}

check_persisted() {
    start api
    local tok q h
    tok=$(token hs256)
    q='{ userProfile { userId exp } }'
    h=$(printf '%s' "$q" | sha256sum | cut -d' ' -f1)
    expect "APQ: hash unknown" 200 \
        "$(gql "$PORT" "$tok" "{\"extensions\":{\"persistedQuery\":{\"version\":1,\"sha256Hash\":\"$h\"}}}")"
    body_has PERSISTED_QUERY_NOT_FOUND && pass "PERSISTED_QUERY_NOT_FOUND" || fail "$(cat "$T/body")"
    expect "APQ: register" 200 \
        "$(gql "$PORT" "$tok" "{\"query\":\"$q\",\"extensions\":{\"persistedQuery\":{\"version\":1,\"sha256Hash\":\"$h\"}}}")"
    body_has '"userId":"u1"' || fail "register: $(cat "$T/body")"
    local st
    st=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $tok" --get \
        --data-urlencode "extensions={\"persistedQuery\":{\"version\":1,\"sha256Hash\":\"$h\"}}" \
        "http://127.0.0.1:$PORT/graphql")
    expect "APQ: by hash over GET" 200 "$st"
    body_has '"userId":"u1"' && pass "its data" || fail "by hash: $(cat "$T/body")"
    expect "APQ: hash not matching the text" 200 \
        "$(gql "$PORT" "$tok" "{\"query\":\"{ rewards { id } }\",\"extensions\":{\"persistedQuery\":{\"version\":1,\"sha256Hash\":\"$h\"}}}")"
    body_has BAD_USER_INPUT && pass "mismatch refused" || fail "mismatch: $(cat "$T/body")"
    stop "$PID"
    printf '{"%s": "%s"}\n' "$h" "$q" >"$T/allow.json"
    start api2 --persisted-queries allowlist --allowlist "$T/allow.json"
    expect "allow-list: by hash" 200 \
        "$(gql "$PORT" "$tok" "{\"extensions\":{\"persistedQuery\":{\"version\":1,\"sha256Hash\":\"$h\"}}}")"
    body_has '"userId":"u1"' || fail "allow-list by hash: $(cat "$T/body")"
    expect "allow-list: by text" 200 "$(gql "$PORT" "$tok" "{\"query\":\"$q\"}")"
    body_has '"userId":"u1"' || fail "allow-list by text: $(cat "$T/body")"
    expect "allow-list: another document" 400 \
        "$(gql "$PORT" "$tok" '{"query":"{ rewards { id } }"}' -H 'Accept: application/graphql-response+json')"
    body_has PERSISTED_QUERY_NOT_ALLOWED && pass "refused" || fail "$(cat "$T/body")"
    stop "$PID"
    printf '{"%s": "{ rewards { id } }"}\n' "$h" >"$T/bad.json"
    local rc=0 out
    out=$("$API" --listen 127.0.0.1:1 --postgres x --redis redis://h --log file:/x \
        --jwt-hs256-secret-file "$T/hs.secret" --persisted-queries allowlist --allowlist "$T/bad.json" 2>&1) || rc=$?
    [ "$rc" -ne 0 ] && echo "$out" | grep -q 'SHA-256' && pass "allow-list with a wrong hash refused" || fail "bad allow-list: $rc $out"
}

check_connections() {
    NOFILE=512 start api --rate-limits '*=100000'
    if node "$HERE/connections.mjs" 127.0.0.1 "$PORT" "$(token hs256 '{"sub":"conn"}')" 1000; then
        pass "1000 connections at once"
    else
        fail "1000 connections at once"
    fi
    expect "still serving" 200 "$(gql "$PORT" "$(token hs256)" "$Q_PROFILE")"
    stop "$PID"
    expect "exit status" 0 "$STOP_RC"
}

case $CHECK in
connections) check_connections ;;
auth) check_auth ;;
http) check_http ;;
ratelimit) check_ratelimit ;;
redis-down) check_redis_down ;;
drain) check_drain ;;
config) check_config ;;
audit) check_audit ;;
introspection) check_introspection ;;
persisted) check_persisted ;;
*)
    echo "unknown check $CHECK"
    exit 2
    ;;
esac
if [ "$FAILS" -ne 0 ]; then
    echo "api-$CHECK: $FAILS failed; the server logs:"
    tail -n 20 "$T"/*.log 2>/dev/null || true
    exit 1
fi
echo "api-$CHECK: passed"
