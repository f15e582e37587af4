#!/usr/bin/env python3
"""tests/model/gen_edges.py: logs aimed at the exact edges the spec names.

    gen_edges.py SEED OUTDIR [--events N]

Like gen.py (same files, same use by difftest.py with --edges), but built
of short episodes that each put events exactly on an edge, to the
nanosecond where it matters:

- local midnights (the last nanosecond of a day, the first of the next, a
  millisecond and a second either side) in zones with DST gaps and
  overlaps, half-hour DST (Australia/Lord_Howe), +14 and -11
  (Pacific/Kiritimati, Pacific/Pago_Pago) and DST at midnight
  (America/Santiago, America/Havana, Asia/Beirut), around ISO week 53 and
  week 1 (2020-W53, 2026-12-28..2027-01-03), leap days and month ends;
  streaks and daily caps live on these;
- the dedupe window's edge: exactly at it, 1 ns, 1 ms and 1 s past it,
  redeliveries of old events, then long gaps (a year and more) whose
  newest event falls on the first or last nanosecond of an ISO week or a
  month in the rules' zone, late events into periods that keep_weeks /
  keep_months just dropped, RulesPublished changing the zone and the keeps;
- streak freezes: gaps of exactly the freezes held and one more, freezes
  bought in the middle of a gap, lessons on earlier days, repeats;
- redemptions: stock run down to zero across learners, per-user limits,
  a redemption id reused for another reward, unknown and inactive rewards;
- adjustments that take exp or coins to exactly zero (or one below),
  and to exactly a level threshold or several at once.

To aim at "exactly zero" and "exactly a threshold" it asks model.py for a
learner's counters while it writes the log; difftest still compares the
product with the model, so the aim only decides which values are tried.
"""

import argparse
import datetime as dt
import json
import os
import random

import model

UTC = dt.timezone.utc
NS = 10**9
ZONES = [
    "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
    "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Santiago", "America/Havana",
    "Asia/Beirut", "Europe/London", "America/Sao_Paulo", "Pacific/Apia",
]
# Local days worth standing on: DST changes of 2026 (Berlin/London Mar 29,
# Oct 25; New York Mar 8, Nov 1; Lord Howe Apr 5, Oct 4; Santiago Apr 5,
# Sep 6; Havana Mar 8, Nov 1; Beirut Mar 29, Oct 25), year ends with an ISO
# week 53 (2020, 2026), leap days (2024, 2028) and month ends.
DAYS = sorted([
    "2026-03-07", "2026-03-28", "2026-04-04", "2026-09-05", "2026-10-03",
    "2026-10-24", "2026-10-31", "2026-12-27", "2026-12-31", "2020-12-27",
    "2020-12-31", "2024-02-28", "2028-02-28", "2026-01-31", "2026-02-28",
    "2026-04-30", "2027-01-03", "2011-12-27",
])


def fmt(ns):
    """RFC 3339 in UTC, nanoseconds when there are any."""
    s, n = divmod(ns, NS)
    base = dt.datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return base + ("Z" if n == 0 else ".%09dZ" % n)


def day_start(date, zname):
    """The first nanosecond (a whole second) whose local date in ZNAME is
    DATE or later: local midnight, or the end of a gap that swallows it."""
    zi = model.zone(zname)
    lo = int(dt.datetime(date.year, date.month, date.day, tzinfo=UTC).timestamp()) - 16 * 3600
    hi = lo + 32 * 3600
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if model.local_date(mid * NS, zi) >= date:
            hi = mid
        else:
            lo = mid
    return hi * NS


def period_start(ns, zname, monthly, nxt):
    """The first nanosecond of the week (Monday) or month after (NXT) or of
    the one holding NS, in zone ZNAME."""
    d = model.local_date(ns, model.zone(zname))
    if monthly:
        d = d.replace(day=1)
        if nxt:
            d = (d + dt.timedelta(days=32)).replace(day=1)
    else:
        d = d - dt.timedelta(days=d.weekday())
        if nxt:
            d = d + dt.timedelta(days=7)
    return day_start(d, zname)


def rules_yaml(rnd, zone=None):
    lines = ["version: 1", "timezone: %s" % (zone or rnd.choice(ZONES)), "levels:"]
    th = [0]
    for _ in range(rnd.randint(2, 7)):
        th.append(th[-1] + rnd.choice([1, 10, 20, 40, 100]))
    lines.append("  thresholds: [%s]" % ", ".join(map(str, th)))
    lines.append("  level_up_coins: %d" % rnd.choice([0, 7, 20]))
    lines.append("activities:")
    lines.append("  lesson_completed: { exp: %d, coins: %d }" % (rnd.choice([10, 20, 30]),
                                                                 rnd.choice([1, 5])))
    lines.append("  tournament_result:")
    lines.append("    win: { exp: 40, coins: 10 }")
    lines.append("    draw: { exp: 15, coins: 3 }")
    lines.append("    loss: { exp: 5, coins: 1 }")
    lines.append("    bonuses: [{ when: current_streak >= 2, exp_percent: 50, coins: 1 }]")
    lines.append("caps:")
    lines.append("  exp_per_day: %d" % rnd.choice([0, 20, 25, 50, 60]))
    lines.append("streaks:")
    lines.append("  qualifying: [lesson_completed, tournament_result]")
    lines.append("  milestones: [{ days: 2, coins: 3 }, { days: 3, coins: 5 }, { days: 7, coins: 50 }]")
    lines.append("leaderboards:")
    lines.append("  periods: [all_time, weekly, monthly]")
    lines.append("  keep_weeks: %d" % rnd.choice([0, 1, 2, 5]))
    lines.append("  keep_months: %d" % rnd.choice([0, 1, 2, 13]))
    lines.append("badges:")
    lines.append("  - { id: streak3, name: S3, icon: https://example.org/s.svg, criteria: current_streak >= 3 }")
    lines.append("  - { id: zero, name: Z, icon: https://example.org/z.svg, criteria: exp == 0 and redemptions >= 1 }")
    lines.append("  - { id: lvl, name: L, icon: https://example.org/l.svg, criteria: level >= 3 }")
    lines.append("rewards:")
    lines.append("  - { id: shield, name: Shield, cost: %d, type: streak_freeze, per_user_limit: %d }"
                 % (rnd.choice([1, 5]), rnd.randint(1, 4)))
    lines.append("  - { id: mug, name: Mug, cost: 2, type: physical, stock: %d, per_user_limit: %d }"
                 % (rnd.randint(0, 4), rnd.randint(1, 3)))
    lines.append("  - { id: theme, name: Theme, cost: 1, type: cosmetic }")
    lines.append("  - { id: old, name: Old, cost: 1, type: digital, active: false }")
    return "\n".join(lines) + "\n"


class Writer:
    """Collects events and folds each into the model at once, so episodes
    can read a learner's counters and the newest event time."""

    def __init__(self, rnd, rules):
        self.rnd = rnd
        self.events = []
        self.st = model.State(model.Rules(rules))
        self.n = 0
        self.zones = {}
        self.days = []

    def newest(self):
        return self.st.newest

    def counters(self, uid):
        lr = self.st.learners.get(uid)
        return (lr.c, lr.freezes) if lr else ({k: 0 for k in model.COUNTERS}, 0)

    def emit(self, uid, t, body_key, body, **extra):
        self.n += 1
        ev = {"eventId": "x%d" % self.n, "userId": uid, "occurredAt": fmt(t)}
        ev.update(extra)
        ev[body_key] = body
        self.push(ev)
        return ev

    def push(self, ev):
        self.events.append(ev)
        self.st.apply(json.loads(json.dumps(ev)))

    def raw(self, line):
        """A line of the log as it is (not an event: difftest writes it
        unchanged, the model reads it as the product does)."""
        self.events.append(line)
        self.st.apply_line(line)

    def lesson(self, uid, t, lesson=None, **extra):
        lesson = lesson or "l%d" % self.rnd.randint(0, 40)
        return self.emit(uid, t, "lessonCompleted", {"lessonId": lesson, "score": 90}, **extra)

    def duel(self, uid, t):
        return self.emit(uid, t, "tournamentResult",
                         {"tournamentId": "t%d" % self.rnd.randint(0, 20),
                          "outcome": self.rnd.choice(["WIN", "DRAW", "LOSS"]), "rank": 2})

    def redeem(self, uid, t, reward, rid=None):
        rid = rid or "r%d" % self.rnd.randint(0, 30)
        return self.emit(uid, t, "redeemReward", {"redemptionId": rid, "rewardId": reward})

    def adjust(self, uid, t, exp, coins):
        return self.emit(uid, t, "adjustment", {"exp": exp, "coins": coins, "reason": "edge"})

    def settings(self, uid, t, zone):
        self.zones[uid] = zone
        return self.emit(uid, t, "userSettings", {"timezone": zone})

    def zone_of(self, uid):
        return self.zones.get(uid) or self.st.rules.timezone


def near(rnd, t):
    """T, or a nanosecond, millisecond or second either side of it."""
    return t + rnd.choice([0, 0, -1, 1, -10**6, 10**6, -NS, NS])


def ep_midnights(w, rnd, uid, t):
    """Lessons (and a duel) on local midnights around a day of DAYS."""
    zone = rnd.choice(ZONES)
    if rnd.random() < 0.5:
        w.settings(uid, t, zone)
    else:
        w.zones[uid] = zone
    now = model.local_date(max(t, w.newest() or t), model.zone(zone))
    later = [d for d in w.days if d > now]
    if later and rnd.random() < 0.4:
        day = min(later)                              # a jump to the next edge
    else:
        day = now + dt.timedelta(days=rnd.choice([-3, -1, 0, 0, 1, 2]))
    if dt.date(2011, 12, 25) <= day <= dt.date(2012, 1, 2) and rnd.random() < 0.7:
        zone = "Pacific/Apia"                         # it skipped 2011-12-30
        w.settings(uid, max(t, w.newest() or t), zone)
    last = t
    for k in range(rnd.randint(2, 6)):
        d = day + dt.timedelta(days=k + rnd.choice([0, 0, 1]))
        m = day_start(d, zone)
        for x in sorted({m - 1, m, near(rnd, m), m + rnd.randint(0, 3) * 1800 * NS}):
            if x < (w.newest() or 0) - 29 * 86400 * NS:
                continue
            r = rnd.random()
            extra = {"timezone": zone} if rnd.random() < 0.2 else {}
            if r < 0.7:
                w.lesson(uid, x, **extra)
            elif r < 0.85:
                w.duel(uid, x)
            else:
                w.lesson(uid, x, lesson="l0")       # a repeat, most times
            last = max(last, x)
    return last


def ep_window(w, rnd, uid, t):
    """Events exactly at the dedupe window's edge and just past it."""
    newest = w.newest()
    if newest is None:
        return t
    edge = newest - 30 * 86400 * NS
    for off in rnd.sample([0, 0, -1, -10**6, -NS, 1], rnd.randint(1, 3)):
        ev = w.lesson(uid, edge + off)
        if rnd.random() < 0.5:
            w.push(dict(ev))                         # its redelivery at once
    if len(w.events) > 5 and rnd.random() < 0.5:
        w.push(dict(rnd.choice(w.events[:-1])))      # an old one redelivered
    return t


def ep_redeliver_edge(w, rnd, uid, t):
    """Time moves to exactly one window after an accepted event (or a
    nanosecond more or less), then that event is redelivered: at the edge it
    is in, so its id must still be known (a duplicate, not a second fold);
    past it, TOO_LATE. Sometimes after a long quiet gap in between."""
    newest = w.newest()
    old = [e for e in w.events if "lessonCompleted" in e or "redeemReward" in e]
    if newest is None or not old:
        return t
    ev = rnd.choice(old[-30:])
    try:
        te = model.parse_time(ev["occurredAt"])
    except ValueError:
        return t                                     # one of ep_spellings' bad ones
    target = te + 30 * 86400 * NS + rnd.choice([0, 0, 0, -1, 1])
    if target < newest:
        return t
    if rnd.random() < 0.5:
        w.lesson(rnd.choice(["u1", "u2"]), te + rnd.randint(1, 29) * 86400 * NS)
    w.lesson(rnd.choice(["u1", "u2", uid]), target)
    w.push(dict(ev))
    return target


def ep_periods(w, rnd, uid, t):
    """A long gap whose newest event lies on a week's or month's edge in the
    rules' zone, then late events into periods just dropped or kept."""
    zone = w.st.rules.timezone
    gap = rnd.choice([3, 8, 30, 45, 200, 400]) * 86400 * NS
    target = period_start(t + gap, zone, rnd.random() < 0.5, True)
    target = rnd.choice([target, target - 1, target + 1, target - NS])
    w.lesson(uid, target, groupIds=["g1"])
    for _ in range(rnd.randint(1, 4)):
        back = rnd.choice([1, NS, 86400 * NS, 7 * 86400 * NS, 8 * 86400 * NS,
                           29 * 86400 * NS, 30 * 86400 * NS])
        w.lesson(rnd.choice(["u1", "u2", uid]), target - back)
    if rnd.random() < 0.3:
        w.emit("admin", target + rnd.choice([0, 1]), "rulesPublished",
               {"rulesYaml": rules_yaml(rnd), "comment": "edges"})
        w.lesson(uid, target + rnd.choice([0, 1, NS]))
    return target


def ep_freezes(w, rnd, uid, t):
    """Freezes bought, then a gap of exactly as many missed days (or one
    more), a freeze bought inside the gap, a lesson on an earlier day."""
    zone = w.zone_of(uid)
    d0 = model.local_date(max(t, w.newest() or t), model.zone(zone)) + dt.timedelta(days=1)
    s = day_start(d0, zone)
    w.lesson(uid, s + 3600 * NS)
    w.adjust(uid, s + 3601 * NS, 0, 20)
    k = rnd.randint(0, 3)
    for i in range(k):
        w.redeem(uid, s + (3602 + i) * NS, "shield")
    missed = max(0, w.counters(uid)[1] + rnd.choice([-1, 0, 0, 1]))
    if rnd.random() < 0.3:
        mid = day_start(d0 + dt.timedelta(days=1 + missed // 2), zone)
        w.redeem(uid, mid + rnd.choice([0, NS]), "shield")
    d1 = d0 + dt.timedelta(days=missed + 1)
    m = day_start(d1, zone)
    w.lesson(uid, near(rnd, m))
    if rnd.random() < 0.5:
        w.lesson(uid, m - rnd.choice([1, 86400 * NS, 2 * 86400 * NS]))   # an earlier day
    if rnd.random() < 0.5:
        w.lesson(uid, m + 60 * NS, lesson="l0")
    return m + 61 * NS


def ep_redeem(w, rnd, uid, t):
    """Stock to zero across learners, limits, reused ids, unknown/inactive."""
    t = max(t, w.newest() or t) + NS
    for u in rnd.sample(["u1", "u2", "u3", uid], 2):
        w.adjust(u, t, 0, rnd.choice([0, 1, 2, 3, 10]))
        for _ in range(rnd.randint(1, 4)):
            rid = "r%d" % rnd.randint(0, 6)
            w.redeem(u, t, rnd.choice(["mug", "mug", "shield", "theme", "old", "nope"]), rid)
    return t


def ep_adjust(w, rnd, uid, t):
    """Adjustments to exactly zero (or one below) and to level thresholds."""
    t = max(t, w.newest() or t) + rnd.choice([0, NS])
    c, _ = w.counters(uid)
    th = w.st.rules.thresholds
    r = rnd.random()
    if r < 0.3:
        w.adjust(uid, t, -c["exp"] - rnd.choice([0, 0, 1]), 0)
    elif r < 0.5:
        w.adjust(uid, t, 0, -c["coins"] - rnd.choice([0, 0, 1]))
    elif r < 0.6:
        w.adjust(uid, t, -c["exp"], -c["coins"])
    else:
        lvl = c["level"]
        jump = rnd.choice([1, 1, 2, 3])
        if lvl - 1 + jump < len(th):
            w.adjust(uid, t, th[lvl - 1 + jump] - c["exp"] - rnd.choice([0, 0, 1]), 0)
        else:
            w.adjust(uid, t, 5, 0)
    return t


def spell(rnd, ns):
    """NS in a random RFC 3339 spelling: an offset up to +-23:59, lower-case
    t and z, fractions of 1 to 9 digits."""
    secs, frac = divmod(ns, NS)
    off = rnd.choice([0, 0, 59, -59, 23 * 60 + 59, -(23 * 60 + 59), 14 * 60, -11 * 60, 330])
    local = dt.datetime.fromtimestamp(secs + off * 60, UTC)
    text = local.strftime("%Y-%m-%d") + rnd.choice("Tt") + local.strftime("%H:%M:%S")
    if frac:
        digits = "%09d" % frac
        text += "." + (digits.rstrip("0") if rnd.random() < 0.5 else digits)
    if off == 0 and rnd.random() < 0.7:
        return text + rnd.choice("Zz")
    return text + "%s%02d:%02d" % ("+" if off >= 0 else "-", abs(off) // 60, abs(off) % 60)


def ep_spellings(w, rnd, uid, t):
    """The same instants spelled otherwise, and timestamps just outside what
    RFC 3339 and the envelope's range allow (INVALID, ids not seen)."""
    t = max(t, w.newest() or t)
    for _ in range(rnd.randint(1, 3)):
        x = t + rnd.choice([0, 1, 10**6, NS])
        ev = w.lesson(uid, x)
        ev = dict(ev, occurredAt=spell(rnd, x))
        w.events[-1] = ev
    bad = rnd.choice(["2200-01-01T00:00:00Z", "2200-01-01T00:00:00.000000001Z",
                      "1999-12-31T23:59:59.999999999Z", "2000-01-01T00:00:00Z",
                      fmt(t)[:-1] + "+24:00", fmt(t)[:-1] + "-00:60",
                      fmt(t)[:19] + ".Z", fmt(t)[:17] + "60Z", fmt(t)[:19] + ".1234567890Z"])
    w.push({"eventId": "x%d" % (w.n + 1), "userId": uid, "occurredAt": bad,
            "lessonCompleted": {"lessonId": "l%d" % rnd.randint(0, 40)}})
    w.n += 1
    return t


def folds_rules_yaml(rnd, zone):
    """Rules for the fold's arithmetic: bonuses over every counter and event
    field (flat, percent, coins), a cap, thresholds or a formula with a low
    max_level, coins per level, badges that depend on one another (listed
    backwards, so the fixpoint needs several passes) and on every counter."""
    import gen
    lines = ["version: 1", "timezone: %s" % zone, "levels:"]
    if rnd.random() < 0.5:
        lines.append("  formula: { base: %d, growth_percent: %d, max_level: %d }" % (
            rnd.choice([1, 7, 20, 50]), rnd.choice([100, 101, 150, 199, 200, 333]),
            rnd.choice([2, 3, 4, 6, 12])))
    else:
        th = [0]
        for _ in range(rnd.randint(1, 6)):
            th.append(th[-1] + rnd.choice([1, 3, 10, 20, 45]))
        lines.append("  thresholds: [%s]" % ", ".join(map(str, th)))
    lines.append("  level_up_coins: %d" % rnd.choice([0, 1, 7, 20]))
    lines.append("activities:")
    lines.append("  lesson_completed:")
    lines.append("    exp: %d" % rnd.choice([0, 1, 3, 7, 10, 33]))
    lines.append("    coins: %d" % rnd.choice([0, 1, 3]))
    b = gen.bonuses(rnd, ["score", "duration_s"])
    b += [{"when": rnd.choice(["lessons_completed == 0", "lesson_completions == 0", "score == 100",
                               "current_streak >= 2", "level >= 2", "coins_earned > 10"]),
           "exp_percent": rnd.choice([1, 33, 50, 67, 99, 100, 250]), "exp": rnd.choice([0, 1])}]
    lines.append("    bonuses: %s" % json.dumps(b))
    lines.append("  tournament_result:")
    for o in ("win", "draw", "loss"):
        lines.append("    %s: { exp: %d, coins: %d }" % (o, rnd.choice([0, 3, 11, 40]), rnd.choice([0, 2])))
    lines.append("    bonuses: %s" % json.dumps(gen.bonuses(rnd, ["rank"]) + [
        {"when": "tournament_wins >= 1", "exp_percent": rnd.choice([33, 50]), "coins": 1}]))
    lines.append("caps:")
    lines.append("  exp_per_day: %d" % rnd.choice([0, 1, 10, 25, 40, 100]))
    lines.append("streaks:")
    lines.append("  qualifying: %s" % rnd.choice(["[lesson_completed, tournament_result]",
                                                  "[lesson_completed]", "[tournament_result]"]))
    lines.append("  milestones: [{ days: 1, coins: %d }, { days: 2, coins: 3 }]" % rnd.choice([0, 1, 4]))
    lines.append("leaderboards:")
    lines.append("  periods: [all_time, weekly, monthly]")
    lines.append("  keep_weeks: %d" % rnd.choice([0, 2, 8]))
    lines.append("  keep_months: %d" % rnd.choice([0, 2, 12]))
    lines.append("badges:")
    nb = rnd.randint(2, 6)
    for i in range(nb):
        crit = "badges >= %d" % (nb - 1 - i) if i < 2 else gen.expr(rnd, [])
        if rnd.random() < 0.3:
            crit = "(%s) and (%s)" % (crit, gen.expr(rnd, []))
        lines.append("  - { id: f%d, name: F%d, icon: https://example.org/f.svg, criteria: %s }"
                     % (i, i, json.dumps(crit)))
    lines.append("rewards:")
    lines.append("  - { id: shield, name: Shield, cost: %d, type: streak_freeze, per_user_limit: 2 }"
                 % rnd.choice([1, 5]))
    lines.append("  - { id: mug, name: Mug, cost: 2, type: physical, stock: %d, per_user_limit: 2 }"
                 % rnd.randint(0, 4))
    lines.append("  - { id: theme, name: Theme, cost: 1, type: cosmetic }")
    return "\n".join(lines) + "\n"


def ep_folds(w, rnd, uid, t):
    """Bonuses, caps, levels and badges: maybe new rules (mid-day, changing
    the cap, the zone, the curve), then a day of lessons and duels around
    a local midnight, with zone changes (UserSettings, with or without a
    zone, or the envelope) and adjustments (not capped, but levelling) in
    between; groups and opt-out for the boards."""
    day = rnd.choice(w.days)
    zone = rnd.choice(ZONES)
    t = max(t, w.newest() or t, day_start(day, zone) - rnd.choice([NS, 3600 * NS, 20 * 3600 * NS]))
    if rnd.random() < 0.5:
        text = folds_rules_yaml(rnd, rnd.choice(ZONES))
        w.emit(rnd.choice(["admin", uid]), t, "rulesPublished", {"rulesYaml": text, "comment": "folds"})
    for _ in range(rnd.randint(3, 12)):
        t += rnd.choice([0, 1, 10**6, NS, 600 * NS, 3600 * NS, 5 * 3600 * NS])
        r = rnd.random()
        extra = {}
        if rnd.random() < 0.4:
            extra["groupIds"] = rnd.choice([["g1"], ["g2"], ["g1", "g2"], ["g2", "g2"]])
        if rnd.random() < 0.1:
            extra["timezone"] = rnd.choice(ZONES)
        if r < 0.45:
            body = {"lessonId": "l%d" % rnd.randint(0, 15), "score": rnd.choice([0, 79, 80, 99, 100]),
                    "durationS": rnd.choice([0, 599, 600, 601])}
            w.emit(uid, t, "lessonCompleted", body, **extra)
        elif r < 0.65:
            w.emit(uid, t, "tournamentResult", {"tournamentId": "t%d" % rnd.randint(0, 30),
                                                "outcome": rnd.choice(["WIN", "DRAW", "LOSS"]),
                                                "rank": rnd.choice([1, 3, 4])}, **extra)
        elif r < 0.75:
            c, _ = w.counters(uid)
            w.adjust(uid, t, rnd.choice([1, 10, 100, 1000, -1, -c["exp"]]), rnd.choice([0, 5, -1]))
        elif r < 0.85:
            us = {}
            if rnd.random() < 0.6:
                us["timezone"] = rnd.choice(ZONES)
                w.zones[uid] = us["timezone"]
            if rnd.random() < 0.6:
                us["leaderboardOptOut"] = rnd.random() < 0.5
            w.emit(uid, t, "userSettings", us)
        elif r < 0.92:
            w.redeem(uid, t, rnd.choice(["shield", "mug", "theme"]))
        else:
            text = folds_rules_yaml(rnd, rnd.choice(ZONES))
            w.emit("admin", t, "rulesPublished", {"rulesYaml": text, "comment": "mid-day"})
    return t


def history_rules_yaml(rnd, zone=None):
    """Rules for long logs whose rules change: each version draws its
    thresholds (a shorter or steeper curve than before, so learners sit
    above or below the new levels), badges (some ids kept, renamed, dropped
    or added), rewards (stock absent, present or lowered; per_user_limit
    absent, 0 or more; retired; repriced; a type that changes), milestones,
    qualifying activities, periods (one left out) and keeps, cap and zone."""
    lines = ["version: 1", "timezone: %s" % (zone or rnd.choice(ZONES)), "levels:"]
    if rnd.random() < 0.3:
        lines.append("  formula: { base: %d, growth_percent: %d, max_level: %d }" % (
            rnd.choice([5, 20, 60]), rnd.choice([100, 150, 200]), rnd.choice([2, 3, 5, 9])))
    else:
        th = [0]
        for _ in range(rnd.randint(1, 8)):
            th.append(th[-1] + rnd.choice([1, 5, 15, 30, 60, 200]))
        lines.append("  thresholds: [%s]" % ", ".join(map(str, th)))
    lines.append("  level_up_coins: %d" % rnd.choice([0, 2, 9]))
    lines.append("activities:")
    lines.append("  lesson_completed:")
    lines.append("    exp: %d" % rnd.choice([0, 5, 12, 30]))
    lines.append("    coins: %d" % rnd.choice([0, 2, 6]))
    lines.append("    bonuses: [{ when: current_streak >= %d, exp_percent: 50, coins: 1 },"
                 " { when: redemptions >= 1 and badges >= 1, exp: 3 }]" % rnd.choice([2, 3]))
    lines.append("  tournament_result:")
    lines.append("    win: { exp: %d, coins: 4 }" % rnd.choice([10, 40]))
    lines.append("    draw: { exp: 7, coins: 1 }")
    lines.append("    loss: { exp: 2, coins: 0 }")
    if rnd.random() < 0.8:
        lines.append("caps:")
        lines.append("  exp_per_day: %d" % rnd.choice([0, 10, 30, 45, 100]))
    if rnd.random() < 0.85:
        lines.append("streaks:")
        lines.append("  qualifying: %s" % rnd.choice(["[lesson_completed, tournament_result]",
                                                      "[lesson_completed]", "[tournament_result]", "[]"]))
        ms = rnd.sample([1, 2, 3, 4, 7, 30, 365], rnd.randint(0, 3))
        lines.append("  milestones: [%s]" % ", ".join("{ days: %d, coins: %d }" % (d, rnd.choice([0, 1, 10]))
                                                      for d in sorted(ms)))
    if rnd.random() < 0.9:
        lines.append("leaderboards:")
        periods = [p for p in ("all_time", "weekly", "monthly") if rnd.random() < 0.8]
        lines.append("  periods: [%s]" % ", ".join(periods))
        lines.append("  keep_weeks: %d" % rnd.choice([0, 1, 2, 8, 60]))
        lines.append("  keep_months: %d" % rnd.choice([0, 1, 3, 12, 15]))
    badges = [("b-lvl", "level >= %d" % rnd.choice([2, 3, 4])),
              ("b-streak", "current_streak >= %d" % rnd.choice([2, 3])),
              ("b-spend", "coins_spent >= %d" % rnd.choice([1, 5])),
              ("b-many", "badges >= 2"),
              ("b-rich", "coins >= %d" % rnd.choice([10, 40])),
              ("b-exp", "exp >= %d" % rnd.choice([30, 100, 400]))]
    kept = [b for b in badges if rnd.random() < 0.6]
    if kept:
        lines.append("badges:")
        for bid, crit in rnd.sample(kept, len(kept)):
            lines.append("  - { id: %s, name: %s, icon: https://example.org/b.svg, criteria: %s }"
                         % (bid, rnd.choice(["Old", "New"]) + bid, json.dumps(crit)))
    lines.append("rewards:")

    def opt(key, choices):
        v = rnd.choice(choices)
        return "" if v is None else ", %s: %s" % (key, v)
    lines.append("  - { id: shield, name: Shield, cost: %d, type: streak_freeze%s%s }"
                 % (rnd.choice([1, 3]), opt("per_user_limit", [None, 0, 1, 2, 3]), opt("stock", [None, None, 1, 4])))
    lines.append("  - { id: mug, name: Mug, cost: %d, type: %s%s%s%s }"
                 % (rnd.choice([1, 2, 5]), rnd.choice(["physical", "physical", "streak_freeze"]),
                    opt("stock", [None, 0, 2, 3, 6]), opt("per_user_limit", [None, 1, 2]),
                    opt("active", [None, None, "false", "true"])))
    if rnd.random() < 0.7:
        lines.append("  - { id: theme, name: Theme, cost: %d, type: cosmetic%s }"
                     % (rnd.choice([0, 1, 4]), opt("per_user_limit", [None, 1, 3])))
    return "\n".join(lines) + "\n"


def ep_republish(w, rnd, uid, t):
    """New rules at or just after the newest event (sometimes before it: a
    late publication is still in force from its position), then a few
    events that meet them: levels above or below the new curve, badges
    renamed or gone, rewards repriced, retired, given or denied stock."""
    t = max(t, w.newest() or t) + rnd.choice([0, 1, NS, 3600 * NS])
    when = t - rnd.choice([0, 0, 0, 86400 * NS])
    if rnd.random() < 0.1:
        w.emit("admin", when, "rulesPublished", {"rulesYaml": "version: 2\n", "comment": "bad"})
    w.emit(rnd.choice(["admin", uid]), when, "rulesPublished",
           {"rulesYaml": history_rules_yaml(rnd), "comment": "history"})
    for _ in range(rnd.randint(1, 5)):
        u = rnd.choice(["u1", "u2", "u3", uid])
        r = rnd.random()
        t += rnd.choice([0, NS, 600 * NS, 86400 * NS])
        if r < 0.35:
            w.lesson(u, t)
        elif r < 0.5:
            w.duel(u, t)
        elif r < 0.8:
            w.redeem(u, t, rnd.choice(["shield", "mug", "mug", "theme"]))
        else:
            w.adjust(u, t, rnd.choice([0, 1, 30, -1]), rnd.choice([0, 3]))
    return t


def ep_reuse_id(w, rnd, uid, t):
    """An accepted event's id reused by a new event once the id's second is
    more than the window before the newest (forgotten: it folds as new),
    exactly the window (still known: a duplicate), or a second less."""
    old = [e for e in w.events[-60:] if isinstance(e, dict) and "rulesPublished" not in e]
    newest = w.newest()
    if newest is None or not old:
        return t
    ev = rnd.choice(old)
    try:
        te = model.parse_time(ev["occurredAt"]) // NS * NS
    except ValueError:
        return t
    target = te + 30 * 86400 * NS + rnd.choice([0, NS, NS, 2 * NS, -NS, 86400 * NS]) + rnd.choice([0, 1, NS - 1])
    if target < newest:
        return t
    w.lesson(rnd.choice(["u1", "u2", uid]), target)
    new = {"eventId": ev["eventId"], "userId": rnd.choice([ev["userId"], uid]),
           "occurredAt": fmt(target - rnd.choice([0, 0, NS, 29 * 86400 * NS]))}
    r = rnd.random()
    if r < 0.5:
        new["lessonCompleted"] = {"lessonId": "reuse%d" % rnd.randint(0, 3), "score": 70}
    elif r < 0.7:
        new["adjustment"] = {"exp": 7, "coins": 2, "reason": "reused id"}
    elif r < 0.85:
        new["redeemReward"] = {"redemptionId": "rr%d" % rnd.randint(0, 3), "rewardId": "theme"}
    else:
        new = dict(ev)                               # the very same event, past the window
        new["occurredAt"] = fmt(target)
    w.push(new)
    return target


def ep_long_gap(w, rnd, uid, t):
    """A gap of months to years, then late events: into the window (in),
    just past it (TOO_LATE), and into periods that the keeps just dropped."""
    t = max(t, w.newest() or t) + rnd.choice([40, 100, 200, 370, 400, 800]) * 86400 * NS
    t += rnd.choice([0, 1, NS]) + rnd.randint(0, 86400) * NS
    w.lesson(uid, t, groupIds=["g1"])
    for _ in range(rnd.randint(1, 4)):
        back = rnd.choice([NS, 7 * 86400 * NS, 29 * 86400 * NS, 30 * 86400 * NS,
                           30 * 86400 * NS + 1, 31 * 86400 * NS, 400 * 86400 * NS])
        u = rnd.choice(["u1", "u2", uid])
        if rnd.random() < 0.5:
            w.lesson(u, t - back, groupIds=["g2"])
        else:
            w.adjust(u, t - back, rnd.choice([1, 5]), 0)
    return t


BAD_ZONE_NAMES = ["Not/A_Zone", "EST5EDT", "posix/Europe/Berlin", "US/Eastern", "Europe/Nowhere"]


def ep_dead(w, rnd, uid, t):
    """Dead letters of every kind the fold makes from JSON lines, each
    after a learner has a streak, a capped day and scores: none may move
    anything (the clock included), and those that mark their id seen make
    a later event under that id a duplicate."""
    t = max(t, w.newest() or t) + rnd.choice([0, NS, 3600 * NS])
    w.lesson(uid, t)
    bodies = [("lessonCompleted", {"lessonId": "dz", "score": 80}),
              ("tournamentResult", {"tournamentId": "tz", "outcome": "WIN"}),
              ("redeemReward", {"redemptionId": "rz", "rewardId": "theme"}),
              ("adjustment", {"exp": 5, "coins": 1, "reason": "dz"}),
              ("userSettings", {"timezone": "Europe/Berlin", "leaderboardOptOut": True})]
    for _ in range(rnd.randint(1, 4)):
        r = rnd.random()
        later = t + rnd.choice([NS, 86400 * NS, 40 * 86400 * NS])
        if r < 0.35:                                  # an unknown zone, envelope or settings
            key, body = rnd.choice(bodies)
            if key == "userSettings" and rnd.random() < 0.5:
                extra = {"timezone": rnd.choice(ZONES)} if rnd.random() < 0.5 else {}
                ev = w.emit(uid, later, key, {"timezone": rnd.choice(BAD_ZONE_NAMES)}, **extra)
            else:
                ev = w.emit(uid, later, key, dict(body), timezone=rnd.choice(BAD_ZONE_NAMES))
        elif r < 0.55:                                # below zero
            c, _ = w.counters(uid)
            extra = {"timezone": rnd.choice(ZONES)} if rnd.random() < 0.5 else {}
            ev = w.emit(uid, later, "adjustment", {"exp": -c["exp"] - 1, "coins": rnd.choice([0, 5]),
                                                   "reason": "below"}, **extra)
        elif r < 0.75:                                # INVALID (an id never seen)
            key, body = rnd.choice(bodies[:3])
            body = dict(body)
            if key == "lessonCompleted":
                body["score"] = 1001
            elif key == "tournamentResult":
                body["rank"] = -1
            else:
                body["rewardId"] = ""
            ev = w.emit(uid, later, key, body)
        else:                                         # TOO_LATE
            newest = w.newest()
            ev = w.emit(uid, newest - 30 * 86400 * NS - rnd.choice([1, NS]), "lessonCompleted",
                        {"lessonId": "late"})
        if rnd.random() < 0.5:                        # the id again, now a good event
            good = {"eventId": ev["eventId"], "userId": uid, "occurredAt": fmt(t + 2 * NS),
                    "lessonCompleted": {"lessonId": "after-dead", "score": 100}}
            w.push(good)
    w.lesson(uid, t + 3 * NS)
    return t + 3 * NS


def ep_zone_flip(w, rnd, uid, t):
    """A streak and a capped day under way, then the zone changes (settings
    with or without a zone, the envelope) a little before or after a local
    midnight, and the lessons go on either side of it; opt-out toggled."""
    zone = w.zone_of(uid)
    d = model.local_date(max(t, w.newest() or t), model.zone(zone)) + dt.timedelta(days=1)
    m = day_start(d, zone)
    w.lesson(uid, m - 3600 * NS)
    w.lesson(uid, m + 60 * NS, groupIds=["g1"])
    for _ in range(rnd.randint(1, 4)):
        z = rnd.choice(ZONES)
        x = m + rnd.choice([-1, 0, 1, 1800, 3600, 12 * 3600]) * NS
        r = rnd.random()
        if r < 0.4:
            us = {"timezone": z}
            if rnd.random() < 0.5:
                us["leaderboardOptOut"] = rnd.random() < 0.5
            w.zones[uid] = z
            w.emit(uid, x, "userSettings", us)
        elif r < 0.55:
            w.emit(uid, x, "userSettings", {"leaderboardOptOut": rnd.random() < 0.5})
        else:
            w.zones[uid] = z
            w.lesson(uid, x, timezone=z, groupIds=["g1"])
        nd = model.local_date(x, model.zone(w.zone_of(uid))) + dt.timedelta(days=rnd.choice([0, 1]))
        w.lesson(uid, day_start(nd, w.zone_of(uid)) + rnd.choice([0, 1, NS, 7200 * NS]))
    return max(m + 12 * 3600 * NS, w.newest())


def ep_redeem_ids(w, rnd, uid, t):
    """Redemption ids reused across learners and rewards, with coins just
    enough or one short, around rules that retire or reprice a reward."""
    t = max(t, w.newest() or t) + NS
    for u in rnd.sample(["u1", "u2", "u3", uid], 2):
        w.adjust(u, t, 0, rnd.choice([0, 1, 2, 5]))
        for _ in range(rnd.randint(1, 3)):
            w.redeem(u, t, rnd.choice(["shield", "mug", "theme", "nope"]), "rid%d" % rnd.randint(0, 2))
        t += rnd.choice([0, NS])
    return t


# Values a field of an event may be given in JSON: right and wrong types,
# the other spellings proto3 JSON allows (integral reals, decimal strings,
# enums by number) and those it does not (+5, " 5", 1e2 as a string), the
# edges of ranges and lengths, nulls, and an integer beyond int64 (DECODE).
FIELD_VALUES = [0, -1, 1, 95.0, 95.5, "95", "-5", " 5", "+5", "0x1", "1e2", 1e2, True, False, None,
                "", [], {}, "x" * 129, "x" * 128, "é" * 64, "é" * 65, 1000, 1001, 604800, 604801,
                1000000, 1000000001, -1000000000, -1000000001, 2**31, 2**63, "WIN", "win", 2, 4,
                "OUTCOME_UNSPECIFIED", ["a", "a"], ["global"], [""], [None], ["g"] * 33,
                "Europe/Berlin", "posix/UTC", "a b", "\u2028"]
BAD_TIMES = ["2026-01-01 00:00:00Z", "2026-01-01T00:00:00", "2026-02-30T00:00:00Z",
             "2026-01-01T24:00:00Z", "2026-01-01T00:00:00+24:00", "1999-12-31T23:59:59Z", 5, None]


def mutant(rnd, uid, t):
    """A good event (of any body) with one or two fields given another
    value of FIELD_VALUES: INVALID, DECODE, or still good (it folds)."""
    bodies = [("lessonCompleted", {"lessonId": "mut", "courseId": "c", "score": 95, "durationS": 30}),
              ("tournamentResult", {"tournamentId": "mut", "outcome": "WIN", "rank": 3}),
              ("redeemReward", {"redemptionId": "mut", "rewardId": "theme"}),
              ("userSettings", {"timezone": "UTC", "leaderboardOptOut": True}),
              ("adjustment", {"exp": 5, "coins": 1, "reason": "mut"})]
    key, body = rnd.choice(bodies)
    ev = {"eventId": "mut%d" % rnd.randint(0, 10**6), "userId": uid, "occurredAt": fmt(t),
          key: dict(body)}
    for _ in range(rnd.randint(1, 2)):
        r = rnd.random()
        if r < 0.55:
            ev[key][rnd.choice(list(body))] = rnd.choice(FIELD_VALUES)
        elif r < 0.6:
            ev[key]["extra"] = rnd.choice([None, 1])
        elif r < 0.7:
            ev["occurredAt"] = rnd.choice(BAD_TIMES)
        elif r < 0.75:
            ev["event_id"] = ev["eventId"]                  # a field under both names
        else:
            ev[rnd.choice(["eventId", "userId", "source", "timezone", "groupIds"])] = \
                rnd.choice(FIELD_VALUES)
    return json.dumps(ev, ensure_ascii=rnd.random() < 0.5)


def ep_raw(w, rnd, uid, t):
    """Lines that are no event: not JSON, the same key twice (DECODE); JSON
    that is no object, unknown fields, a body of the wrong type (INVALID).
    None marks its id seen: the good event under that id that follows folds."""
    t = max(t, w.newest() or t) + rnd.choice([0, NS])
    w.n += 1
    eid = "x%d" % w.n
    head = '"eventId":"%s","userId":"%s","occurredAt":"%s"' % (eid, uid, fmt(t))
    body = '"lessonCompleted":{"lessonId":"raw%d","score":90}' % rnd.randint(0, 3)
    for _ in range(rnd.randint(1, 8)):
        w.raw(mutant(rnd, uid, t))
    w.raw(rnd.choice([
        "not json at all",
        "[1, 2, 3]",
        '"just a string"',
        "{" + head + "," + body,                        # cut short
        "{" + head + ',"userId":"other",' + body + "}",  # a key twice
        "{" + head + ',"bogus":1,' + body + "}",
        "{" + head + ',"lessonCompleted":{"lessonId":"l1","grade":3}}',
        "{" + head + ',"lessonCompleted":5}',
        "{" + head + ',"adjustment":{"exp":"ten"}}',
    ]))
    if rnd.random() < 0.6:
        w.push(json.loads("{" + head + "," + body + "}"))
    return t


HISTORY_EPISODES = [ep_raw, ep_republish, ep_republish, ep_reuse_id, ep_long_gap, ep_dead, ep_zone_flip,
                    ep_redeem_ids, ep_freezes, ep_midnights, ep_periods, ep_adjust]


def generate_history(seed, n_events, start=None):
    """Long logs whose rules change (difftest --history): it opens with a
    few events before the first rulesPublished (NO_RULES dead letters in
    an unseeded replay, folded under the seed's rules otherwise), then
    HISTORY_EPISODES over more than a year of event time."""
    rnd = random.Random(seed)
    rules = history_rules_yaml(rnd)
    w = Writer(rnd, rules)
    # sometimes many learners: a period dropped for all of them is cleaned
    # from their records a few per event, over many events (and batches)
    users = ["u1", "u2", "u3", "Amy"] + ["m%d" % i for i in range(rnd.choice([0, 0, 25, 70]))]
    shift = rnd.choice([0, 0, 0, 12])
    w.days = [d.replace(year=d.year + shift) for d in map(dt.date.fromisoformat, DAYS)]
    t = day_start(rnd.choice(w.days), "UTC")
    for _ in range(rnd.randint(1, 4)):
        u = rnd.choice(users)
        r = rnd.random()
        if r < 0.3:
            w.redeem(u, t, rnd.choice(["mug", "theme"]), "early")
        elif r < 0.5:
            w.adjust(u, t, 5, 5)
        elif r < 0.7:
            w.settings(u, t, rnd.choice(ZONES))
        else:
            w.lesson(u, t)
        t += rnd.choice([0, NS])
    w.emit("admin", t, "rulesPublished", {"rulesYaml": rules, "comment": "first"})
    for _ in range(rnd.randint(0, 2)):                 # an early event requeued after the rules
        w.push(dict(rnd.choice(w.events[:-1]), occurredAt=fmt(t + NS)))
    while len(w.events) < n_events:
        ep = rnd.choice(HISTORY_EPISODES)
        t = max(t, ep(w, rnd, rnd.choice(users), t))
    events = w.events
    if start is not None:                             # difftest --file-log
        shift = start * NS - model.parse_time(events[0]["occurredAt"])
        for ev in events:
            if isinstance(ev, dict):
                try:
                    ev["occurredAt"] = fmt(model.parse_time(ev["occurredAt"]) + shift)
                except ValueError:
                    pass
    return rules, events


EPISODES = [ep_midnights, ep_midnights, ep_window, ep_redeliver_edge, ep_spellings, ep_periods, ep_freezes, ep_redeem, ep_adjust]
FOLD_EPISODES = [ep_folds, ep_folds, ep_folds, ep_adjust, ep_midnights, ep_freezes]


def generate_folds(seed, n_events, start=None):
    """Like generate, mostly of ep_folds (difftest --folds)."""
    return generate(seed, n_events, start, FOLD_EPISODES)


def generate(seed, n_events, start=None, episodes=None):
    """(rules text, events) for SEED, about N_EVENTS events; START (seconds)
    moves the whole log to begin there."""
    rnd = random.Random(seed)
    rules = rules_yaml(rnd) if not episodes else folds_rules_yaml(rnd, rnd.choice(ZONES))
    w = Writer(rnd, rules)
    users = ["u1", "u2", "u3", "Amy"]
    # Some logs live decades ahead, past the last transition a zone file
    # lists (2037): there the zone's POSIX TZ footer gives the DST rules.
    shift = rnd.choice([0, 0, 0, 0, 12, 24, 72, 124, 160])
    w.days = [d.replace(year=d.year + shift) for d in map(dt.date.fromisoformat, DAYS)]
    t = day_start(rnd.choice(w.days), "UTC")
    while len(w.events) < n_events:
        ep = rnd.choice(episodes or EPISODES)
        t = max(t, ep(w, rnd, rnd.choice(users), t))
    events = w.events
    if start is not None:
        shift = start * NS - model.parse_time(events[0]["occurredAt"])
        for ev in events:
            try:
                ev["occurredAt"] = fmt(model.parse_time(ev["occurredAt"]) + shift)
            except ValueError:
                pass                                  # one of ep_spellings' bad ones
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
