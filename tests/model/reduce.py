#!/usr/bin/env python3
"""tests/model/reduce.py: shrink a log on which gamify and the model differ.

    reduce.py GAMIFY RULES.yaml EVENTS.jsonl OUT.jsonl

Removes chunks of lines, then single lines (from the end backwards, until
nothing more can go) while `gamify replay` + `gamify dump` still differs from model.py,
and writes the smallest log found to OUT.jsonl: the seed of a scenario.
"""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import difftest  # noqa: E402


def main():
    gamify, rp, ep, out = sys.argv[1:5]
    with open(ep, encoding="utf-8") as f:
        lines = f.readlines()
    tmp = tempfile.mkdtemp(prefix="gamify-reduce.")
    try:
        def differs(ls):
            return difftest.compare_prefix(gamify, rp, ls, len(ls), tmp) is not None
        assert differs(lines), "the log does not differ"
        chunk = max(1, len(lines) // 4)
        while True:
            changed = False
            i = len(lines) - chunk
            while i >= -chunk + 1:
                lo = max(0, i)
                cand = lines[:lo] + lines[i + chunk:]
                if cand and differs(cand):
                    lines = cand
                    changed = True
                i -= chunk
            if chunk == 1 and not changed:
                break
            if not changed:
                chunk = max(1, chunk // 2)
        with open(out, "w", encoding="utf-8") as f:
            f.writelines(lines)
        print(difftest.compare_prefix(gamify, rp, lines, len(lines), tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
