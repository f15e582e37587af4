#!/usr/bin/env bash
# Signed webhooks from gamify-processor --webhooks FILE, to local receivers
# (webhook_receiver, libmicrohttpd) that verify every signature:
#   run-webhooks.sh BUILD_ROOT EXAMPLES_DIR [MODE]
# MODE file (the default): a file log and one state. MODE kafka: a kafka://
# log of 4 partitions on the mock broker (GAMIFY_TEST_KAFKA; without it:
# skip, or fail when GAMIFY_TEST_REQUIRE_SERVERS=1): a state per partition,
# each delivering its own outbound events with its own delivery state
# (STATE/partition-N/webhooks); the checks below then hold per partition
# (dead letters listed and retried partition by partition, at most one
# repeat per partition and kill).
# Endpoints: "all" (every type) to receiver A, which refuses its first 3
# verified requests; "badges" (badge.earned) to receiver B, down for the
# first seconds; "wrong" (redemption.rejected, max_attempts 2) to A with a
# secret A does not know. The processor is killed -9 once mid-stream and
# restarted. Then:
# - A got every event of a clean replay, B every badge.earned, each in
#   order per user; repeats at most one per endpoint and kill (the window
#   between a 2xx and its cursor);
# - A's 3 refusals were retried (gamify_webhook_retries_total before the kill);
# - every "wrong" request was refused as unsigned (BAD) and each of its
#   events became a dead letter after 2 attempts (gamify webhooks list);
# - gamify webhooks retry with the right secret delivers them and empties
#   the list;
# - a clean restart delivers nothing again.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build=$1 examples=$2 mode=${3:-file}
gamify=$build/processor/gamify
proc=$build/processor/gamify-processor
gen=$build/tests/bench/gen_events
receiver=$build/tests/processor/webhook_receiver
case $mode in
file) ;;
kafka)
    if [ -z "${GAMIFY_TEST_KAFKA:-}" ]; then
        [ "${GAMIFY_TEST_REQUIRE_SERVERS:-0}" = 1 ] && { echo "FAIL: GAMIFY_TEST_KAFKA is not set" >&2; exit 1; }
        echo "skip: GAMIFY_TEST_KAFKA is not set"
        exit 77
    fi
    ;;
*)
    echo "run-webhooks.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac
tmp=$(mktemp -d)
pid= rpid_a= rpid_b=
cleanup() {
    for p in "$pid" "$rpid_a" "$rpid_b"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    [ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/proc.err" ] && { echo "--- proc.err" >&2; grep -v '"rules published' "$tmp/proc.err" | tail -n 15 >&2; }
    exit 1
}
metric() { http "$mport" /metrics 2>/dev/null | sed -n "s/^$1 //p"; }
# wait_metric_ge NAME N: until the metric is at least N (the processor
# refreshes its webhook figures after each batch and each idle second)
wait_metric_ge() {
    local v
    for _ in $(seq 50); do
        v=$(metric "$1")
        [ "${v:-0}" -ge "$2" ] && return 0
        sleep 0.1
    done
    fail "$1 is ${v:-absent}, expected at least $2"
}

rules=$examples/rules.yaml
log="file:$tmp/log"
group_args=()
repeats_per_kill=1
if [ "$mode" = kafka ]; then
    # stock is counted per partition (DESIGN section 4): without stock a
    # partitioned state and the single reference replay agree
    grep -v '^ *stock:' "$examples/rules.yaml" > "$tmp/rules.yaml"
    rules=$tmp/rules.yaml
    topic=gamify-test-wh-$$-$RANDOM$RANDOM
    log="kafka://$GAMIFY_TEST_KAFKA/$topic"
    # a short session: the restart after kill -9 waits for the dead member to expire
    group_args=(--group "g-$topic" --kafka-session-timeout-ms 6000)
    repeats_per_kill=4 # the mock broker's new topics have 4 partitions
fi
# states: the folders holding webhook delivery state
states() {
    if [ "$mode" = kafka ]; then
        ls -d "$tmp/state"/partition-* 2>/dev/null
    else
        echo "$tmp/state"
    fi
}
# dead_letters: every state's `gamify webhooks list`
dead_letters() {
    local d
    for d in $(states); do "$gamify" webhooks list --state "$d" || return 1; done
}

"$gen" --events 1500 --users 60 --seed 9 > "$tmp/all.jsonl"
head -n 750 "$tmp/all.jsonl" > "$tmp/first.jsonl"
tail -n +751 "$tmp/all.jsonl" > "$tmp/second.jsonl"
# the reference: ID USER TYPE of every outbound event, in feed order
"$gamify" replay --quiet --no-sync --rules "$rules" --log "jsonl:$tmp/all.jsonl" \
    --state "$tmp/ref-state" --out "jsonl:$tmp/ref.jsonl" 2>/dev/null
sed -E 's/^\{"eventId":"([^"]*)","userId":"([^"]*)".*"(levelUp|badgeEarned|streakUpdated|rewardRedeemed|redemptionRejected)":\{.*$/\1 \2 \3/' \
    "$tmp/ref.jsonl" | sed 's/ levelUp$/ level.up/; s/ badgeEarned$/ badge.earned/;
        s/ streakUpdated$/ streak.updated/; s/ rewardRedeemed$/ reward.redeemed/;
        s/ redemptionRejected$/ redemption.rejected/' > "$tmp/ref.txt"
n_all=$(wc -l < "$tmp/ref.txt")
grep ' badge.earned$' "$tmp/ref.txt" > "$tmp/ref-badges.txt" || true
grep ' redemption.rejected$' "$tmp/ref.txt" > "$tmp/ref-rejected.txt" || true
n_badges=$(wc -l < "$tmp/ref-badges.txt")
n_rejected=$(wc -l < "$tmp/ref-rejected.txt")
[ "$n_all" -gt 500 ] && [ "$n_badges" -gt 10 ] && [ "$n_rejected" -gt 2 ] ||
    fail "the reference is too small: $n_all events, $n_badges badges, $n_rejected rejections"

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/good.secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/wrong.secret"

# start_receiver NAME PORT [FLAGS]: its lines in NAME.out
start_receiver() {
    local name=$1 p=$2 rp
    shift 2
    "$receiver" --port "$p" --secret-file "$tmp/good.secret" "$@" >> "$tmp/$name.out" \
        2>>"$tmp/$name.err" &
    rp=$!
    for _ in $(seq 50); do
        grep -q listening "$tmp/$name.err" 2>/dev/null && break
        kill -0 "$rp" 2>/dev/null || fail "receiver $name did not start: $(cat "$tmp/$name.err")"
        sleep 0.1
    done
    eval "rpid_$name=$rp"
}

port_a=$(port)
port_b=$(port)
while [ "$port_b" = "$port_a" ]; do port_b=$(port); done
write_config() { # write_config SECRET_OF_WRONG
    cat > "$tmp/webhooks.yaml" <<EOF
timeout_ms: 2000
backoff_initial_ms: 50
backoff_max_ms: 400
max_attempts: 40
endpoints:
  - name: all
    url: http://127.0.0.1:$port_a/hook
    events: [level.up, badge.earned, streak.updated, reward.redeemed, redemption.rejected]
    secret_file: good.secret
  - name: badges
    url: http://127.0.0.1:$port_b/hook
    events: [badge.earned]
    secret_file: good.secret
  - name: wrong
    url: http://127.0.0.1:$port_a/hook
    events: [redemption.rejected]
    secret_file: $1
    max_attempts: 2
EOF
}
write_config wrong.secret
"$proc" --log "$log" --state "$tmp/state" --webhooks "$tmp/webhooks.yaml" \
    --check-config > /dev/null || fail "--check-config refused the webhooks file"

start() {
    for _ in 1 2 3 4 5; do
        mport=$(port)
        "$proc" --log "$log" --state "$tmp/state" --rules "$rules" "${group_args[@]}" \
            --webhooks "$tmp/webhooks.yaml" --metrics "127.0.0.1:$mport" --idle-wait-ms 100 \
            --sync=false 2>>"$tmp/proc.err" &
        pid=$!
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            http "$mport" /healthz 2>/dev/null | grep -q ok && return 0
            sleep 0.1
        done
        wait "$pid" 2>/dev/null || true
        tail -n 1 "$tmp/proc.err" | grep -q "in use" || break
    done
    pid=
    fail "the processor did not come up"
}

produce() { "$gamify" produce --log "$log" "$1" > /dev/null 2>&1 || fail "produce $1"; }
oks() { grep -c "^OK " "$tmp/$1.out" 2>/dev/null || true; }
distinct() { { grep "^OK " "$tmp/$1.out" 2>/dev/null || true; } | cut -d' ' -f2 | sort -u | wc -l; }

start_receiver a "$port_a" --fail-first 3
produce "$tmp/first.jsonl"
start
# mid-stream: kill -9 once A has part of it
for _ in $(seq 300); do
    [ "$(oks a)" -ge 100 ] && break
    sleep 0.05
done
[ "$(oks a)" -ge 100 ] || fail "A got $(oks a) events in 15 s"
# A's 3 refusals were retried (the counters are this process's)
wait_metric_ge gamify_webhook_retries_total 3
wait_metric_ge gamify_webhook_failures_total 3
wait_metric_ge gamify_webhook_deliveries_total 100
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
produce "$tmp/second.jsonl"
start
sleep 2 # B still down: its endpoint retries with backoff
start_receiver b "$port_b"

# until A and B have everything and the wrong endpoint gave up on every event
deadline=$((SECONDS + 180))
while :; do
    a=$(distinct a)
    b=$(distinct b)
    dead=$(dead_letters | wc -l)
    [ "$a" -ge "$n_all" ] && [ "$b" -ge "$n_badges" ] && [ "${dead:-0}" -ge "$n_rejected" ] && break
    kill -0 "$pid" 2>/dev/null || fail "the processor died"
    [ $SECONDS -lt $deadline ] || fail "after 180 s: A $a of $n_all, B $b of $n_badges, dead letters ${dead:-?} of $n_rejected"
    sleep 0.3
done

# same_in_order NAME REF: NAME's first deliveries, per user, in REF's order
same_in_order() {
    grep "^OK " "$tmp/$1.out" | cut -d' ' -f2- | awk '!seen[$1]++' > "$tmp/$1.first"
    sort -s -k2,2 "$tmp/$1.first" > "$tmp/$1.byuser"
    sort -s -k2,2 "$2" > "$tmp/$1.want"
    cmp -s "$tmp/$1.byuser" "$tmp/$1.want" ||
        fail "$1 differs from the replay (per user, in order): $(diff "$tmp/$1.byuser" "$tmp/$1.want" | head -n 6 | tr '\n' ' ')"
    local total first
    total=$(grep -c "^OK " "$tmp/$1.out")
    first=$(wc -l < "$tmp/$1.first")
    echo "$1: $first events, $((total - first)) delivered twice"
    [ $((total - first)) -le $repeats_per_kill ] ||
        fail "$1 got $((total - first)) repeats; one kill allows at most $repeats_per_kill"
}
same_in_order a "$tmp/ref.txt"
same_in_order b "$tmp/ref-badges.txt"

[ "$(grep -c '^FAIL ' "$tmp/a.out")" = 3 ] || fail "A should have refused exactly 3 requests"
bad=$(grep -c '^BAD wrong-signature' "$tmp/a.out" || true)
[ "$bad" -ge $((2 * n_rejected)) ] || fail "A refused $bad wrong signatures, expected $((2 * n_rejected))"
grep -v '^BAD wrong-signature' "$tmp/a.out" | grep -q '^BAD' && fail "A saw other bad requests"
[ "${dead:-0}" -le "$n_rejected" ] || fail "$dead dead letters, expected $n_rejected"
# (the rejections of the second half became dead letters in this process)
wait_metric_ge gamify_webhook_dead_letters_total 1

# a clean restart sends nothing again
before=$(wc -l < "$tmp/a.out")
kill -TERM "$pid"
wait "$pid" || fail "exit status $? after SIGTERM"
pid=
start
# (a Kafka member first joins the group and gets its partitions)
[ "$mode" = kafka ] && sleep 6 || sleep 2
kill -TERM "$pid"
wait "$pid" || fail "exit status $? after SIGTERM"
pid=
[ "$(wc -l < "$tmp/a.out")" = "$before" ] || fail "a clean restart delivered again"

# the dead letters: listed, then retried with the right secret
dead_letters > "$tmp/dead.txt"
[ "$(wc -l < "$tmp/dead.txt")" = "$n_rejected" ] || fail "webhooks list: $(wc -l < "$tmp/dead.txt") lines"
grep -q '"endpoint":"wrong".*"attempts":2,"error":"HTTP status 401"' "$tmp/dead.txt" ||
    fail "a dead letter does not say why: $(head -n 1 "$tmp/dead.txt")"
write_config good.secret
sent=0
for d in $(states); do
    out=$("$gamify" webhooks retry --state "$d" --webhooks "$tmp/webhooks.yaml") ||
        fail "webhooks retry $d: $out"
    n=$(echo "$out" | sed -n 's/^sent \([0-9]*\) dead letters, 0 left$/\1/p')
    [ -n "$n" ] || fail "webhooks retry $d said: $out"
    sent=$((sent + n))
done
[ "$sent" = "$n_rejected" ] || fail "webhooks retry sent $sent dead letters, expected $n_rejected"
[ -z "$(dead_letters)" ] || fail "dead letters left after retry"
grep "^OK .* redemption.rejected$" "$tmp/a.out" | cut -d' ' -f2 | sort | uniq -c |
    awk '$1 < 2 { bad = 1 } END { exit bad }' ||
    fail "a rejected event retried from the dead letters did not reach A"
[ "$mode" != kafka ] || [ "$(states | wc -l)" -ge 2 ] ||
    fail "the kafka:// log gave $(states | wc -l) partition states, expected several"
echo "ok: webhooks ($mode): $n_all events to A, $n_badges to B, $n_rejected dead letters retried"
