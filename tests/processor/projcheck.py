#!/usr/bin/env python3
# tests/processor/projcheck.py: compares what the projectors wrote with the
# audit view of the state they read, for the end-to-end tests (run-e2e.sh).
#
#   projcheck.py --dump DUMP.jsonl [--pg CONNINFO] [--redis HOST:PORT
#                --prefix P] [--ledger-entries N] [--out OUT.jsonl
#                [--out-expect CLEAN.jsonl]]
#
# DUMP is `gamify dump` of the state. With --pg: every learner's row in
# `learners` (profile, counters, streak), their badges in award order, their
# redemptions in log order equal the dump, and no learner more; the ledger
# holds N rows (the state's ledger entries; no duplicate) whose per-learner
# sums are the dump's exp and coins. With --redis: every board's members and
# scores, for every period, equal the dump's scores with their reach times
# (encoded as docs/operations.md says, lbscore.py) and Redis holds no other
# board. With --out: every outbound event id appears once, and as many
# level-ups, badges and redemption outcomes as the dump implies; with
# --out-expect, the same ids as a clean replay's --out. Prints one line per
# part and exits 1 at the first difference (showing a few).
import argparse
import collections
import json
import socket
import subprocess
import sys

import lbscore  # beside this file

PROFILE = [
    ("exp", "exp"), ("level", "level"), ("coins", "coins"), ("coinsEarned", "coins_earned"),
    ("coinsSpent", "coins_spent"), ("lessonsCompleted", "lessons_completed"),
    ("lessonCompletions", "lesson_completions"), ("tournamentsPlayed", "tournaments_played"),
    ("tournamentWins", "tournament_wins"), ("tournamentLosses", "tournament_losses"),
    ("currentStreak", "current_streak"), ("longestStreak", "longest_streak"),
    ("freezesHeld", "freezes_held"),
]


def fail(what, want, got):
    print(f"FAIL: {what}", file=sys.stderr)
    missing = sorted(set(want) - set(got))[:5]
    extra = sorted(set(got) - set(want))[:5]
    for k in missing:
        print(f"  dump:  {k!r} -> {want[k]!r}\n  there: {got.get(k)!r}", file=sys.stderr)
    for k in extra:
        print(f"  only there: {k!r} -> {got[k]!r}", file=sys.stderr)
    if not missing and not extra:
        shown = 0
        for k in sorted(want):
            if want[k] != got[k]:
                print(f"  {k!r}: dump {want[k]!r}, there {got[k]!r}", file=sys.stderr)
                shown += 1
                if shown == 5:
                    break
    sys.exit(1)


def psql(conninfo, sql):
    out = subprocess.run(["psql", "-qXAt", "-F", "\t", conninfo, "-c", sql], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def check_pg(users, conninfo, ledger_entries):
    want, got = {}, {}
    for u, d in users.items():
        want[u] = tuple(int(d[k]) for k, _ in PROFILE)
    cols = ", ".join(c for _, c in PROFILE)
    for row in psql(conninfo, f"SELECT user_id, {cols} FROM learners"):
        got[row[0]] = tuple(int(x) for x in row[1:])
    if want != got:
        fail("learners differ from the dump", want, got)
    want = {u: d["badges"] for u, d in users.items() if d["badges"]}
    got = collections.defaultdict(list)
    for u, b in psql(conninfo, "SELECT user_id, badge_id FROM learner_badges "
                               "ORDER BY user_id, position"):
        got[u].append(b)
    if want != dict(got):
        fail("learner_badges differ from the dump", want, dict(got))
    want = {u: [(r["redemptionId"], r["rewardId"], r["status"], r["reason"] or "")
                for r in d["redemptions"]] for u, d in users.items() if d["redemptions"]}
    got = collections.defaultdict(list)
    for u, rid, rw, st, reason in psql(conninfo, "SELECT user_id, redemption_id, reward_id, "
                                       "status, coalesce(reason, '') FROM redemptions "
                                       "ORDER BY user_id, seq"):
        got[u].append((rid, rw, st, reason))
    if want != dict(got):
        fail("redemptions differ from the dump", want, dict(got))
    (n,), = psql(conninfo, "SELECT count(*) FROM ledger")
    if ledger_entries is not None and int(n) != ledger_entries:
        print(f"FAIL: the ledger table has {n} rows, the state {ledger_entries} entries",
              file=sys.stderr)
        sys.exit(1)
    want = {u: (int(d["exp"]), int(d["coins"])) for u, d in users.items()}
    got = {u: (0, 0) for u in users}
    for u, e, c in psql(conninfo, "SELECT user_id, sum(exp_delta), sum(coins_delta) "
                                  "FROM ledger GROUP BY user_id"):
        got[u] = (int(e), int(c))
    if want != got:
        fail("the ledger's sums differ from the dump's exp and coins", want, got)
    print(f"ok: postgres: {len(users)} learners, their badges, redemptions and {n} ledger rows "
          f"equal the dump")


class Resp:
    """A minimal RESP2 client: one connection, one command at a time."""

    def __init__(self, hostport):
        host, port = hostport.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)))
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        out = [f"*{len(args)}\r\n".encode()]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(f"${len(b)}\r\n".encode() + b + b"\r\n")
        self.s.sendall(b"".join(out))
        return self.read()

    def read(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError(f"bad reply {line!r}")


def check_redis(users, hostport, prefix):
    # the score with its reach time, as docs/operations.md encodes it
    want = lbscore.dump_boards(json.dumps(d) for d in users.values())
    r = Resp(hostport)
    got = {}
    cursor = "0"
    keys = []
    while True:
        cursor, batch = r.cmd("SCAN", cursor, "MATCH", prefix + "lb:*", "COUNT", 1000)
        keys += batch
        if cursor == "0":
            break
    for key in keys:
        board, period = key[len(prefix) + 3:].rsplit(":", 1)
        flat = r.cmd("ZRANGE", key, 0, -1, "WITHSCORES")
        got[(board, period)] = {flat[i]: int(float(flat[i + 1])) for i in range(0, len(flat), 2)}
    if want != got:
        fail("Redis boards differ from the dump", dict(want), got)
    n = sum(len(v) for v in got.values())
    print(f"ok: redis: {len(got)} boards and periods, {n} scores equal the dump")


def out_ids(path):
    ids, kinds = collections.Counter(), collections.Counter()
    with open(path) as f:
        for line in f:
            ev = json.loads(line)
            ids[ev["eventId"]] += 1
            for k in ("levelUp", "badgeEarned", "streakUpdated", "rewardRedeemed",
                      "redemptionRejected"):
                if k in ev:
                    kinds[k] += 1
    return ids, kinds


def check_out(users, path, expect):
    ids, kinds = out_ids(path)
    dups = [i for i, n in ids.items() if n > 1]
    if dups:
        print(f"FAIL: {len(dups)} outbound event ids written more than once "
              f"({sum(ids.values())} lines), e.g. {sorted(dups)[:3]}", file=sys.stderr)
        sys.exit(1)
    want = {
        "levelUp": sum(int(d["level"]) - 1 for d in users.values()),
        "badgeEarned": sum(len(d["badges"]) for d in users.values()),
        "redemptions": sum(len(d["redemptions"]) for d in users.values()),
    }
    got = {"levelUp": kinds["levelUp"], "badgeEarned": kinds["badgeEarned"],
           "redemptions": kinds["rewardRedeemed"] + kinds["redemptionRejected"]}
    if want != got:
        fail("outbound events do not match the dump's levels, badges and redemptions", want, got)
    if expect:
        clean, _ = out_ids(expect)
        if set(clean) != set(ids):
            fail("outbound ids differ from a clean replay's",
                 {i: 1 for i in clean}, {i: 1 for i in ids})
    print(f"ok: outbound: {len(ids)} events, each once"
          + (", the same as a clean replay" if expect else "")
          + f" ({want['levelUp']} level-ups, {want['badgeEarned']} badges, "
          f"{want['redemptions']} redemptions)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--pg")
    ap.add_argument("--redis")
    ap.add_argument("--prefix", default="gamify:")
    ap.add_argument("--ledger-entries", type=int)
    ap.add_argument("--out")
    ap.add_argument("--out-expect")
    a = ap.parse_args()
    users = {}
    with open(a.dump) as f:
        for line in f:
            d = json.loads(line)
            users[d["userId"]] = d
    if len(users) < 10:
        print(f"FAIL: only {len(users)} learners in the dump", file=sys.stderr)
        sys.exit(1)
    if a.pg:
        check_pg(users, a.pg, a.ledger_entries)
    if a.redis:
        check_redis(users, a.redis, a.prefix)
    if a.out:
        check_out(users, a.out, a.out_expect)


if __name__ == "__main__":
    main()
