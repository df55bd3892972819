#!/usr/bin/env python3
"""Hot code footprint from a callgrind profile: how much machine code a workload
executes at least N times, in distinct instructions and 64-byte cache lines, and which
functions those lines belong to.

This is how BENCHMARKS.md measures "the code one churned connection touches" against
the 32 KiB L1 instruction cache. Record the profile with per-instruction positions:

    cargo build --release -p synack-bench --example profile
    valgrind --tool=callgrind --dump-instr=yes --compress-pos=no \
        --compress-strings=no --callgrind-out-file=churn.cg \
        target/release/examples/profile churn synack 0 20000
    python3 scripts/hot-code.py churn.cg 20000

With N = 20,000 connections, "executed at least N times" is "at least once per
connection on average". Pass --top K to list K functions (default 25).
"""

import argparse
import collections
import sys


def read_costs(path):
    """Self cost (Ir) per instruction address, and the function owning each address."""
    cost = collections.Counter()
    owner = {}
    fn = None
    after_calls = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("fn="):
                fn = line[3:].strip()
            elif line.startswith("calls="):
                # The next cost line is the inclusive cost of a call: not self cost.
                after_calls = True
            elif line.startswith("0x"):
                if after_calls:
                    after_calls = False
                    continue
                parts = line.split()
                if len(parts) < 3:
                    sys.exit(
                        "hot-code.py: expected 'address line cost' positions; record "
                        "with --dump-instr=yes --compress-pos=no --compress-strings=no"
                    )
                addr = int(parts[0], 16)
                cost[addr] += int(parts[2])
                owner[addr] = fn
    return cost, owner


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile", help="callgrind output file")
    ap.add_argument("n", type=int, help="count an instruction executed at least N times")
    ap.add_argument("--top", type=int, default=25, help="functions to list")
    args = ap.parse_args()
    if args.n < 1:
        sys.exit("hot-code.py: N must be at least 1")
    try:
        cost, owner = read_costs(args.profile)
    except OSError as e:
        sys.exit(f"hot-code.py: {e}")
    hot = [a for a, c in cost.items() if c >= args.n]
    if not hot:
        sys.exit(f"hot-code.py: no instruction ran {args.n} times; is N right?")
    lines = {a // 64 for a in hot}
    per_fn = collections.defaultdict(set)
    instrs = collections.Counter()
    for a in hot:
        per_fn[owner[a]].add(a // 64)
        instrs[owner[a]] += 1
    print(
        f"executed at least {args.n} times: {len(hot)} instructions on {len(lines)} "
        f"64-byte lines = {len(lines) * 64 / 1024:.1f} KiB"
    )
    rows = sorted(per_fn.items(), key=lambda kv: -len(kv[1]))
    for name, ls in rows[: args.top]:
        print(f"{len(ls):5} lines {instrs[name]:6} instructions  {name[:100]}")


if __name__ == "__main__":
    main()
