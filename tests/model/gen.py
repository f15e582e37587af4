#!/usr/bin/env python3
"""tests/model/gen.py: a random rules file and event log aimed at the fold's edges.

    gen.py SEED OUTDIR [--events N]

writes OUTDIR/rules.yaml and OUTDIR/events.jsonl (proto3 JSON, one event a
line, as `gamify replay --log jsonl:` takes it). The same seed always gives
the same files. What it aims at: duplicates and redeliveries, the dedupe
window's edge and TOO_LATE, events out of order, repeated lessons and
tournaments, bonuses, daily caps at local-day edges, streaks across DST
changes and zone changes (UserSettings, envelope timezone), streak
freezes, multi-level jumps and formula caps, adjustments (negative, below
zero), redemptions (unknown, inactive, out of stock, per-user limit,
insufficient coins, a repeated redemption id), RulesPublished mid-log,
leaderboard opt-out, ISO weeks at year edges, keep_weeks/keep_months
pruning over more than a year, group boards. jsonl has no append times, so
no TOO_FAR_AHEAD.
"""

import argparse
import datetime as dt
import json
import os
import random

UTC = dt.timezone.utc
ZONES = [
    "UTC", "Europe/Berlin", "America/New_York", "America/Sao_Paulo", "Asia/Tokyo",
    "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "America/St_Johns",
    "Pacific/Kiritimati", "Pacific/Apia", "Europe/London", "Australia/Sydney",
]
BAD_ZONES = ["Not/A_Zone", "Mars/Olympus_Mons"]
# Moments near DST changes, year edges (2026 has an ISO week 53; Jan 1 2027
# is in 2026-W53, Jan 1 2028 in 2027-W52) and month ends.
ANCHORS = [
    "2026-03-07T20:00:00Z", "2026-03-28T18:00:00Z", "2026-04-04T10:00:00Z",
    "2026-10-24T20:00:00Z", "2026-10-31T22:00:00Z", "2026-09-26T12:00:00Z",
    "2026-12-26T12:00:00Z", "2027-12-29T12:00:00Z", "2020-12-30T12:00:00Z",
    "2026-01-30T20:00:00Z", "2026-02-27T22:00:00Z",
]
COUNTER_NAMES = [
    "exp", "level", "coins", "coins_earned", "coins_spent", "lessons_completed",
    "lesson_completions", "tournaments_played", "tournament_wins", "tournament_losses",
    "current_streak", "longest_streak", "badges", "redemptions",
]


def ts(secs):
    return dt.datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(s):
    return int(dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def ts_varied(rnd, secs):
    """The instant SECS in one of the RFC 3339 spellings proto3 JSON accepts."""
    r = rnd.random()
    if r < 0.9:
        return ts(secs)
    if r < 0.94:
        off = rnd.choice([330, -210, 345, 840, -600, 0])
        local = dt.datetime.fromtimestamp(secs + off * 60, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        sign = "+" if off >= 0 else "-"
        return "%s%s%02d:%02d" % (local, sign, abs(off) // 60, abs(off) % 60)
    if r < 0.97:
        return ts(secs)[:-1] + rnd.choice([".000", ".000000", ".000000000"]) + "Z"
    return ts(secs)[:-1] + rnd.choice([".5", ".999999999", ".000000001"]) + "Z"


def snake(name):
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def json_form(rnd, ev):
    """Other spellings of the same event that the proto3 JSON mapping accepts:
    proto field names, 64-bit-style integers as strings, enums by number,
    integral reals, nulls for defaults."""
    def walk(o, names, strings):
        if isinstance(o, dict):
            return {(snake(k) if names else k): walk(v, names, strings) for k, v in o.items()}
        if isinstance(o, list):
            return [walk(v, names, strings) for v in o]
        if isinstance(o, bool):
            return o
        if isinstance(o, int) and strings:
            return str(o)
        return o
    if rnd.random() < 0.1:
        ev = walk(ev, True, False)
    if rnd.random() < 0.1:
        ev = walk(ev, False, True)
    if rnd.random() < 0.05:
        ev = dict(ev)
        ev.setdefault("source", None)
    for body in ("tournamentResult", "tournament_result"):
        if body in ev and rnd.random() < 0.2:
            b = dict(ev[body])
            b["outcome"] = {"WIN": 1, "DRAW": 2, "LOSS": 3}[b["outcome"]]
            ev = dict(ev)
            ev[body] = b
    for body in ("lessonCompleted", "lesson_completed"):
        if body in ev and rnd.random() < 0.1 and isinstance(ev[body].get("score"), int):
            b = dict(ev[body])
            b["score"] = float(b["score"])
            ev = dict(ev)
            ev[body] = b
    return ev


def invalid(rnd, ev):
    """A broken copy of EV (same id): INVALID, its id not marked seen."""
    bad = json.loads(json.dumps(ev))
    body = [k for k in bad if isinstance(bad[k], dict)]
    r = rnd.random()
    if "lessonCompleted" in bad:
        bad["lessonCompleted"][rnd.choice(["score", "durationS", "lessonId"])] = rnd.choice(
            [1001, 604801, ""])
        if bad["lessonCompleted"].get("score") == "":
            bad["lessonCompleted"]["score"] = -1
    elif "tournamentResult" in bad and r < 0.5:
        bad["tournamentResult"]["outcome"] = "OUTCOME_UNSPECIFIED"
    elif "tournamentResult" in bad:
        bad["tournamentResult"]["rank"] = 1000001
    elif "adjustment" in bad:
        bad["adjustment"]["exp"] = 1000000001
    elif r < 0.3:
        bad["groupIds"] = ["g%d" % i for i in range(33)]
    elif r < 0.6:
        bad["groupIds"] = [""]
    elif r < 0.8 and body:
        bad["lessonCompleted" if body[0] != "lessonCompleted" else "adjustment"] = {"lessonId": "x"} \
            if body[0] != "lessonCompleted" else {"exp": 1}
    else:
        bad["occurredAt"] = "1999-12-31T23:59:59Z"
    return bad


def expr(rnd, fields, depth=0):
    """A random expression over counters (and FIELDS), parenthesized fully."""
    r = rnd.random()
    if depth < 2 and r < 0.2:
        op = rnd.choice(["and", "or"])
        return "(%s) %s (%s)" % (expr(rnd, fields, depth + 1), op, expr(rnd, fields, depth + 1))
    if depth < 2 and r < 0.27:
        return "not (%s)" % expr(rnd, fields, depth + 1)
    name = rnd.choice(COUNTER_NAMES + fields * 3)
    if rnd.random() < 0.1:
        return name
    if rnd.random() < 0.1:
        name = "%s - %s" % (name, rnd.choice(COUNTER_NAMES))
    op = rnd.choice(["==", "!=", "<", "<=", ">", ">="])
    small = {"score": [0, 50, 80, 90, 100], "duration_s": [0, 300, 600], "rank": [1, 3, 10]}
    val = rnd.choice(small.get(name, [0, 1, 2, 3, 5, 10, 50, 100]))
    return "%s %s %d" % (name, op, val)


def bonuses(rnd, fields):
    out = []
    for _ in range(rnd.randint(0, 4)):
        b = {"when": expr(rnd, fields)}
        if rnd.random() < 0.5:
            b["exp"] = rnd.randint(0, 20)
        if rnd.random() < 0.5:
            b["exp_percent"] = rnd.choice([0, 10, 25, 33, 50, 99, 150])
        if rnd.random() < 0.5 or len(b) == 1:
            b["coins"] = rnd.randint(0, 15)
        out.append(b)
    return out


def huge_rules_yaml(rnd):
    """Amounts near the limits (10^9 each): sums that saturate, the level
    formula's cut at 10^15 EXP."""
    big = 10**9
    lines = ["version: 1", "timezone: %s" % rnd.choice(ZONES), "levels:"]
    if rnd.random() < 0.5:
        lines.append("  formula: { base: %d, growth_percent: %d, max_level: %d }" % (
            rnd.choice([1, 1000, 10**6, big]), rnd.choice([100, 1000, 10**5, big]),
            rnd.choice([30, 100, 1000])))
    else:
        lines.append("  thresholds: [0, %d, %d, %d]" % (big, 10**12, 10**15))
    lines.append("  level_up_coins: %d" % rnd.choice([0, big]))
    lines.append("activities:")
    lines.append("  lesson_completed:")
    lines.append("    exp: %d" % rnd.choice([1, big]))
    lines.append("    coins: %d" % rnd.choice([0, big]))
    b = [{"when": "exp + exp + exp >= 0", "exp_percent": 10000, "coins": big},
         {"when": "coins - 1000000000 > exp", "exp": big, "exp_percent": 10000},
         {"when": "not (level < 3)", "exp_percent": rnd.choice([1, 10000])}]
    lines.append("    bonuses: %s" % json.dumps(b))
    lines.append("  tournament_result:")
    for o in ("win", "draw", "loss"):
        lines.append("    %s: { exp: %d, coins: %d }" % (o, rnd.choice([0, big]), rnd.choice([0, big])))
    lines.append("caps:")
    lines.append("  exp_per_day: %d" % rnd.choice([0, big]))
    lines.append("streaks:")
    lines.append("  milestones: [{ days: 1, coins: %d }, { days: 2, coins: %d }]" % (big, big))
    lines.append("leaderboards:")
    lines.append("  keep_weeks: 1")
    lines.append("  keep_months: 1")
    return finish_badges_rewards(rnd, lines)


def rules_yaml(rnd):
    if rnd.random() < 0.1:
        return huge_rules_yaml(rnd)
    lines = ["version: 1"]
    tz = rnd.choice(ZONES + [None])
    if tz:
        lines.append("timezone: %s" % tz)
    lines.append("levels:")
    if rnd.random() < 0.6:
        th = [0]
        for _ in range(rnd.randint(1, 8)):
            th.append(th[-1] + rnd.randint(1, 120))
        lines.append("  thresholds: [%s]" % ", ".join(map(str, th)))
    else:
        lines.append("  formula: { base: %d, growth_percent: %d, max_level: %d }" % (
            rnd.randint(1, 100), rnd.choice([100, 101, 150, 200, 333, 1000]),
            rnd.choice([2, 3, 5, 10, 40, 200])))
    lines.append("  level_up_coins: %d" % rnd.choice([0, 5, 20]))
    lines.append("activities:")
    lines.append("  lesson_completed:")
    lines.append("    exp: %d" % rnd.choice([0, 5, 15, 20, 40]))
    lines.append("    coins: %d" % rnd.choice([0, 3, 5]))
    b = bonuses(rnd, ["score", "duration_s"])
    if b:
        lines.append("    bonuses: %s" % json.dumps(b))
    lines.append("  tournament_result:")
    for o in ("win", "draw", "loss"):
        lines.append("    %s: { exp: %d, coins: %d }" % (o, rnd.randint(0, 60), rnd.randint(0, 20)))
    b = bonuses(rnd, ["rank"])
    if b:
        lines.append("    bonuses: %s" % json.dumps(b))
    if rnd.random() < 0.8:
        lines.append("caps:")
        lines.append("  exp_per_day: %d" % rnd.choice([0, 30, 50, 80, 200]))
    lines.append("streaks:")
    if rnd.random() < 0.1:
        lines.append("  milestones: [{ days: 2, coins: 1 }]")
        return finish_rules(rnd, lines)
    q = rnd.choice([["lesson_completed", "tournament_result"], ["lesson_completed"],
                    ["tournament_result"]])
    lines.append("  qualifying: [%s]" % ", ".join(q))
    ms = sorted(rnd.sample([1, 2, 3, 4, 5, 7, 10], rnd.randint(0, 3)))
    if ms:
        lines.append("  milestones:")
        for d in ms:
            lines.append("    - { days: %d, coins: %d }" % (d, rnd.randint(1, 40)))
    return finish_rules(rnd, lines)


def finish_rules(rnd, lines):
    if rnd.random() < 0.1:
        lines.append("leaderboards: {}")
        return finish_badges_rewards(rnd, lines)
    lines.append("leaderboards:")
    per = [p for p in ("all_time", "weekly", "monthly") if rnd.random() < 0.8] or ["weekly"]
    lines.append("  periods: [%s]" % ", ".join(per))
    lines.append("  keep_weeks: %d" % rnd.choice([0, 1, 2, 3, 8]))
    lines.append("  keep_months: %d" % rnd.choice([0, 1, 2, 12]))
    return finish_badges_rewards(rnd, lines)


def finish_badges_rewards(rnd, lines):
    nb = rnd.randint(0, 6)
    if nb:
        lines.append("badges:")
        for i in range(nb):
            lines.append("  - id: b%d" % i)
            lines.append("    name: Badge %d" % i)
            lines.append("    icon: https://example.org/b%d.svg" % i)
            lines.append("    criteria: %s" % json.dumps(expr(rnd, [])))
    lines.append("rewards:")
    # (a reward's type may change from one rules version to the next)
    lines.append("  - { id: shield, name: Shield, cost: %d, type: %s, per_user_limit: %d }"
                 % (rnd.choice([5, 20, 60]), "digital" if rnd.random() < 0.1 else "streak_freeze",
                    rnd.randint(1, 3)))
    lines.append("  - { id: theme, name: Theme, cost: %d, type: cosmetic }" % rnd.choice([1, 10, 40]))
    lines.append("  - { id: mug, name: Mug, cost: %d, type: physical, stock: %d, per_user_limit: 1 }"
                 % (rnd.choice([5, 30]), rnd.randint(0, 3)))
    lines.append("  - { id: book, name: Book, cost: %d, type: %s, per_user_limit: %d }"
                 % (rnd.choice([10, 70]), "streak_freeze" if rnd.random() < 0.1 else "digital",
                    rnd.randint(1, 2)))
    lines.append("  - { id: hoodie, name: Hoodie, cost: 1, type: physical, stock: 5, active: %s }"
                 % rnd.choice(["false", "true"]))
    return "\n".join(lines) + "\n"


def misplaced_field(rnd, text):
    """TEXT broken: an event field where the rules do not allow it (a
    badge's criteria), an unknown key or a negative amount: rules that do
    not check (RULES_INVALID)."""
    r = rnd.random()
    if r < 0.2:
        return text + "extra_key: 1\n"                          # an unknown key
    if r < 0.4:
        return text.replace("level_up_coins: ", "level_up_coins: -1", 1)   # below zero
    crit = "%s >= 1" % rnd.choice(["score", "duration_s", "rank"])
    badge = "  - { id: zz, name: ZZ, icon: https://example.org/zz.svg, criteria: %s }\n" % crit
    if "badges:\n" in text:
        return text.replace("badges:\n", "badges:\n" + badge, 1)
    return text.replace("rewards:\n", "badges:\n" + badge + "rewards:\n", 1)


def generate(seed, n_events, start=None):
    """(rules text, events) for SEED; START (seconds) overrides the first
    event's time (a file log's append times are the wall clock)."""
    rnd = random.Random(seed)
    rules = rules_yaml(rnd)
    users = ["u%d" % i for i in range(rnd.randint(2, 6))] + rnd.sample(["Amy", "amy", "zed"], 1)
    long_run = rnd.random() < 0.35
    t = parse(rnd.choice(ANCHORS))
    if start is not None:
        t = start
    newest = t
    events = []
    n = 0

    def new_id():
        nonlocal n
        n += 1
        return "e%d" % n

    for _ in range(n_events):
        r = rnd.random()
        if events and r < 0.07:
            events.append(rnd.choice(events[-20:]) if rnd.random() < 0.7 else rnd.choice(events))
            continue
        # the time of this event
        r = rnd.random()
        if r < 0.05:
            et = newest - 30 * 86400                     # exactly at the window's edge
        elif r < 0.08:
            et = newest - 30 * 86400 - rnd.choice([1, 60, 86400])   # just past it: TOO_LATE
        elif r < 0.18:
            et = newest - rnd.randint(0, 10 * 86400)     # late, inside the window
        else:
            if long_run:
                step = rnd.choice([0, 600, 3600, 86400, 86400, 3 * 86400, 9 * 86400, 40 * 86400])
            else:
                step = rnd.choice([0, 60, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 86400, 2 * 86400])
            t += rnd.randint(0, step)
            if rnd.random() < 0.1:                        # near a local midnight somewhere
                t = t - t % 900 + rnd.choice([-1, 0, 1, 899])
            et = t
        newest = max(newest, et)
        ev = {"eventId": new_id(), "userId": rnd.choice(users), "occurredAt": ts_varied(rnd, et)}
        if rnd.random() < 0.06:
            ev["timezone"] = rnd.choice(ZONES + BAD_ZONES[:1] if rnd.random() < 0.2 else ZONES)
        if rnd.random() < 0.4:
            ev["groupIds"] = rnd.choice([["g1"], ["g2"], ["g1", "g2"], ["g1", "g1"]])
        r = rnd.random()
        if r < 0.45:
            body = {"lessonId": "l%d" % rnd.randint(0, 12), "courseId": "c1",
                    "score": rnd.choice([0, 50, 79, 80, 90, 99, 100, 1000]),
                    "durationS": rnd.choice([0, 200, 300, 599, 600, 601, 5000])}
            ev["lessonCompleted"] = body
        elif r < 0.62:
            ev["tournamentResult"] = {"tournamentId": "t%d" % rnd.randint(0, 6),
                                      "outcome": rnd.choice(["WIN", "DRAW", "LOSS"]),
                                      "rank": rnd.choice([1, 2, 3, 4, 10])}
        elif r < 0.74:
            ev["redeemReward"] = {"redemptionId": "r%d" % rnd.randint(0, 15),
                                  "rewardId": rnd.choice(["shield", "shield", "theme", "mug",
                                                          "book", "hoodie", "nope"])}
        elif r < 0.86:
            exp = rnd.choice([0, 5, 40, 100, 300, -5, -30, -200])
            coins = rnd.choice([0, 10, 100, 200, -10, -100])
            ev["adjustment"] = {"exp": exp, "coins": coins, "reason": "x"}
        elif r < 0.96:
            us = {}
            if rnd.random() < 0.8:
                us["timezone"] = rnd.choice(ZONES + BAD_ZONES if rnd.random() < 0.15 else ZONES)
            if rnd.random() < 0.5:
                us["leaderboardOptOut"] = rnd.random() < 0.6
            ev["userSettings"] = us
        else:
            if rnd.random() < 0.7:
                ev["userId"] = "admin"
            r = rnd.random()
            text = rules_yaml(rnd) if r < 0.9 else misplaced_field(rnd, rules_yaml(rnd)) \
                if r < 0.95 else "version: 2\n"
            ev["rulesPublished"] = {"rulesYaml": text, "comment": "mid-log"}
        events.append(json_form(rnd, ev))
        if rnd.random() < 0.04:
            bad = invalid(rnd, ev)
            events.insert(len(events) - 1, bad)   # the broken one first,
            if rnd.random() < 0.5:                # then maybe the fixed one only
                events.pop()
    return rules, events


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("seed", type=int)
    ap.add_argument("outdir")
    ap.add_argument("--events", type=int, default=300)
    args = ap.parse_args()
    rules, events = generate(args.seed, args.events)
    os.makedirs(args.outdir, exist_ok=True)
    with open(os.path.join(args.outdir, "rules.yaml"), "w", encoding="utf-8") as f:
        f.write(rules)
    with open(os.path.join(args.outdir, "events.jsonl"), "w", encoding="utf-8") as f:
        for ev in events:
            f.write(json.dumps(ev, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
