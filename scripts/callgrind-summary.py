#!/usr/bin/env python3
"""Summarises callgrind dumps per chunk (used by scripts/callgrind).

    callgrind-summary.py CHUNKS FILE...

Each FILE is one process's dump (audio-*.out.N or gateway-*.out.N). Prints instructions per
chunk, calls per chunk to the allocator and to memcpy/memmove, and the functions that ran the
most instructions themselves.
"""
import os
import re
import sys
from collections import defaultdict

ALLOC = {"malloc", "calloc", "realloc", "__libc_malloc", "__libc_calloc", "__libc_realloc"}
FREE = {"free", "__libc_free", "cfree"}
COPY = re.compile(r"^(__)?(memcpy|memmove)")


def parse(path):
    """Self instructions per function, calls per callee, and the total."""
    names = {}
    own = defaultdict(int)
    calls = defaultdict(int)
    total = None
    fn = callee = None
    skip_next_cost = False
    with open(path, errors="replace") as lines:
        for line in lines:
            if line[0].isdigit() or line[0] in "+-*":
                if skip_next_cost:
                    # The inclusive cost of the call just named: not the caller's own.
                    skip_next_cost = False
                    continue
                fields = line.split()
                if len(fields) > 1 and fn is not None:
                    own[fn] += int(fields[1])
                continue
            key, _, value = line.rstrip("\n").partition("=")
            if key in ("fn", "cfn"):
                match = re.match(r"\((\d+)\)(?: (.*))?", value)
                if match:
                    ident, name = match.groups()
                    if name is not None:
                        names[ident] = name
                    name = names.get(ident, ident)
                else:
                    name = value
                if key == "fn":
                    fn = name
                else:
                    callee = name
            elif key == "calls":
                calls[callee] += int(value.split()[0])
                skip_next_cost = True
            elif line.startswith(("totals:", "summary:")):
                total = int(line.split()[1])
    if total is None:
        total = sum(own.values())
    return own, calls, total


def main():
    chunks = int(sys.argv[1])
    if chunks <= 0:
        sys.exit("no chunk was stored in the window: nothing to divide by")
    for path in sys.argv[2:]:
        own, calls, total = parse(path)
        process = os.path.basename(path).split("-")[0]
        allocs = sum(n for name, n in calls.items() if name in ALLOC)
        frees = sum(n for name, n in calls.items() if name in FREE)
        copies = sum(n for name, n in calls.items() if COPY.match(name))
        print(
            f"   {process}: {total / chunks:,.0f} instructions a chunk; "
            f"{allocs / chunks:.1f} allocations, {frees / chunks:.1f} frees, "
            f"{copies / chunks:.1f} memcpy/memmove calls a chunk"
        )
        for name, cost in sorted(own.items(), key=lambda item: -item[1])[:12]:
            short = name if len(name) <= 100 else name[:97] + "..."
            print(f"      {cost / total:6.1%} {cost / chunks:9,.0f}  {short}")


if __name__ == "__main__":
    main()
