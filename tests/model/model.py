#!/usr/bin/env python3
"""tests/model/model.py: an independent reference model of gamify's fold.

Written from the specification (DESIGN.md section 3, docs/rules.md "How one
event is folded", docs/events.md, examples/rules.yaml), not from
processor/core/fold.c, so that differential testing against `gamify replay`
+ `gamify dump` finds places where the product and the spec part ways.

    model.py RULES.yaml EVENTS.jsonl [--window-days N]

prints what `gamify dump` prints for the state a replay of EVENTS.jsonl
(a `jsonl:` log: no append times, so no TOO_FAR_AHEAD) seeded with
RULES.yaml gives: one JSON object per learner per line, sorted by userId
byte by byte. With --dlq FILE it also writes the dead-letter reasons, one a
line, in log order.

Python 3 standard library plus python3-yaml; time zones through zoneinfo
(the system's tzdata, as the product reads the system's TZif files).
"""

import argparse
import datetime as dt
import json
import re
import sys
import zoneinfo

import yaml

UTC = dt.timezone.utc
COUNTERS = (
    "exp", "level", "coins", "coins_earned", "coins_spent", "lessons_completed",
    "lesson_completions", "tournaments_played", "tournament_wins",
    "tournament_losses", "current_streak", "longest_streak", "badges",
    "redemptions",
)
EVENT_FIELDS = ("score", "duration_s", "rank")
I64_MAX = (1 << 63) - 1
I64_MIN = -(1 << 63)
LEVEL_EXP_CUT = 10**15
NS = 10**9


def sat(v):
    return max(I64_MIN, min(I64_MAX, v))


# --- expressions -------------------------------------------------------------

TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_]*)|(==|!=|<=|>=|<|>|\(|\)|\+|-))")


class Expr:
    """The `when`/`criteria` language: integers, names, comparisons,
    and/or/not, parentheses, saturating +/-. A bare name means "not zero"."""

    def __init__(self, text, fields=()):
        """FIELDS: the event fields this expression may read besides the
        counters (docs/rules.md: `score`, `duration_s` in a lesson's `when`,
        `rank` in a tournament's; none in badge criteria)."""
        self.toks = []
        pos = 0
        text = str(text)
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = TOKEN.match(text, pos)
            if not m:
                raise ValueError("bad expression %r at %d" % (text, pos))
            if m.group(1) is not None:
                if int(m.group(1)) > 2**63 - 1:
                    raise ValueError("integer beyond int64 in %r" % text)
                self.toks.append(("int", int(m.group(1))))
            elif m.group(2) is not None:
                w = m.group(2)
                if w not in ("and", "or", "not") and w not in COUNTERS and w not in fields:
                    raise ValueError("%s is not a counter or a field of this event" % w)
                self.toks.append(("kw", w) if w in ("and", "or", "not") else ("name", w))
            else:
                self.toks.append(("op", m.group(3)))
            pos = m.end()
        self.i = 0
        self.tree = self._or()
        if self.i != len(self.toks):
            raise ValueError("trailing tokens in %r" % text)

    def _peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def _or(self):
        left = self._and()
        while self._peek() == ("kw", "or"):
            self.i += 1
            left = ("or", left, self._and())
        return left

    def _and(self):
        left = self._not()
        while self._peek() == ("kw", "and"):
            self.i += 1
            left = ("and", left, self._not())
        return left

    def _not(self):
        if self._peek() == ("kw", "not"):
            self.i += 1
            return ("not", self._not())
        return self._cmp()

    def _cmp(self):
        left = self._sum()
        k, v = self._peek()
        if k == "op" and v in ("==", "!=", "<", "<=", ">", ">="):
            self.i += 1
            return ("cmp", v, left, self._sum())
        return left

    def _sum(self):
        left = self._atom()
        while True:
            k, v = self._peek()
            if k == "op" and v in ("+", "-"):
                self.i += 1
                left = ("arith", v, left, self._atom())
            else:
                return left

    def _atom(self):
        k, v = self._peek()
        self.i += 1
        if k == "int":
            return ("int", v)
        if k == "name":
            return ("name", v)
        if (k, v) == ("op", "("):
            e = self._or()
            if self._peek() != ("op", ")"):
                raise ValueError("missing )")
            self.i += 1
            return e
        raise ValueError("unexpected token %r" % (v,))

    def value(self, node, env):
        t = node[0]
        if t == "int":
            return node[1]
        if t == "name":
            return env.get(node[1], 0)
        if t == "arith":
            a, b = self.value(node[2], env), self.value(node[3], env)
            return sat(a + b if node[1] == "+" else a - b)
        if t == "cmp":
            a, b = self.value(node[2], env), self.value(node[3], env)
            return int({"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b,
                        ">": a > b, ">=": a >= b}[node[1]])
        if t == "not":
            return int(self.value(node[1], env) == 0)
        if t == "and":
            return int(self.value(node[1], env) != 0 and self.value(node[2], env) != 0)
        if t == "or":
            return int(self.value(node[1], env) != 0 or self.value(node[2], env) != 0)
        raise AssertionError(t)

    def holds(self, env):
        return self.value(self.tree, env) != 0


# --- rules -------------------------------------------------------------------


BIG = 10**9
ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}\Z")


def check_rules(doc):
    """Raises ValueError where docs/rules.md's table refuses DOC: unknown
    keys, amounts that are not whole numbers in range, thresholds that do
    not start at 0 and climb, both or neither of thresholds and formula,
    missing activities, unknown list entries, repeated milestones or ids."""
    def keys(d, allowed, where, required=()):
        if not isinstance(d, dict):
            raise ValueError("%s: not a mapping" % where)
        for k in d:
            if k not in allowed:
                raise ValueError("%s: unknown key %s" % (where, k))
        for k in required:
            if k not in d:
                raise ValueError("%s: missing %s" % (where, k))

    def num(v, where, lo=0, hi=BIG, null_ok=True):
        if v is None and null_ok:
            return
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError("%s: %r" % (where, v))

    keys(doc, ("version", "timezone", "levels", "activities", "caps", "streaks", "leaderboards",
               "badges", "rewards"), "rules", ("version", "levels", "activities"))
    lv = doc["levels"]
    keys(lv, ("thresholds", "formula", "level_up_coins"), "levels")
    if ("thresholds" in lv) == ("formula" in lv):
        raise ValueError("levels: one of thresholds and formula")
    if "thresholds" in lv:
        th = lv["thresholds"]
        if not isinstance(th, list) or not th or len(th) > 10000:
            raise ValueError("thresholds")
        for i, x in enumerate(th):
            num(x, "thresholds", 0, 10**15, False)
            if (i == 0 and x != 0) or (i and x <= th[i - 1]):
                raise ValueError("thresholds: from 0, strictly increasing")
    else:
        f = lv["formula"]
        keys(f, ("base", "growth_percent", "max_level"), "formula", ("base", "growth_percent", "max_level"))
        # amounts (docs/rules.md): at most 10^9 like every other
        num(f["base"], "base", 1, BIG, False)
        num(f["growth_percent"], "growth_percent", 0, BIG, False)
        num(f["max_level"], "max_level", 2, 10000, False)
    num(lv.get("level_up_coins"), "level_up_coins")
    act = doc["activities"]
    keys(act, ("lesson_completed", "tournament_result"), "activities",
         ("lesson_completed", "tournament_result"))

    def bonuses(lst, where):
        for b in lst or []:
            keys(b, ("when", "exp", "exp_percent", "coins"), where, ("when",))
            num(b.get("exp"), where)
            num(b.get("exp_percent"), where, 0, 10000)
            num(b.get("coins"), where)
    lc = act["lesson_completed"]
    keys(lc, ("exp", "coins", "bonuses"), "lesson_completed")
    num(lc.get("exp"), "lesson exp")
    num(lc.get("coins"), "lesson coins")
    bonuses(lc.get("bonuses"), "lesson bonuses")
    tr = act["tournament_result"]
    keys(tr, ("win", "draw", "loss", "bonuses"), "tournament_result", ("win", "draw", "loss"))
    for o in ("win", "draw", "loss"):
        keys(tr[o], ("exp", "coins"), o)
        num(tr[o].get("exp"), o)
        num(tr[o].get("coins"), o)
    bonuses(tr.get("bonuses"), "tournament bonuses")
    caps = doc.get("caps") or {}
    keys(caps, ("exp_per_day",), "caps")
    num(caps.get("exp_per_day"), "exp_per_day")
    st = doc.get("streaks") or {}
    keys(st, ("qualifying", "milestones"), "streaks")
    qual = st.get("qualifying") or []
    for q in qual:
        if q not in ("lesson_completed", "tournament_result"):
            raise ValueError("qualifying %s" % q)
    if len(set(qual)) != len(qual):
        raise ValueError("qualifying: an activity listed twice")
    days = set()
    for m in st.get("milestones") or []:
        keys(m, ("days", "coins"), "milestone", ("days",))
        num(m["days"], "days", 1, BIG, False)
        num(m.get("coins"), "milestone coins")
        if m["days"] in days:
            raise ValueError("milestone twice")
        days.add(m["days"])
    lb = doc.get("leaderboards") or {}
    keys(lb, ("periods", "keep_weeks", "keep_months"), "leaderboards")
    periods = lb.get("periods") or []
    for q in periods:
        if q not in ("all_time", "weekly", "monthly"):
            raise ValueError("period %s" % q)
    if len(set(periods)) != len(periods):
        raise ValueError("periods: a period listed twice")
    num(lb.get("keep_weeks"), "keep_weeks", 0, 100000)      # at most 100000 periods kept
    num(lb.get("keep_months"), "keep_months", 0, 100000)
    for what, lst, allowed, req in (
            ("badges", doc.get("badges"), ("id", "name", "icon", "criteria"), ("id", "name", "criteria")),
            ("rewards", doc.get("rewards"), ("id", "name", "cost", "type", "stock", "per_user_limit", "active"),
             ("id", "name", "cost", "type"))):
        ids = set()
        for x in lst or []:
            keys(x, allowed, what, req)
            if not isinstance(x["id"], str) or not ID_RE.match(x["id"]) or x["id"] in ids:
                raise ValueError("%s id %r" % (what, x["id"]))
            ids.add(x["id"])
            for k in ("name", "icon"):
                if k in x and x[k] is not None and not isinstance(x[k], str):
                    raise ValueError("%s %s: not text" % (what, k))
            if what == "rewards":
                num(x["cost"], "cost", 0, BIG, False)
                num(x.get("stock"), "stock")
                num(x.get("per_user_limit"), "per_user_limit")
                if not isinstance(x.get("active", True), bool):
                    raise ValueError("active: true or false")
                if x["type"] not in ("streak_freeze", "cosmetic", "physical", "digital"):
                    raise ValueError("reward type")


class RulesLoader(yaml.SafeLoader):
    """YAML as docs/rules.md reads it, which is not PyYAML's YAML 1.1:
    integers are decimal (`007` is 7; `0x10`, `0o7`, `1_000`, `1e3`, `5.0`
    are not integers), booleans are true/True/TRUE and false/False/FALSE
    (`yes`, `on` are text), null is ~, null/Null/NULL or nothing; a key
    twice in one mapping, anchors, aliases and tags are errors; a key whose
    value is null is absent; and an id,
    name, icon, type, zone or expression is the text written (`id: 007` is
    the id "007")."""

    TEXT_KEYS = ("id", "name", "icon", "type", "timezone", "when", "criteria")

    def compose_node(self, parent, index):
        ev = self.peek_event()
        if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None) is not None:
            raise ValueError("YAML anchors and aliases are refused")
        if getattr(ev, "tag", None) not in (None, "!"):
            raise ValueError("YAML tags are refused")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for k, v in node.value:
            key = self.construct_object(k, deep=True)
            if key in seen:
                raise ValueError("key %r repeated" % (key,))
            seen.add(key)
        m = super().construct_mapping(node, deep=True)
        for k, v in node.value:
            key = self.construct_object(k, deep=True)
            if key in self.TEXT_KEYS and isinstance(v, yaml.ScalarNode) and m.get(key) is not None:
                m[key] = v.value
        # a key whose value is null is absent (its default, or missing)
        return {k: v for k, v in m.items() if v is not None}


RulesLoader.yaml_implicit_resolvers = {}
RulesLoader.add_implicit_resolver("tag:yaml.org,2002:bool",
                                  re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
RulesLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"),
                                  list("-+0123456789"))
RulesLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"),
                                  ["~", "n", "N", ""])
RulesLoader.add_constructor("tag:yaml.org,2002:int",
                            lambda loader, node: int(loader.construct_scalar(node)))
RulesLoader.add_constructor("tag:yaml.org,2002:bool",
                            lambda loader, node: loader.construct_scalar(node).lower() == "true")


class Rules:
    def __init__(self, text):
        doc = yaml.load(text, Loader=RulesLoader)
        if not isinstance(doc, dict) or doc.get("version") != 1 or isinstance(doc.get("version"), bool):
            raise ValueError("rules: version must be 1")
        check_rules(doc)
        self.timezone = doc.get("timezone", "UTC")
        self.zone = zone(self.timezone) if isinstance(self.timezone, str) else None
        if self.zone is None:
            raise ValueError("timezone: not an installed IANA zone name")
        lv = doc.get("levels") or {}
        if "thresholds" in lv:
            self.thresholds = list(lv["thresholds"])
        else:
            f = lv["formula"]
            base, growth, maxl = f["base"], f["growth_percent"], f["max_level"]
            t = [0]
            if maxl >= 2:
                t.append(base)
            while len(t) < maxl:
                nxt = t[-1] + (t[-1] - t[-2]) * growth // 100
                if nxt > LEVEL_EXP_CUT:
                    break
                t.append(nxt)
            t = [x for x in t if x <= LEVEL_EXP_CUT]
            self.thresholds = t
        self.level_up_coins = lv.get("level_up_coins", 0)
        act = doc.get("activities") or {}
        lc = act.get("lesson_completed") or {}
        self.lesson = (lc.get("exp", 0), lc.get("coins", 0))
        self.lesson_bonuses = self._bonuses(lc.get("bonuses"), ("score", "duration_s"))
        tr = act.get("tournament_result") or {}
        self.outcome = {}
        for name in ("win", "draw", "loss"):
            g = tr.get(name) or {}
            self.outcome[name.upper()] = (g.get("exp", 0), g.get("coins", 0))
        self.tournament_bonuses = self._bonuses(tr.get("bonuses"), ("rank",))
        caps = doc.get("caps") or {}
        self.cap = caps.get("exp_per_day", 0) or 0
        st = doc.get("streaks") or {}
        self.qualifying = set(st.get("qualifying", ["lesson_completed", "tournament_result"]))
        self.milestones = [(m["days"], m.get("coins", 0)) for m in st.get("milestones") or []]
        lb = doc.get("leaderboards") or {}
        self.periods = set(lb.get("periods", ["all_time", "weekly", "monthly"]))
        self.keep_weeks = lb.get("keep_weeks", 8)
        self.keep_months = lb.get("keep_months", 12)
        self.badges = [(b["id"], Expr(b["criteria"])) for b in doc.get("badges") or []]
        self.badge_names = {b["id"]: b.get("name", "") for b in doc.get("badges") or []}
        self.rewards = {}
        for r in doc.get("rewards") or []:
            self.rewards[r["id"]] = {
                "cost": r["cost"], "type": r["type"], "stock": r.get("stock"),
                "limit": r.get("per_user_limit"), "active": r.get("active", True),
            }

    @staticmethod
    def _bonuses(lst, fields):
        out = []
        for b in lst or []:
            out.append((Expr(b["when"], fields), b.get("exp", 0), b.get("exp_percent", 0), b.get("coins", 0)))
        return out


# --- time --------------------------------------------------------------------

ZONES = {}


# docs/events.md: an IANA name is UTC, Etc/..., or an area and one or more
# locations, each starting with a letter, of A-Z a-z 0-9 _ + -; at most 64
# bytes. POSIX TZ strings, old aliases (US/Eastern, CET) and other files of
# the zoneinfo directory (posix/...) are refused even where installed.
IANA_NAME = re.compile(r"(UTC|(Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe"
                       r"|Indian|Pacific|Etc)(/[A-Za-z][A-Za-z0-9_+-]*)+)\Z")


def zone(name):
    """Returns the ZoneInfo of NAME, or None when it is not an IANA name
    (above) or not installed."""
    if name not in ZONES:
        try:
            if not name or len(name.encode()) > 64 or not IANA_NAME.match(name):
                raise ValueError(name)
            ZONES[name] = zoneinfo.ZoneInfo(name)
        except Exception:
            ZONES[name] = None
    return ZONES[name]


def parse_time(s):
    """RFC 3339 (as the proto3 JSON mapping takes it) -> nanoseconds since 1970."""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)", s)
    if not m:
        raise ValueError("bad timestamp %r" % s)
    y, mo, d, h, mi, se = (int(m.group(i)) for i in range(1, 7))
    tz = m.group(8)
    if tz not in ("Z", "z") and (int(tz[1:3]) > 23 or int(tz[4:6]) > 59):
        raise ValueError("bad offset %r" % s)      # RFC 3339: time-hour 00-23
    if tz in ("Z", "z"):
        off = 0
    else:
        off = (int(tz[1:3]) * 60 + int(tz[4:6])) * 60 * (1 if tz[0] == "+" else -1)
    base = dt.datetime(y, mo, d, h, mi, se, tzinfo=UTC)
    secs = int(base.timestamp()) - off
    frac = m.group(7) or "."
    nanos = int((frac[1:] + "000000000")[:9])
    return secs * NS + nanos


def fmt_time(ns):
    return dt.datetime.fromtimestamp(ns // NS, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_date(ns, zi):
    return dt.datetime.fromtimestamp(ns // NS, UTC).astimezone(zi).date()


def first_second(day, zi):
    """The first whole second whose local date in ZI is DAY (an ordinal) or later."""
    d = dt.date.fromordinal(day)
    lo = int(dt.datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) - 40 * 3600
    hi = lo + 80 * 3600
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if local_date(mid * NS, zi).toordinal() >= day:
            hi = mid
        else:
            lo = mid
    return hi


def days_skipped(a, b, zi):
    """How many local days strictly between the ordinals A and B no instant
    falls on in ZI (Pacific/Apia skipped 2011-12-30): a day exists when its
    first second comes before the next day's."""
    if b - a < 2:
        return 0
    start = int(dt.datetime.combine(dt.date.fromordinal(a), dt.time(), UTC).timestamp()) - 86400
    end = int(dt.datetime.combine(dt.date.fromordinal(b), dt.time(), UTC).timestamp()) + 2 * 86400
    seen = {local_date(x * NS, zi).toordinal() for x in range(start, end, 6 * 3600)}
    return sum(1 for d in range(a + 1, b)
               if d not in seen and first_second(d, zi) >= first_second(d + 1, zi))


def week_key(d):
    y, w, _ = d.isocalendar()
    return "%04d-W%02d" % (y, w)


def week_index(d):
    return (d.toordinal() - d.weekday()) // 7


def month_index(d):
    return d.year * 12 + d.month - 1


# --- learner -----------------------------------------------------------------


class Learner:
    def __init__(self, uid):
        self.uid = uid
        self.c = {k: 0 for k in COUNTERS}
        self.c["level"] = 1
        self.freezes = 0
        self.badges = []
        self.redemptions = []          # [redemptionId, rewardId, status, reason]
        self.redemption_ids = set()
        self.completed = {}            # rewardId -> completed count
        self.scores = {}               # board -> period -> [score, reached]
        self.tz = ""
        self.opt_out = False
        self.last_day = None           # date ordinal
        self.cap_day = None
        self.cap_tally = 0

    def dump(self):
        c = self.c
        scores = {}
        reached = {}
        for b in sorted(self.scores, key=lambda s: s.encode()):
            per = self.scores[b]
            if not per:
                continue
            scores[b] = {p: per[p][0] for p in sorted(per, key=lambda s: s.encode())}
            reached[b] = {p: fmt_time(per[p][1]) for p in sorted(per, key=lambda s: s.encode())}
        obj = {
            "userId": self.uid, "exp": c["exp"], "level": c["level"], "coins": c["coins"],
            "coinsEarned": c["coins_earned"], "coinsSpent": c["coins_spent"],
            "lessonsCompleted": c["lessons_completed"],
            "lessonCompletions": c["lesson_completions"],
            "tournamentsPlayed": c["tournaments_played"],
            "tournamentWins": c["tournament_wins"], "tournamentLosses": c["tournament_losses"],
            "currentStreak": c["current_streak"], "longestStreak": c["longest_streak"],
            "freezesHeld": self.freezes, "badges": list(self.badges),
            "redemptions": [
                {"redemptionId": r[0], "rewardId": r[1], "status": r[2], "reason": r[3]}
                for r in self.redemptions
            ],
            "scores": scores, "timezone": self.tz, "leaderboardOptOut": self.opt_out,
            "scoresReachedAt": reached,
        }
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def camel(name):
    parts = name.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def normalize(obj):
    """Proto field names -> lowerCamelCase; nulls (defaults) dropped. A
    field given under both names (event_id and eventId) is a ValueError
    (INVALID)."""
    if isinstance(obj, dict):
        names = [camel(k) for k in obj]
        if len(set(names)) != len(names):
            raise ValueError("a field given twice")
        return {camel(k): normalize(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [normalize(v) for v in obj]
    return obj


BODIES = ("lessonCompleted", "tournamentResult", "redeemReward", "rulesPublished",
          "userSettings", "adjustment")
ENVELOPE = ("eventId", "userId", "occurredAt", "source", "timezone", "groupIds")
BODY_FIELDS = {
    "lessonCompleted": ("lessonId", "courseId", "score", "durationS"),
    "tournamentResult": ("tournamentId", "outcome", "rank"),
    "redeemReward": ("redemptionId", "rewardId"),
    "rulesPublished": ("rulesYaml", "comment"),
    "userSettings": ("timezone", "leaderboardOptOut"),
    "adjustment": ("exp", "coins", "reason"),
}
T_MIN = parse_time("2000-01-01T00:00:00Z")
T_MAX = parse_time("2200-01-01T00:00:00Z")


def blen(v):
    return len(v.encode("utf-8")) if isinstance(v, str) else -1


def valid(ev):
    """docs/events.md and the limits in event.proto: False for an INVALID event."""
    def idok(v, required=True):
        n = blen(v if v is not None else "")
        return (1 if required else 0) <= n <= 128

    def num(v, lo, hi):
        """proto3 JSON integers: a number (an integral real too), or a
        string of decimal digits with an optional minus (no plus, no
        spaces, no exponent); null is 0."""
        if v is None:
            n = 0
        elif isinstance(v, bool):
            return False
        elif isinstance(v, int):
            n = v
        elif isinstance(v, float):
            if not v.is_integer():
                return False
            n = int(v)
        elif isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v):
            n = int(v)
        else:
            return False
        return lo <= n <= hi

    def text(v, most):
        return v is None or (isinstance(v, str) and blen(v) <= most)

    if not idok(ev.get("eventId")) or not idok(ev.get("userId")):
        return False
    if any(k not in ENVELOPE and k not in BODIES for k in ev):
        return False                               # an unknown field
    for b, fields in BODY_FIELDS.items():
        if b in ev and (not isinstance(ev[b], dict) or any(k not in fields for k in ev[b])):
            return False
    try:
        t = parse_time(ev.get("occurredAt", ""))
    except (ValueError, TypeError):
        return False
    if not T_MIN <= t < T_MAX:                     # 2200-01-01T00:00:00Z itself is out
        return False
    if not text(ev.get("source"), 64) or not text(ev.get("timezone"), 64):
        return False
    groups = ev.get("groupIds", [])
    if not isinstance(groups, list) or len(groups) > 32 or not all(idok(g) for g in groups):
        return False
    bodies = [b for b in BODIES if b in ev]
    if len(bodies) != 1:
        return False
    b = ev[bodies[0]]
    if bodies[0] == "lessonCompleted":
        return (idok(b.get("lessonId")) and idok(b.get("courseId"), False)
                and num(b.get("score"), 0, 1000) and num(b.get("durationS"), 0, 604800))
    if bodies[0] == "tournamentResult":
        outcome = b.get("outcome")             # an enum: its name, or its number
        return (idok(b.get("tournamentId")) and not isinstance(outcome, bool)
                and outcome in ("WIN", "DRAW", "LOSS", 1, 2, 3) and not isinstance(outcome, float)
                and num(b.get("rank"), 0, 1000000))
    if bodies[0] == "redeemReward":
        return idok(b.get("redemptionId")) and idok(b.get("rewardId"))
    if bodies[0] == "rulesPublished":
        return (isinstance(b.get("rulesYaml"), str) and 1 <= blen(b.get("rulesYaml")) <= 1 << 20
                and text(b.get("comment"), 1024))
    if bodies[0] == "adjustment":
        return (num(b.get("exp"), -10**9, 10**9) and num(b.get("coins"), -10**9, 10**9)
                and text(b.get("reason"), 1024))
    return text(b.get("timezone"), 64) and isinstance(b.get("leaderboardOptOut", False), bool)


# --- the fold ----------------------------------------------------------------


class State:
    def __init__(self, rules, window_days=30, append=None, skew_s=3600, what_if=False):
        """APPEND: None for jsonl (no append times), else (t0, t1), the wall
        clock (seconds) before and after the log was written: an event dated
        more than SKEW_S after its append time is TOO_FAR_AHEAD; self.ambiguous
        is set when an event falls between t0 + SKEW_S and t1 + SKEW_S."""
        self.rules = rules
        # WHAT_IF: `gamify replay --rules-override` (docs/operations.md): a
        # rulesPublished is folded as ever (its id seen, the clock moved; rules
        # that do not check a RULES_INVALID dead letter) but never switches rules
        self.what_if = what_if
        self.append = append
        self.skew = skew_s * NS
        self.ambiguous = False
        self.window = window_days * 86400 * NS
        self.learners = {}
        # event id -> the whole second of the occurredAt it was last marked
        # seen with (docs/rules.md step 1: forgotten once that second is more
        # than the window before the newest event time's second)
        self.seen = {}
        self.newest = None
        self.first_lessons = set()
        self.first_tournaments = set()
        self.stock_used = {}
        self.dlq = []
        # outbound events (docs/events.md "Outbound events"), in the order
        # the fold makes them: [eventId, userId, occurredAt ns, cause, kind, body]
        self.out = []
        self.cause = None

    def publish(self, lr, suffix, kind, body):
        eid, t = self.cause
        body = {k: v for k, v in body.items() if v not in (0, "", None)}
        self.out.append([eid + ":" + suffix, lr.uid, t, eid, kind, body])

    def learner(self, uid):
        if uid not in self.learners:
            self.learners[uid] = Learner(uid)
        return self.learners[uid]

    def dead(self, reason):
        self.dlq.append(reason)

    def apply_line(self, line):
        """One line of a jsonl: log. Not JSON (a syntax error, the same key
        twice in one object) is a DECODE dead letter; JSON that is not an
        object is INVALID (docs/events.md); neither marks an id seen."""
        def no_dup(pairs):
            keys = [k for k, _ in pairs]
            if len(set(keys)) != len(keys):
                raise ValueError("duplicate key")
            return dict(pairs)
        def int64(text):       # jansson: "too big integer", a DECODE
            v = int(text)
            if not I64_MIN <= v <= I64_MAX:
                raise ValueError("too big integer")
            return v

        def real(text):        # jansson: "real number overflow"
            v = float(text)
            if v in (float("inf"), float("-inf")):
                raise ValueError("real number overflow")
            return v
        try:
            ev = json.loads(line, object_pairs_hook=no_dup, parse_int=int64, parse_float=real)
        except ValueError:
            if self.append is None:    # a file log holds no such record: produce refuses it
                self.dead("DECODE")
            return
        if not isinstance(ev, dict):
            if self.append is None:
                self.dead("INVALID")
            return
        self.apply(ev)

    # Step 1 and the dispatch of one event.
    def apply(self, ev):
        try:
            unknown = any(camel(k) not in ENVELOPE and camel(k) not in BODIES for k in ev) or any(
                isinstance(ev.get(b), dict) and any(camel(k) not in BODY_FIELDS[camel(b)] for k in ev[b])
                for b in ev if camel(b) in BODIES)     # an unknown field is one even when null
            ev = None if unknown else normalize(ev)
        except ValueError:
            ev = None
        if ev is None or not valid(ev):
            if self.append is None:    # a file log holds no such record: produce refuses it
                self.dead("INVALID")
            return
        t = parse_time(ev["occurredAt"])
        eid = ev["eventId"]
        if self.append is not None:
            lo, hi = (int(x * NS) + self.skew for x in self.append)
            if t > hi:
                self.dead("TOO_FAR_AHEAD")
                return
            if t > lo:
                self.ambiguous = True
        if self.newest is not None and t < self.newest - self.window:
            self.dead("TOO_LATE")
            return
        if eid in self.seen and not (self.newest is not None and
                                     self.seen[eid] < self.newest // NS - self.window // NS):
            return
        if self.rules is None and "rulesPublished" not in ev:
            self.dead("NO_RULES")
            return
        self.seen[eid] = t // NS
        n_dead = len(self.dlq)
        n_out = len(self.out)
        self.cause = (eid, t)
        self._fold(ev, t)
        if len(self.dlq) != n_dead:
            del self.out[n_out:]
            # ADJUSTMENT_BELOW_ZERO, UNKNOWN_TIMEZONE, RULES_INVALID: the id is
            # seen and nothing else changes; time moves only through accepted
            # events (DESIGN section 3)
            return
        if self.newest is None or t > self.newest:
            self.newest = t
        self._prune()

    def _fold(self, ev, t):
        if "rulesPublished" in ev:
            try:
                rules = Rules(ev["rulesPublished"].get("rulesYaml", ""))
            except Exception:
                self.dead("RULES_INVALID")
                return
            if not self.what_if:
                self.rules = rules
            return
        uid = ev["userId"]
        env_tz = ev.get("timezone") or ""
        if env_tz and zone(env_tz) is None:
            self.dead("UNKNOWN_TIMEZONE")
            return
        if "userSettings" in ev:
            us = ev["userSettings"]
            stz = us.get("timezone") or ""
            if stz and zone(stz) is None:
                self.dead("UNKNOWN_TIMEZONE")
                return
            lr = self.learner(uid)
            if env_tz:
                lr.tz = env_tz
            if stz:
                lr.tz = stz
            lr.opt_out = bool(us.get("leaderboardOptOut", False))
            self._levels(lr)    # steps 5 and 6 end every folded learner event
            self._badges(lr)
            return
        if "adjustment" in ev:
            adj = ev["adjustment"]
            dexp, dcoins = int(adj.get("exp") or 0), int(adj.get("coins") or 0)
            lr = self.learners.get(uid)
            exp0 = lr.c["exp"] if lr else 0
            coins0 = lr.c["coins"] if lr else 0
            if exp0 + dexp < 0 or coins0 + dcoins < 0:
                self.dead("ADJUSTMENT_BELOW_ZERO")
                return
            lr = self.learner(uid)
            if env_tz:
                lr.tz = env_tz
            lr.c["exp"] = sat(lr.c["exp"] + dexp)
            lr.c["coins"] = sat(lr.c["coins"] + dcoins)
            if dcoins > 0:
                lr.c["coins_earned"] = sat(lr.c["coins_earned"] + dcoins)
            self._levels(lr)
            self._badges(lr)
            self._scores(lr, ev, t, dexp)
            return
        lr = self.learner(uid)
        if env_tz:
            lr.tz = env_tz
        if "redeemReward" in ev:
            self._redeem(lr, ev["redeemReward"])
            return
        if "lessonCompleted" in ev:
            body = ev["lessonCompleted"]
            kind = "lesson_completed"
            key = (uid, body.get("lessonId", ""))
            first = key not in self.first_lessons
            if first:
                self.first_lessons.add(key)
        elif "tournamentResult" in ev:
            body = ev["tournamentResult"]
            kind = "tournament_result"
            key = (uid, body.get("tournamentId", ""))
            first = key not in self.first_tournaments
            if not first:
                self._levels(lr)
                self._badges(lr)
                return
            self.first_tournaments.add(key)
        else:
            return
        rules = self.rules
        zi = zone(lr.tz) if lr.tz else rules.zone
        day = local_date(t, zi).toordinal()
        # 2. streak
        if kind in rules.qualifying:
            self._streak(lr, day, zi)
        if not first:
            lr.c["lesson_completions"] += 1
            self._levels(lr)
            self._badges(lr)
            return
        # 3. activity
        env = dict(lr.c)
        if kind == "lesson_completed":
            base_exp, base_coins = rules.lesson
            bonuses = rules.lesson_bonuses
            env["score"] = int(body.get("score") or 0)
            env["duration_s"] = int(body.get("durationS") or 0)
        else:
            outcome = body.get("outcome")
            if isinstance(outcome, int):
                outcome = {1: "WIN", 2: "DRAW", 3: "LOSS"}[outcome]
            base_exp, base_coins = rules.outcome[outcome]
            bonuses = rules.tournament_bonuses
            env["rank"] = int(body.get("rank") or 0)
        flat = pct = bcoins = 0
        for when, bexp, bpct, bc in bonuses:
            if when.holds(env):
                flat += bexp
                pct += bpct
                bcoins += bc
        exp = base_exp + flat + base_exp * pct // 100
        coins = base_coins + bcoins
        if kind == "lesson_completed":
            lr.c["lesson_completions"] += 1
            lr.c["lessons_completed"] += 1
        else:
            lr.c["tournaments_played"] += 1
            if outcome == "WIN":
                lr.c["tournament_wins"] += 1
            elif outcome == "LOSS":
                lr.c["tournament_losses"] += 1
        # 4. daily cap
        if lr.cap_day is None or day > lr.cap_day:
            lr.cap_day = day
            lr.cap_tally = 0
        if rules.cap > 0:
            exp = max(0, min(exp, rules.cap - lr.cap_tally))
        lr.cap_tally += exp
        lr.c["exp"] = sat(lr.c["exp"] + exp)
        lr.c["coins"] = sat(lr.c["coins"] + coins)
        lr.c["coins_earned"] = sat(lr.c["coins_earned"] + coins)
        # 5-7
        self._levels(lr)
        self._badges(lr)
        self._scores(lr, ev, t, exp)

    def _streak(self, lr, day, zi):
        c = lr.c
        before = c["current_streak"]
        used = 0
        if lr.last_day is None:
            c["current_streak"] = 1
        elif day <= lr.last_day:
            return
        elif day == lr.last_day + 1:
            c["current_streak"] += 1
        else:
            # "consecutive local days": a day the zone skipped is not missed
            missed = day - lr.last_day - 1 - days_skipped(lr.last_day, day, zi)
            if missed == 0:
                c["current_streak"] += 1
            elif lr.freezes >= missed:
                lr.freezes -= missed
                used = missed
                c["current_streak"] += 1
            else:
                c["current_streak"] = 1
        lr.last_day = day
        if c["current_streak"] > c["longest_streak"]:
            c["longest_streak"] = c["current_streak"]
        if c["current_streak"] != before:
            self.publish(lr, "streak", "streakUpdated",
                         {"currentStreak": c["current_streak"],
                          "longestStreak": c["longest_streak"], "freezesUsed": used})
        for days, coins in self.rules.milestones:
            if days == c["current_streak"]:
                c["coins"] = sat(c["coins"] + coins)
                c["coins_earned"] = sat(c["coins_earned"] + coins)

    def _levels(self, lr):
        th = self.rules.thresholds
        c = lr.c
        while c["level"] < len(th) and c["exp"] >= th[c["level"]]:
            c["level"] += 1
            c["coins"] = sat(c["coins"] + self.rules.level_up_coins)
            c["coins_earned"] = sat(c["coins_earned"] + self.rules.level_up_coins)
            self.publish(lr, "level:%d" % c["level"], "levelUp",
                         {"newLevel": c["level"], "reward": self.rules.level_up_coins,
                          "exp": c["exp"]})

    def _badges(self, lr):
        while True:
            awarded = False
            for bid, crit in self.rules.badges:
                if bid in lr.badges:
                    continue
                env = dict(lr.c)
                env["badges"] = len(lr.badges)
                if crit.holds(env):
                    self.publish(lr, "badge:" + bid, "badgeEarned",
                                 {"badgeId": bid, "name": self.rules.badge_names.get(bid, "")})
                    lr.badges.append(bid)
                    lr.c["badges"] = len(lr.badges)
                    awarded = True
            if not awarded:
                return

    def _scores(self, lr, ev, t, exp):
        if exp == 0:
            return
        rules = self.rules
        d = local_date(t, rules.zone)
        periods = []
        if "all_time" in rules.periods:
            periods.append("all")
        if "weekly" in rules.periods:
            periods.append(week_key(d))
        if "monthly" in rules.periods:
            periods.append("%04d-%02d" % (d.year, d.month))
        boards = ["global"]
        for g in ev.get("groupIds") or []:
            if g not in boards:
                boards.append(g)
        for b in boards:
            per = lr.scores.setdefault(b, {})
            for p in periods:
                cur = per.setdefault(p, [0, t])
                cur[0] = sat(cur[0] + exp)
                cur[1] = t

    def _prune(self):
        rules = self.rules
        if rules is None or self.newest is None:
            return
        d = local_date(self.newest, rules.zone)
        wmin = week_index(d) - rules.keep_weeks
        mmin = month_index(d) - rules.keep_months
        for lr in self.learners.values():
            for b in list(lr.scores):
                per = lr.scores[b]
                for p in list(per):
                    if p == "all":
                        continue
                    if "-W" in p:
                        y, w = int(p[:4]), int(p[6:])
                        idx = week_index(dt.date.fromisocalendar(y, w, 1))
                        if idx < wmin:
                            del per[p]
                    else:
                        if int(p[:4]) * 12 + int(p[5:7]) - 1 < mmin:
                            del per[p]
                if not per:
                    del lr.scores[b]

    def _redeem(self, lr, body):
        rid = body.get("redemptionId", "")
        wid = body.get("rewardId", "")
        if rid in lr.redemption_ids:
            return              # changes nothing, steps 5 and 6 included
        lr.redemption_ids.add(rid)
        rw = self.rules.rewards.get(wid)
        reason = None
        if rw is None or not rw["active"]:
            reason = "UNKNOWN_REWARD"
        elif rw["stock"] is not None and self.stock_used.get(wid, 0) >= rw["stock"]:
            reason = "OUT_OF_STOCK"
        elif rw["limit"] is not None and (
            lr.freezes if rw["type"] == "streak_freeze" else lr.completed.get(wid, 0)
        ) >= rw["limit"]:
            reason = "LIMIT_REACHED"
        elif lr.c["coins"] < rw["cost"]:
            reason = "INSUFFICIENT_COINS"
        if reason:
            lr.redemptions.append([rid, wid, "REJECTED", reason])
            self.publish(lr, "rejected", "redemptionRejected",
                         {"redemptionId": rid, "rewardId": wid, "reason": reason})
            self._levels(lr)
            self._badges(lr)
            return
        lr.c["coins"] -= rw["cost"]
        lr.c["coins_spent"] = sat(lr.c["coins_spent"] + rw["cost"])
        lr.c["redemptions"] += 1
        self.stock_used[wid] = self.stock_used.get(wid, 0) + 1
        # Freezes are one pool ("the freezes held now", whichever reward
        # brought them); other rewards are held one count per reward. A
        # reward whose type changes between rules versions keeps the two
        # apart: freezes bought under it are not holdings of it (the spec is
        # silent on type changes; this is what the product does).
        if rw["type"] == "streak_freeze":
            lr.freezes += 1
        else:
            lr.completed[wid] = lr.completed.get(wid, 0) + 1
        lr.redemptions.append([rid, wid, "COMPLETED", None])
        self.publish(lr, "redeemed", "rewardRedeemed",
                     {"redemptionId": rid, "rewardId": wid, "cost": rw["cost"],
                      "coinsAfter": lr.c["coins"]})
        self._levels(lr)
        self._badges(lr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rules")
    ap.add_argument("events")
    ap.add_argument("--window-days", type=int, default=30)
    ap.add_argument("--dlq", help="write the dead-letter reasons here")
    ap.add_argument("--rules-override", action="store_true",
                    help="a what-if replay: RULES from the first event; a RulesPublished is folded (id seen, clock moved, RULES_INVALID when it does not check) but never applied")
    args = ap.parse_args()
    with open(args.rules, encoding="utf-8") as f:
        rules = Rules(f.read())
    st = State(rules, args.window_days, what_if=args.rules_override)
    with open(args.events, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                st.apply_line(line)
    out = sys.stdout
    for uid in sorted(st.learners, key=lambda s: s.encode()):
        out.write(st.learners[uid].dump() + "\n")
    if args.dlq:
        with open(args.dlq, "w", encoding="utf-8") as f:
            for r in st.dlq:
                f.write(r + "\n")


if __name__ == "__main__":
    main()
