#!/usr/bin/env python3
"""The leaderboard score encoding, written from docs/operations.md ("Redis
leaderboards") apart from common/lbscore.c, so the tests check the documented
contract and not the C code against itself.

As a program: reads `gamify dump` lines on stdin and prints what Redis must
hold, "BOARD PERIOD USER ENCODED" per score, sorted.
"""
import datetime
import json
import re
import sys

TICK_BITS = 24
TICKS = 1 << TICK_BITS
SCORE_MAX = (1 << 29) - 1
ALL_EPOCH = 1577836800  # 2020-01-01T00:00:00Z
DAY = 86400


def _epoch_day(date):
    return (date - datetime.date(1970, 1, 1)).days


def origin(period):
    """(origin in Unix seconds, tick length in seconds) of a period key."""
    m = re.fullmatch(r"(\d{4})-W(\d{2})", period)
    if m and 1 <= int(m.group(2)) <= 53:
        monday = datetime.date.fromisocalendar(int(m.group(1)), 1, 1)
        return (_epoch_day(monday) + 7 * (int(m.group(2)) - 1) - 1) * DAY, 1
    m = re.fullmatch(r"(\d{4})-(\d{2})", period)
    if m and 1 <= int(m.group(2)) <= 12:
        first = datetime.date(int(m.group(1)), int(m.group(2)), 1)
        return (_epoch_day(first) - 1) * DAY, 1
    return ALL_EPOCH, 60


def seconds(reached):
    """A dump's reach time (RFC 3339 text, or a number) as Unix seconds."""
    if isinstance(reached, int):
        return reached
    t = datetime.datetime.fromisoformat(reached.replace("Z", "+00:00"))
    return int(t.timestamp())


def encode(score, reached, period):
    start, unit = origin(period)
    tick = min(max((seconds(reached) - start) // unit, 0), TICKS - 1)
    score = min(max(score, -SCORE_MAX), SCORE_MAX)
    return score * TICKS + (TICKS - 1 - tick)


def decode(text):
    """Redis's score text to the integer score: floor(value / 2^24)."""
    return int(float(text)) // TICKS


def dump_boards(lines):
    """{(board, period): {user: encoded}} of `gamify dump` lines."""
    out = {}
    for line in lines:
        d = json.loads(line)
        at = d.get("scoresReachedAt", {})
        for board, periods in d.get("scores", {}).items():
            for period, score in periods.items():
                out.setdefault((board, period), {})[d["userId"]] = encode(
                    int(score), at[board][period], period)
    return out


if __name__ == "__main__":
    rows = [f"{b} {p} {u} {v}" for (b, p), users in dump_boards(sys.stdin).items()
            for u, v in users.items()]
    for row in sorted(rows):
        print(row)
