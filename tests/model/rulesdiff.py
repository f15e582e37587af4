#!/usr/bin/env python3
"""tests/model/rulesdiff.py: `gamify rules check` against the model's rules reader.

    rulesdiff.py GAMIFY [--seeds FROM:TO] [--keep DIR]

For every seed, a rules file of gen_edges.py (history, folds or edges
rules) with one or two lines changed at random: a value swapped for an
edge of its range or another spelling (0, -1, 10^9 and one more, 10^15,
`1.5`, `true`, `'3'`, `null`, `0x10`, `007`, `+5`, `1e3`, ...), a line
dropped, or a line written twice (a key twice in one mapping). `gamify
rules check` must accept it exactly when model.Rules does: a
rulesPublished whose rules one side takes and the other calls
RULES_INVALID would fold differently from there on. Prints each seed
where they disagree; exit 0 when none does.
"""

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_edges  # noqa: E402
import model  # noqa: E402

VALUES = ["0", "-1", "1", "1000000000", "1000000001", "1000000000000000", "1000000000000001",
          "10000", "10001", "100000", "100001", "1.5", "true", "'3'", "null", "~", "[]", "{}",
          "''", "x", "99", "100", "9223372036854775807", "-0", "0x10", "1e3", "+5", "007",
          "TRUE", "yes", "1_000"]


def mutate(rnd, text):
    lines = text.split("\n")
    for _ in range(rnd.randint(1, 2)):
        i = rnd.randrange(len(lines))
        line = lines[i]
        spots = list(re.finditer(r"(?<=: )[^,}\]\s][^,}\]]*|(?<=\[)\d+|(?<=, )\d+", line))
        r = rnd.random()
        if spots and r < 0.7:
            m = rnd.choice(spots)
            line = line[:m.start()] + rnd.choice(VALUES) + line[m.end():]
        elif r < 0.85:
            line = ""
        else:
            line = line + "\n" + line
        lines[i] = line
    return "\n".join(lines)


def rules_of(seed):
    rnd = random.Random(seed)
    make = rnd.choice([lambda: gen_edges.history_rules_yaml(rnd),
                       lambda: gen_edges.folds_rules_yaml(rnd, rnd.choice(gen_edges.ZONES)),
                       lambda: gen_edges.rules_yaml(rnd)])
    return mutate(rnd, make())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("gamify")
    ap.add_argument("--seeds", default="0:300", help="FROM:TO (TO excluded)")
    ap.add_argument("--keep", help="write the rules files that differ to DIR")
    args = ap.parse_args()
    lo, hi = (int(x) for x in args.seeds.split(":"))
    differ = 0
    with tempfile.TemporaryDirectory(prefix="gamify-rulesdiff.") as tmp:
        path = os.path.join(tmp, "rules.yaml")
        for seed in range(lo, hi):
            text = rules_of(seed)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            p = subprocess.run([args.gamify, "rules", "check", path], capture_output=True, text=True)
            try:
                model.Rules(text)
                ok, why = True, ""
            except Exception as e:       # noqa: BLE001 (any refusal of the model)
                ok, why = False, str(e)
            if (p.returncode == 0) != ok:
                differ += 1
                first = (p.stdout + p.stderr).strip().split("\n")[0]
                print("seed %d: gamify %s (%s), model %s %s" % (
                    seed, "accepts" if p.returncode == 0 else "refuses", first[:160],
                    "accepts" if ok else "refuses:", why[:120]))
                if args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    with open(os.path.join(args.keep, "seed-%d.yaml" % seed), "w") as f:
                        f.write(text)
    print("%d of %d rules files differ" % (differ, hi - lo) if differ else
          "all %d rules files agree" % (hi - lo))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
