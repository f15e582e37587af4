#!/usr/bin/env bash
# tests/scenarios/run.sh GAMIFY_BINARY SCENARIO_DIR
#
# Replays SCENARIO_DIR/events.jsonl under SCENARIO_DIR/rules.yaml into a fresh
# state and compares:
#   - `gamify dump` with expected.jsonl (exactly, line by line);
#   - the dead-letter reasons of `gamify dlq list`, in order, with
#     expected-dlq.txt when that file exists (no file: no check);
#   - the digest of a second replay in which every line of the log is
#     delivered twice with the digest of the first replay (a redelivered
#     event is processed once, so the state must be the same).
# Optional files: `batch` (one number: records per LMDB commit, `--batch`;
# default the replay's own) and `unseeded` (replay without `--rules`: the log
# must publish its own rules; rules.yaml is then not needed).
# A mismatch prints a unified diff and exits 1; success exits 0.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 GAMIFY_BINARY SCENARIO_DIR" >&2
    exit 2
fi
GAMIFY=$1
DIR=${2%/}
NAME=$(basename "$DIR")

for f in events.jsonl rules.yaml expected.jsonl; do
    if [ "$f" = rules.yaml ] && [ -f "$DIR/unseeded" ]; then
        continue
    fi
    if [ ! -f "$DIR/$f" ]; then
        echo "$NAME: missing $DIR/$f" >&2
        exit 2
    fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gamify-scenario.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

FAIL=0

# A scenario with rules-override.yaml is a what-if replay: its rules from the
# first event, the log's RulesPublished counted and ignored; one with an
# `unseeded` file starts with no rules; a `batch` file sets --batch.
EXTRA=()
if [ -f "$DIR/rules-override.yaml" ]; then
    EXTRA+=(--rules-override "$DIR/rules-override.yaml")
elif [ ! -f "$DIR/unseeded" ]; then
    EXTRA+=(--rules "$DIR/rules.yaml")
fi
if [ -f "$DIR/batch" ]; then
    EXTRA+=(--batch "$(tr -d '[:space:]' <"$DIR/batch")")
fi

replay() { # LOG STATE
    if ! "$GAMIFY" replay --log "jsonl:$1" --state "$2" "${EXTRA[@]}" \
        --no-sync --quiet >"$TMP/replay.out" 2>"$TMP/replay.err"; then
        echo "$NAME: gamify replay failed:" >&2
        cat "$TMP/replay.out" "$TMP/replay.err" >&2
        exit 1
    fi
}

# 1. the log as written
replay "$DIR/events.jsonl" "$TMP/state"
"$GAMIFY" dump --state "$TMP/state" >"$TMP/dump.jsonl"
if ! diff -u --label "$NAME/expected.jsonl" --label "gamify dump" \
    "$DIR/expected.jsonl" "$TMP/dump.jsonl"; then
    echo "$NAME: dump differs from expected.jsonl" >&2
    FAIL=1
fi

if [ -f "$DIR/expected-dlq.txt" ]; then
    "$GAMIFY" dlq list --state "$TMP/state" >"$TMP/dlq.jsonl"
    # The "reason" field of each line (inside the embedded record, a JSON
    # string, every quote is escaped, so `"reason":"` only matches the field).
    sed -n 's/.*"reason":"\([^"]*\)".*/\1/p' "$TMP/dlq.jsonl" \
        >"$TMP/dlq.txt" || true
    # Lines that name no reason at all would vanish above; keep the count honest.
    if [ "$(wc -l <"$TMP/dlq.txt")" -ne "$(grep -c . "$TMP/dlq.jsonl" || true)" ]; then
        echo "$NAME: a dead letter without a reason field:" >&2
        cat "$TMP/dlq.jsonl" >&2
        FAIL=1
    fi
    if ! diff -u --label "$NAME/expected-dlq.txt" --label "gamify dlq list (reasons)" \
        "$DIR/expected-dlq.txt" "$TMP/dlq.txt"; then
        echo "$NAME: dead letters differ from expected-dlq.txt" >&2
        FAIL=1
    fi
fi

# 2. every line delivered twice: the same digest
"$GAMIFY" digest --state "$TMP/state" >"$TMP/digest1"
sed 'p' "$DIR/events.jsonl" >"$TMP/doubled.jsonl"
replay "$TMP/doubled.jsonl" "$TMP/state2"
"$GAMIFY" digest --state "$TMP/state2" >"$TMP/digest2"
if ! diff -u --label "digest (log as written)" --label "digest (every line twice)" \
    "$TMP/digest1" "$TMP/digest2"; then
    echo "$NAME: digest changes when every event is delivered twice" >&2
    FAIL=1
fi

if [ "$FAIL" -ne 0 ]; then
    echo "$NAME: FAIL" >&2
    exit 1
fi
echo "$NAME: ok"
exit 0
