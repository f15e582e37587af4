#!/usr/bin/env python3
"""Reads `redis-cli monitor` output on stdin and writes the ZADD commands it
saw (only those) to stdout in Redis's protocol, for `redis-cli --pipe`:
the score writes a projection needed, replayed without the projector. Used
by `tests/bench/run sustainfloor`. Prints the commands and members counted
to stderr."""
import re
import sys

ARG = re.compile(rb'"((?:[^"\\]|\\.)*)"')
ESC = re.compile(rb'\\(x[0-9a-fA-F]{2}|.)')


def unquote(s):
    def one(m):
        e = m.group(1)
        if e[:1] == b'x':
            return bytes([int(e[1:], 16)])
        return {b'n': b'\n', b'r': b'\r', b't': b'\t', b'a': b'\a', b'b': b'\b'}.get(e, e)
    return ESC.sub(one, s)


def main():
    out = sys.stdout.buffer
    calls = members = 0
    for line in sys.stdin.buffer:
        i = line.find(b'] "')
        if i < 0 or not line.startswith(b'"ZADD"', i + 2) and not line.startswith(b'"zadd"', i + 2):
            continue
        args = [unquote(a) for a in ARG.findall(line[i + 2:])]
        parts = [b'*%d\r\n' % len(args)]
        for a in args:
            parts.append(b'$%d\r\n%s\r\n' % (len(a), a))
        out.write(b''.join(parts))
        calls += 1
        members += (len(args) - 2) // 2
    print('zadd_calls=%d zadd_members=%d' % (calls, members), file=sys.stderr)


if __name__ == '__main__':
    main()
