#!/usr/bin/env bash
# The Redis memory guard's ops alerts (--alerts, webhooks that want
# ops.alert), against a private redis-server with a maxmemory:
#   run-alerts.sh BUILD_ROOT EXAMPLES_DIR CHECK
# jsonl: a mark (1 permille) far below use: the guard deletes finished
#   periods and each action's alert reaches jsonl:PATH with the right
#   fields (the guard's counters add up to the alerts' keys and periods),
#   the alert metrics agree; --out is byte-identical to a run without
#   --alerts.
# under: a mark above use (1000 permille): the guard runs and raises nothing.
# file: the alerts as protobuf OpsAlert records in a file log (file:DIR).
# kafka: the alerts in a topic of the Kafka broker of tests/run
#   (GAMIFY_TEST_KAFKA), key = kind, gamify-id = alert id.
# webhook: the alerts to a webhook endpoint that wants ops.alert (signed,
#   verified by webhook_receiver), which refuses the first two: retried.
# down: --alerts to a Kafka port nobody listens on: folding and the boards
#   go on, failed attempts are counted, the alert waits in the queue; the
#   stop is bounded and says what it dropped.
# kafka-log: a kafka:// input log (GAMIFY_TEST_KAFKA): each partition's
#   Redis projector raises its own alerts, named by partition.
# config: bad --alerts URIs, and --alerts equal to --out, are refused with
#   a message naming them.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build=$1 examples=$2 check=$3
gamify=$build/processor/gamify
proc=$build/processor/gamify-processor
gen=$build/tests/bench/gen_events
# The generated events cover the 28 days before yesterday: Redis expires a
# finished period's key by the wall clock (keep_weeks + 1 weeks after the
# week starts), the state by its newest event time, so events at a fixed
# date would see their week keys expire in Redis while the dump keeps them
# (a fixed 2026-11-01 start broke the boards checks from 2026-12-14 on).
gstart=$(($(date +%s) - 29 * 86400))
reader=$build/tests/processor/read_alerts
receiver=$build/tests/processor/webhook_receiver
tmp=$(mktemp -d)
pid=
rpid=
wpid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    [ -n "$wpid" ] && kill "$wpid" 2>/dev/null || true
    [ -n "$rpid" ] && kill -TERM "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null || true
    [ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/proc.err" ] && tail -n 20 "$tmp/proc.err" >&2
    exit 1
}
metric() { http "$mport" /metrics | sed -n "s/^$1 //p"; }
above() { awk -v v="$(metric "$1")" -v x="$2" 'BEGIN { exit !(v != "" && v + 0 > x + 0) }'; }
wait_for() { # METRIC VALUE
    for _ in $(seq 600); do
        [ "$(metric "$1")" = "$2" ] && return 0
        kill -0 "$pid" 2>/dev/null || fail "the processor died"
        sleep 0.1
    done
    fail "$1 did not reach $2 (at $(metric "$1"))"
}
wait_above() { # METRIC X
    for _ in $(seq 600); do
        above "$1" "$2" && return 0
        kill -0 "$pid" 2>/dev/null || fail "the processor died"
        sleep 0.1
    done
    fail "$1 did not pass $2 (at $(metric "$1"))"
}
rport=$(port)
start() { # STATE PREFIX [FLAGS...]
    local state=$1 prefix=$2
    shift 2
    mport=$(port)
    "$proc" --log "${log:-file:$tmp/log}" --state "$state" --rules "$examples/rules.yaml" \
        --metrics "127.0.0.1:$mport" --idle-wait-ms 100 --batch-max 1000 \
        --redis "redis://127.0.0.1:$rport" --redis-prefix "$prefix" "$@" 2>>"$tmp/proc.err" &
    pid=$!
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || fail "the processor exited at start"
        http "$mport" /healthz 2>/dev/null | grep -q ok && return 0
        sleep 0.1
    done
    fail "the processor did not come up"
}
stop() {
    kill -TERM "$pid"
    wait "$pid" || fail "the processor did not stop cleanly"
    pid=
}
# caught_up_and_guarded: everything folded and projected, and the guard
# has deleted keys (its first actions are done)
caught_up_and_guarded() {
    wait_for gamify_source_offset "$end"
    wait_for gamify_redis_projector_lag_changes 0
    wait_above gamify_redis_guard_keys_deleted_total 0
}
# check_alerts FILE: the JSON lines of FILE are the alerts of this run:
# fields and the guard's counters (metrics of the stopped processor, saved
# in $tmp/metrics)
check_alerts() {
    python3 - "$1" "$tmp/metrics" <<'EOF' || fail "the alerts are wrong (above)"
import json, re, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
m = dict(l.split() for l in open(sys.argv[2]) if l and not l.startswith('#'))
alerts = [json.loads(l) for l in lines]
assert alerts, "no alert"
ids = [a["alertId"] for a in alerts]
assert len(set(ids)) == len(ids), "an alert twice: %s" % ids
periods, keys = [], 0
for a in alerts:
    assert re.fullmatch(r"redis_memory:p0:\d{13}:[0-9a-f]{16}", a["alertId"]), a["alertId"]
    assert a["kind"] == "redis_memory", a
    assert a.get("partition", 0) == 0, a
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", a["raisedAt"]), a
    assert a["alertId"].split(":")[2] == str(int(a["alertId"].split(":")[2])), a
    assert a["summary"].startswith("Redis used_memory "), a
    r = a["redisMemory"]
    assert r["maxmemoryBytes"] == str(512 * 1024 * 1024), r
    assert r["thresholdPermille"] == 1, r
    assert r["thresholdBytes"] == str(512 * 1024 * 1024 // 1000), r
    assert int(r["usedMemoryBytes"]) > int(r["thresholdBytes"]), r
    assert r["keyPrefix"].startswith("t"), r
    # used memory is still far above the mark: every action says so
    assert r.get("stillAbove") is True, r
    periods += r.get("periodsDeleted", [])
    keys += int(r.get("keysDeleted", "0"))
    if r.get("periodsDeleted"):
        assert int(r["keysDeleted"]) > 0, r
assert periods, "no alert names a deleted period"
for p in periods:
    assert re.fullmatch(r"\d{4}-(W\d\d|\d\d)", p), p
assert len(periods) == int(m["gamify_redis_guard_periods_deleted_total"]), (periods, m)
assert keys == int(m["gamify_redis_guard_keys_deleted_total"]), (keys, m)
emitted = int(m["gamify_ops_alerts_emitted_total"])
assert int(m["gamify_ops_alerts_delivered_total"]) == emitted, m
# at most one more, raised after the last scrape (run_guarded), deleting nothing
assert emitted <= len(alerts) <= emitted + 1, (len(alerts), m)
assert all(not a["redisMemory"].get("periodsDeleted") for a in alerts[emitted:]), alerts
assert int(m["gamify_ops_alerts_dropped_total"]) == 0, m
assert int(m["gamify_ops_alerts_queued"]) == 0, m
print("ok: %d alerts, %d periods, %d keys" % (len(alerts), len(periods), keys))
EOF
}
# run_guarded FLAGS...: a run whose guard acts, stopped once every alert
# raised so far is delivered; its last metrics in $tmp/metrics
run_guarded() {
    start "$tmp/state" "t$$-a:" --redis-memory-permille 1 "$@"
    caught_up_and_guarded
    wait_above gamify_ops_alerts_emitted_total 0
    # nothing is folded any more, so no action deletes a period after this
    # scrape; one that deletes nothing may still alert (once a minute) and
    # be delivered at the stop. The guard's figures reach /metrics from the
    # main loop (once a second when idle), the alerts' at each scrape: two
    # scrapes 1.2 s apart that agree on both are settled (the actions count
    # goes on: at 1 permille every run is one).
    local settled=
    for _ in $(seq 30); do
        http "$mport" /metrics | grep -E '^gamify_(redis_guard_(periods|keys)|ops_alerts)' > "$tmp/m1"
        sleep 1.2
        http "$mport" /metrics > "$tmp/metrics"
        if grep -E '^gamify_(redis_guard_(periods|keys)|ops_alerts)' "$tmp/metrics" | cmp -s - "$tmp/m1" &&
            [ "$(metric gamify_ops_alerts_queued)" = 0 ]; then
            settled=1
            break
        fi
    done
    [ -n "$settled" ] || fail "the guard's and the alerts' metrics did not settle"
    # memory stays above the mark with nothing left to delete: the guard
    # acts every second, the alerts say so once a minute (one more at most)
    local emitted actions
    emitted=$(metric gamify_ops_alerts_emitted_total)
    actions=$(metric gamify_redis_guard_actions_total)
    wait_above gamify_redis_guard_actions_total $((actions + 3))
    [ "$(metric gamify_ops_alerts_emitted_total)" -le $((emitted + 1)) ] ||
        fail "an alert for every action: $emitted, then $(metric gamify_ops_alerts_emitted_total)"
    stop
}

need_kafka() {
    if [ -z "${GAMIFY_TEST_KAFKA:-}" ]; then
        [ -n "${GAMIFY_TEST_REQUIRE_SERVERS:-}" ] && fail "GAMIFY_TEST_KAFKA is not set"
        echo "skipped: no GAMIFY_TEST_KAFKA"
        exit 77
    fi
}
if [ "$check" != config ]; then
    "$gen" --start "$gstart" --events 6000 --users 400 --seed 31 > "$tmp/all.jsonl"
    end=$("$gamify" produce --log "file:$tmp/log" "$tmp/all.jsonl" 2>&1 | sed -n 's/.*log end offset //p')
    redis_up --maxmemory 512mb
fi

case $check in
jsonl)
    run_guarded --alerts "jsonl:$tmp/alerts.jsonl" --out "jsonl:$tmp/out.jsonl"
    check_alerts "$tmp/alerts.jsonl"
    [ "$(grep -c '"msg":"ALERT redis memory guard: ' "$tmp/proc.err")" -ge "$(wc -l < "$tmp/alerts.jsonl")" ] ||
        fail "fewer ALERT log lines than alerts"
    # the same run without --alerts: the outbound stream is the same, byte for byte
    start "$tmp/state2" "t$$-b:" --redis-memory-permille 1 --out "jsonl:$tmp/out2.jsonl"
    caught_up_and_guarded
    [ -z "$(metric gamify_ops_alerts_emitted_total)" ] || fail "alert metrics without --alerts"
    stop
    [ "$(wc -l < "$tmp/out.jsonl")" -gt 1000 ] || fail "too few outbound events"
    cmp "$tmp/out.jsonl" "$tmp/out2.jsonl" || fail "--out differs with --alerts"
    grep -q '"alertId"\|redis_memory' "$tmp/out.jsonl" && fail "an alert in --out"
    echo "ok: $(wc -l < "$tmp/alerts.jsonl") alerts in jsonl:, --out unchanged"
    ;;
under)
    start "$tmp/state" "t$$-a:" --redis-memory-permille 1000 --alerts "jsonl:$tmp/alerts.jsonl"
    wait_for gamify_source_offset "$end"
    wait_for gamify_redis_projector_lag_changes 0
    wait_above gamify_redis_used_memory_bytes 100000
    sleep 2.5 # more guard runs (one a second)
    [ "$(metric gamify_redis_guard_actions_total)" = 0 ] || fail "the guard acted under the mark"
    [ "$(metric gamify_ops_alerts_emitted_total)" = 0 ] || fail "an alert under the mark"
    stop
    [ ! -s "$tmp/alerts.jsonl" ] || fail "alerts under the mark: $(head -2 "$tmp/alerts.jsonl")"
    echo "ok: no alert under the mark"
    ;;
file)
    run_guarded --alerts "file:$tmp/alerts"
    "$reader" "file:$tmp/alerts" > "$tmp/alerts.jsonl" || fail "read_alerts"
    check_alerts "$tmp/alerts.jsonl"
    ;;
kafka)
    need_kafka
    topic=gamify-test-alerts-$$-$RANDOM
    run_guarded --alerts "kafka://$GAMIFY_TEST_KAFKA/$topic"
    "$reader" kafka "$GAMIFY_TEST_KAFKA" "$topic" > "$tmp/alerts.jsonl" || fail "read_alerts"
    check_alerts "$tmp/alerts.jsonl"
    ;;
webhook)
    printf 'ops-alert-secret-0123456789\n' > "$tmp/secret"
    wport=$(port)
    "$receiver" --port "$wport" --secret-file "$tmp/secret" --fail-first 2 > "$tmp/received" \
        2>"$tmp/receiver.err" &
    wpid=$!
    for _ in $(seq 50); do grep -q listening "$tmp/receiver.err" && break; sleep 0.1; done
    cat > "$tmp/webhooks.yaml" <<EOF
backoff_initial_ms: 100
backoff_max_ms: 400
endpoints:
  - name: ops
    url: http://127.0.0.1:$wport/alerts
    events: [ops.alert]
    secret_file: secret
EOF
    run_guarded --webhooks "$tmp/webhooks.yaml"
    grep -c '^FAIL ' "$tmp/received" | grep -qx 2 || fail "the receiver refused $(grep -c '^FAIL ' "$tmp/received") times"
    grep '^BAD' "$tmp/received" && fail "a request did not verify"
    grep -v '^FAIL ' "$tmp/received" | grep -v '^OK [^ ]* - ops\.alert$' && fail "an unexpected request"
    ok=$(grep -c '^OK ' "$tmp/received")
    saved() { sed -n "s/^$1 //p" "$tmp/metrics"; }
    # (one more may come between the last scrape and the stop: see run_guarded)
    [ "$(saved gamify_ops_alerts_emitted_total)" = "$(saved gamify_ops_alerts_delivered_total)" ] &&
        [ "$ok" -ge "$(saved gamify_ops_alerts_delivered_total)" ] &&
        [ "$ok" -le $(($(saved gamify_ops_alerts_delivered_total) + 1)) ] ||
        fail "$ok alerts received, metrics: $(grep ops_alerts "$tmp/metrics" | grep -v '^#')"
    [ "$(saved gamify_ops_alerts_failed_total)" -ge 2 ] || fail "failures not counted"
    # the first alert is received after its two refusals, with the same id
    first=$(sed -n '1s/^FAIL //p' "$tmp/received")
    grep -q "^OK $first - ops.alert" "$tmp/received" || fail "the refused alert $first was not retried"
    echo "ok: $ok alerts to the webhook, 2 refusals retried"
    ;;
down)
    closed=$(port)
    start "$tmp/state" "t$$-a:" --redis-memory-permille 1 \
        --alerts "kafka://127.0.0.1:$closed/alerts"
    caught_up_and_guarded
    wait_above gamify_ops_alerts_emitted_total 0
    wait_above gamify_ops_alerts_failed_total 0
    [ "$(metric gamify_ops_alerts_delivered_total)" = 0 ] || fail "delivered to a closed port?"
    above gamify_ops_alerts_queued 0 || fail "the alert left the queue"
    [ "$(metric gamify_events_folded_total)" -gt 5000 ] || fail "folding stopped"
    t0=$(date +%s)
    stop
    [ $(($(date +%s) - t0)) -le 20 ] || fail "the stop took $(($(date +%s) - t0)) s"
    grep -q '"msg":"ops alerts: [0-9]* alerts ([0-9]* deliveries) not delivered before the stop: dropped' \
        "$tmp/proc.err" || fail "the stop did not say what it dropped"
    echo "ok: alerts to a closed port stalled nothing"
    ;;
kafka-log)
    need_kafka
    topic=gamify-test-alerts-in-$$-$RANDOM
    log="kafka://$GAMIFY_TEST_KAFKA/$topic"
    o=$("$gamify" produce --log "$log" "$tmp/all.jsonl" 2>&1) || fail "produce: $o"
    start "$tmp/state" "t$$-k:" --redis-memory-permille 1 --group "g-$topic" --sync=false \
        --alerts "jsonl:$tmp/alerts.jsonl"
    # every partition's guard acts at once (memory is above the mark from
    # the start): wait for alerts of two partitions at least
    for _ in $(seq 600); do
        [ -f "$tmp/alerts.jsonl" ] &&
            [ "$(grep -o '"alertId":"redis_memory:p[0-9]*' "$tmp/alerts.jsonl" | sort -u | wc -l)" -ge 2 ] &&
            break
        kill -0 "$pid" 2>/dev/null || fail "the processor died"
        sleep 0.1
    done
    stop
    python3 - "$tmp/alerts.jsonl" <<'EOF' || fail "the alerts are wrong (above)"
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
parts = set()
for a in alerts:
    p = int(a["alertId"].split(":")[1][1:])
    assert a.get("partition", 0) == p, a
    assert a["kind"] == "redis_memory" and a["redisMemory"]["thresholdPermille"] == 1, a
    parts.add(p)
assert len(parts) >= 2, "alerts of partitions %s only" % parts
print("ok: %d alerts of partitions %s" % (len(alerts), sorted(parts)))
EOF
    ;;
config)
    conf() { # EXPECTED-MESSAGE FLAGS...
        local want=$1 out rc
        shift
        set +e
        out=$("$proc" --log "file:$tmp/log" --state "$tmp/state" --check-config "$@" 2>&1)
        rc=$?
        set -e
        [ "$rc" = 2 ] || fail "exit $rc for $*: $out"
        case $out in *"$want"*) ;; *) fail "for $*: $out (wanted: $want)" ;; esac
    }
    conf "--alerts http://x/y: expected jsonl:PATH, file:DIR or kafka://HOST:PORT[,HOST:PORT]/TOPIC" \
        --alerts http://x/y
    conf "--alerts kafka://h:1: expected kafka://HOST:PORT[,HOST:PORT]/TOPIC" --alerts kafka://h:1
    conf "--alerts jsonl:: expected" --alerts jsonl:
    conf "--alerts jsonl:$tmp/o.jsonl: the same destination as --out jsonl:$tmp/o.jsonl" \
        --alerts "jsonl:$tmp/o.jsonl" --out "jsonl:$tmp/o.jsonl"
    conf "the same destination as --out" --alerts "file:$tmp/o" --out "jsonl:$tmp/o"
    conf "the same destination as --out" --alerts kafka://h:1/t --out kafka://h:1/t
    conf "--alerts-queue" --alerts "jsonl:$tmp/a.jsonl" --alerts-queue 0
    "$proc" --log "file:$tmp/log" --state "$tmp/state" --check-config \
        --alerts "kafka://h:1/alerts" --out kafka://h:1/out >/dev/null ||
        fail "a good --alerts refused"
    echo "ok: bad --alerts refused"
    ;;
*)
    fail "unknown check $check"
    ;;
esac
