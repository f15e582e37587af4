#!/usr/bin/env python3
"""tests/model/difftest.py: differential test of the fold against the model.

    difftest.py GAMIFY [--seeds 1,2,3] [--events N] [--keep DIR]

For every seed: gen.py writes a rules file and a log, `gamify rules check`
must accept the rules, `gamify replay --log jsonl:...` folds the log into a
fresh state, and `gamify dump` (and the reasons of `gamify dlq list`) must
equal what model.py prints for the same files, line by line. The first
difference of each seed is printed (the learner, the keys that differ and
the generated files, kept under --keep). Exit 0 when every seed agrees, 1
otherwise.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402
import gen_edges  # noqa: E402
import model  # noqa: E402

DEFAULT_SEEDS = "1,2,3,4,5,6,7,8,9,10,11,12"


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p.stdout


OUT_KINDS = ("levelUp", "badgeEarned", "streakUpdated", "rewardRedeemed", "redemptionRejected")


def outbound_of(lines):
    """gamify's outbound jsonl -> [eventId, userId, occurredAt ns, cause, kind, body]
    with integers as numbers and defaults dropped, as model.State.out."""
    out = []
    for line in lines:
        o = json.loads(line)
        kind = [k for k in OUT_KINDS if k in o]
        body = {}
        for k, v in (o[kind[0]] if kind else {}).items():
            if isinstance(v, str) and re.fullmatch(r"-?\d+", v) and k not in ("redemptionId", "rewardId", "badgeId", "name"):
                v = int(v)
            if v not in (0, "", None):
                body[k] = v
        out.append([o.get("eventId"), o.get("userId"), model.parse_time(o["occurredAt"]),
                    o.get("causeEventId"), kind[0] if kind else None, body])
    return out


def first_out_difference(want, got):
    for i in range(max(len(want), len(got))):
        a = want[i] if i < len(want) else None
        b = got[i] if i < len(got) else None
        if a != b:
            return "outbound event %d: model %s, gamify %s" % (i + 1, json.dumps(a), json.dumps(b))
    return None


WINDOW_DAYS = 30


def model_output(rules_path, events_path, append=None, out=None, what_if=False, seeded=True):
    with open(rules_path, encoding="utf-8") as f:
        rules = model.Rules(f.read()) if seeded else None
        st = model.State(rules, WINDOW_DAYS, append=append, what_if=what_if)
    with open(events_path, encoding="utf-8") as f:
        for line in f:
            st.apply_line(line)
    lines = [st.learners[u].dump() for u in sorted(st.learners, key=lambda s: s.encode())]
    if st.ambiguous:
        return None, None
    if out is not None:
        out.extend(st.out)
    return lines, st.dlq


def first_difference(want, got):
    """Describes the first line where the two dumps differ, or None."""
    for i in range(max(len(want), len(got))):
        a = want[i] if i < len(want) else None
        b = got[i] if i < len(got) else None
        if a == b:
            continue
        if a is None or b is None:
            return "line %d: model %s, gamify %s" % (i + 1, a, b)
        ja, jb = json.loads(a), json.loads(b)
        if ja.get("userId") != jb.get("userId"):
            return "line %d: model learner %s, gamify learner %s" % (i + 1, ja.get("userId"), jb.get("userId"))
        keys = [k for k in list(ja) + [k for k in jb if k not in ja] if ja.get(k) != jb.get(k)]
        if not keys and list(ja) != list(jb):
            return "line %d (%s): key order differs: model %s, gamify %s" % (i + 1, ja["userId"], list(ja), list(jb))
        parts = ["%s: model %s, gamify %s" % (k, json.dumps(ja.get(k)), json.dumps(jb.get(k))) for k in keys]
        return "line %d (%s):\n  %s" % (i + 1, ja["userId"], "\n  ".join(parts))
    return None


def compare_prefix(gamify, rp, lines, k, tmp):
    """Replays the first K lines with both; returns the first difference or None."""
    ep = os.path.join(tmp, "prefix.jsonl")
    sp = os.path.join(tmp, "prefix-state")
    with open(ep, "w", encoding="utf-8") as f:
        f.writelines(lines[:k])
    shutil.rmtree(sp, ignore_errors=True)
    run([gamify, "replay", "--log", "jsonl:" + ep, "--state", sp, "--rules", rp, "--no-sync", "--quiet",
         "--window-days", str(WINDOW_DAYS)])
    got = run([gamify, "dump", "--state", sp]).split("\n")[:-1]
    want, _ = model_output(rp, ep)
    return first_difference(want, got)


def bisect(gamify, rp, ep, tmp):
    """The shortest prefix of the log whose dumps differ: its last line is the culprit."""
    with open(ep, encoding="utf-8") as f:
        lines = f.readlines()
    lo, hi = 0, len(lines)  # prefix lo agrees, prefix hi differs
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if compare_prefix(gamify, rp, lines, mid, tmp):
            hi = mid
        else:
            lo = mid
    return hi, lines[hi - 1].rstrip("\n"), compare_prefix(gamify, rp, lines, hi, tmp)


def ledger_difference(gamify, sp, dump_lines):
    """`gamify ledger --user` of every learner: balanced, its deltas summing to
    the dump's exp and coins, and each line's expAfter/coinsAfter the running sum."""
    for line in dump_lines:
        d = json.loads(line)
        p = subprocess.run([gamify, "ledger", "--state", sp, "--user", d["userId"]],
                           capture_output=True, text=True)
        rows = [json.loads(x) for x in p.stdout.split("\n")[:-1] if x.strip()]
        if not rows or "summary" not in rows[-1]:
            return "ledger of %s: no summary (exit %d) %s" % (d["userId"], p.returncode, p.stderr)
        s = rows[-1]["summary"]
        exp = coins = 0
        for r in rows[:-1]:
            exp += int(r.get("expDelta", 0))
            coins += int(r.get("coinsDelta", 0))
            if int(r.get("expAfter", 0)) != exp or int(r.get("coinsAfter", 0)) != coins:
                return "ledger of %s: running sums %d/%d, line says %s" % (d["userId"], exp, coins, json.dumps(r))
        want = (int(d["exp"]), int(d["coins"]))
        if p.returncode != 0 or not s.get("balanced") or (exp, coins) != want or \
                (int(s["exp"]), int(s["coins"])) != want:
            return "ledger of %s: sums %d/%d, summary %s, dump %s (exit %d)" % (
                d["userId"], exp, coins, json.dumps(s), want, p.returncode)
    return None


def what_if_difference(gamify, rp, ep, d):
    """gamify replay --rules-override RULES vs the model in what-if mode (its
    rules throughout; every rulesPublished folded as usual but ignored)."""
    sp = os.path.join(d, "whatif-state")
    shutil.rmtree(sp, ignore_errors=True)
    run([gamify, "replay", "--log", "jsonl:" + ep, "--state", sp, "--rules-override", rp,
         "--no-sync", "--quiet", "--window-days", str(WINDOW_DAYS)])
    got = run([gamify, "dump", "--state", sp]).split("\n")[:-1]
    dlq = run([gamify, "dlq", "list", "--state", sp]).split("\n")[:-1]
    got_dlq = [m.group(1) for m in (re.search(r'"reason":"([^"]*)"', x) for x in dlq) if m]
    want, want_dlq = model_output(rp, ep, what_if=True)
    if want is None:
        return None
    diff = first_difference(want, got)
    if diff is None and want_dlq != got_dlq:
        diff = "dead letters: model %s, gamify %s" % (want_dlq, got_dlq)
    return "what-if: " + diff if diff else None


def digest(gamify, sp):
    return run([gamify, "digest", "--state", sp]).strip()


def batches_difference(gamify, ep, seeding, want_digest, want_out, seed, d):
    """The same log replayed with --batch 1 and a medium batch, and replayed
    in pieces into one state (the log growing between the replays, each
    piece with its own batch size): every digest must equal WANT_DIGEST,
    that of one replay with the default batch, and the pieces' outbound
    events (--out, appended replay after replay) those of WANT_OUT."""
    import random
    rnd = random.Random(seed * 7919)
    with open(ep, encoding="utf-8") as f:
        lines = f.readlines()
    for batch in ("1", str(rnd.randint(2, 40))):
        sp = os.path.join(d, "state-batch-" + batch)
        shutil.rmtree(sp, ignore_errors=True)
        run([gamify, "replay", "--log", "jsonl:" + ep, "--state", sp, "--no-sync", "--quiet",
             "--batch", batch] + seeding)
        got = digest(gamify, sp)
        if got != want_digest:
            return "--batch %s: digest %s, the default batch's %s" % (batch, got, want_digest)
    cuts = sorted(rnd.sample(range(1, len(lines)), min(3, len(lines) - 1)))
    gp = os.path.join(d, "growing.jsonl")
    sp = os.path.join(d, "state-resumed")
    op = os.path.join(d, "out-resumed.jsonl")
    shutil.rmtree(sp, ignore_errors=True)
    if os.path.exists(op):
        os.unlink(op)
    with open(gp, "w", encoding="utf-8"):
        pass
    done = 0
    torn = ""
    for cut in cuts + [len(lines)]:
        with open(gp, "a", encoding="utf-8") as f:
            f.write(torn)
            f.writelines(lines[done:cut])
            # sometimes a line being written: part of the next one, or all
            # of it but its newline (a replay must leave the first unread)
            torn = ""
            if cut < len(lines) and rnd.random() < 0.6:
                nxt = lines[cut]
                k = rnd.choice([1, len(nxt) // 2, len(nxt) - 1])
                f.write(nxt[:k])
                torn = nxt[k:]
                lines[cut] = ""            # written with this piece and the next
                done = cut + 1
            else:
                done = cut
        try:
            run([gamify, "replay", "--log", "jsonl:" + gp, "--state", sp, "--no-sync", "--quiet",
                 "--out", "jsonl:" + op, "--batch", str(rnd.choice([1, 3, 16, 1000]))] + seeding)
        except RuntimeError as e:
            return "replayed in pieces (cut after lines %s): %s" % (cuts, e)
    got = digest(gamify, sp)
    if got != want_digest:
        return "replayed in pieces (cut after lines %s): digest %s, one replay's %s" % (
            cuts, got, want_digest)
    with open(op, encoding="utf-8") as f, open(want_out, encoding="utf-8") as g:
        if f.read() != g.read():
            return "replayed in pieces (cut after lines %s): the outbound events differ from " \
                   "one replay's" % cuts
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("gamify")
    ap.add_argument("--seeds", default=DEFAULT_SEEDS)
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--keep", help="keep each seed's files in DIR/seed-N")
    ap.add_argument("--file-log", action="store_true",
                    help="write the log with gamify produce to a file log (append times: the "
                         "wall clock; the logs start 100 days ago) and replay that")
    ap.add_argument("--batch", type=int,
                    help="gamify replay --batch N (1: a commit, and the dedupe window's pruning, "
                         "after every event)")
    ap.add_argument("--edges", action="store_true",
                    help="logs from gen_edges.py (episodes on exact edges) instead of gen.py")
    ap.add_argument("--folds", action="store_true",
                    help="logs of gen_edges.generate_folds: bonuses, caps, levels, badges, boards "
                         "and rules published mid-day")
    ap.add_argument("--history", action="store_true",
                    help="logs of gen_edges.generate_history: rules republished (levels, badges, "
                         "rewards, stock, streaks, zone, cap, periods), ids reused past the window, "
                         "gaps of years, dead letters of every kind, zones flipped mid-streak")
    ap.add_argument("--unseeded", action="store_true",
                    help="replay without --rules (the model starts with no rules): events before "
                         "the log's first rulesPublished are NO_RULES dead letters")
    ap.add_argument("--batches", action="store_true",
                    help="also replay with --batch 1, a medium batch, and in pieces into one state "
                         "as the log grows: every digest must equal the one replay's")
    ap.add_argument("--window-days", type=int, default=30,
                    help="gamify replay --window-days N, and the model's window")
    ap.add_argument("--ledger", action="store_true",
                    help="also check that every learner's `gamify ledger` is balanced and sums "
                         "to the dump's exp and coins")
    ap.add_argument("--what-if", action="store_true",
                    help="also replay with --rules-override (the seed's rules) and compare with "
                         "the model in what-if mode")
    ap.add_argument("--bisect", action="store_true",
                    help="for a seed that differs, find the first line of the log that makes it differ")
    args = ap.parse_args()
    global WINDOW_DAYS
    WINDOW_DAYS = args.window_days
    tmp = tempfile.mkdtemp(prefix="gamify-model.")
    failed = 0
    try:
        for seed in [int(s) for s in args.seeds.split(",") if s]:
            d = os.path.join(args.keep, "seed-%d" % seed) if args.keep else os.path.join(tmp, "seed-%d" % seed)
            start = int(time.time()) - 100 * 86400 if args.file_log else None
            make = gen_edges.generate_folds if args.folds else gen_edges.generate_history \
                if args.history else gen_edges.generate if args.edges else gen.generate
            rules, events = make(seed, args.events, start)
            os.makedirs(d, exist_ok=True)
            rp, ep, sp = os.path.join(d, "rules.yaml"), os.path.join(d, "events.jsonl"), os.path.join(d, "state")
            with open(rp, "w", encoding="utf-8") as f:
                f.write(rules)
            with open(ep, "w", encoding="utf-8") as f:
                for ev in events:      # a str is a raw line (gen_edges.ep_raw)
                    f.write((ev if isinstance(ev, str) else json.dumps(ev, separators=(",", ":"))) + "\n")
            shutil.rmtree(sp, ignore_errors=True)
            run([args.gamify, "rules", "check", rp])
            append = None
            log = "jsonl:" + ep
            if args.file_log:
                log = "file:" + os.path.join(d, "log")
                shutil.rmtree(log[5:], ignore_errors=True)
                t0 = time.time()
                subprocess.run([args.gamify, "produce", "--log", log, ep], capture_output=True)
                append = (t0 - 1, time.time() + 1)
            batch = ["--batch", str(args.batch)] if args.batch else []
            op = os.path.join(d, "out.jsonl")
            if os.path.exists(op):
                os.unlink(op)
            seeding = [] if args.unseeded else ["--rules", rp]
            if args.window_days != 30:
                seeding += ["--window-days", str(args.window_days)]
            run([args.gamify, "replay", "--log", log, "--state", sp,
                 "--no-sync", "--quiet", "--out", "jsonl:" + op] + batch + seeding)
            got = run([args.gamify, "dump", "--state", sp]).split("\n")[:-1]
            dlq = run([args.gamify, "dlq", "list", "--state", sp]).split("\n")[:-1]
            got_dlq = [m.group(1) for m in (re.search(r'"reason":"([^"]*)"', x) for x in dlq) if m]
            want_out = []
            want, want_dlq = model_output(rp, ep, append, want_out, seeded=not args.unseeded)
            if want is None:
                print("seed %d: skipped (an event within a second of the skew's edge)" % seed)
                continue
            diff = first_difference(want, got)
            if diff is None and want_dlq != got_dlq:
                diff = "dead letters: model %s, gamify %s" % (want_dlq, got_dlq)
            if diff is None:
                with open(op, encoding="utf-8") as f:
                    diff = first_out_difference(want_out, outbound_of(f.read().split("\n")[:-1]))
            if diff is None and args.ledger:
                diff = ledger_difference(args.gamify, sp, got)
            if diff is None and args.batches:
                diff = batches_difference(args.gamify, ep, seeding, digest(args.gamify, sp), op, seed, d)
            if diff is None and args.what_if:
                diff = what_if_difference(args.gamify, rp, ep, d)
            if diff:
                failed += 1
                print("seed %d: DIFFERS (%s, %s)\n%s" % (seed, rp, ep, diff))
                if args.bisect:
                    k, line, d2 = bisect(args.gamify, rp, ep, tmp)
                    print("  first differing prefix: %d lines; its last event:\n  %s\n  %s" % (k, line, d2))
            else:
                print("seed %d: ok (%d learners, %d dead letters)" % (seed, len(got), len(got_dlq)))
            sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d seeds differ" % failed if failed else "all seeds agree")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
