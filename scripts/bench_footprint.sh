#!/usr/bin/env bash
# The code a request runs through, for cases of benches/compare.rs: how many distinct 64-byte
# lines of machine code the timed loop executes (its footprint, in KiB), and how many
# instruction-cache misses a request takes in callgrind's model of a 32 KiB, 8-way level-1
# instruction cache (the size of this suite's CPUs'). The benchmark loop runs the same request
# again and again, so a footprint that fits in the cache misses almost never, and one that does
# not misses on most of its lines every request: wall time then grows faster than instructions.
#
#   bash scripts/bench_footprint.sh baseline/no_middleware floor/gate_one_user ours/auth_loader
#
# Each case runs in the bench binary's counting mode (BENCH_COUNT=<case>=<n>) under callgrind,
# collecting only inside the timed loop, as scripts/bench_instructions.sh does. The footprint
# counts every line the loop ran, its first request included. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench_binary.sh
. scripts/bench_binary.sh

ITERS="${ITERS:-1000}"
TARGET="${CARGO_TARGET_DIR:-benches/target}"
OUT="$TARGET/bench-footprint"

if [ "$#" -eq 0 ]; then
    echo "usage: bash scripts/bench_footprint.sh CASE [CASE ...]" >&2
    exit 2
fi
if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind is missing: apt-get install valgrind" >&2
    exit 1
fi

echo "==> building benches/compare.rs (release)"
BIN="$(bench_binary compare)"
mkdir -p "$OUT"

printf '%-40s %12s %16s\n' case "footprint" "I1 misses/req"
for case in "$@"; do
    file="$OUT/${case//\//__}.callgrind"
    BENCH_COUNT="$case=$ITERS" valgrind --tool=callgrind --callgrind-out-file="$file" \
        --dump-instr=yes --compress-pos=no --compress-strings=no \
        --cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=1048576,16,64 \
        --collect-atstart=no '--toggle-collect=*compare::timed*' "$BIN" \
        >/dev/null 2>"$OUT/valgrind.log" || { cat "$OUT/valgrind.log" >&2; exit 1; }
    python3 - "$file" "$case" "$ITERS" <<'EOF'
import re
import sys

path, case, iters = sys.argv[1], sys.argv[2], int(sys.argv[3])
events, totals, lines, obj = None, None, set(), None
for line in open(path):
    if line.startswith("events:"):
        events = line.split()[1:]
    elif line.startswith(("summary:", "totals:")) and totals is None:
        totals = [int(x) for x in line.split()[1:]]
    elif line.startswith("ob="):
        obj = line.strip()[3:]
    else:
        m = re.match(r"^(0x[0-9a-f]+)", line)
        if m:
            lines.add((obj, int(m.group(1), 16) >> 6))
i1_misses = totals[events.index("I1mr")]
# The loop ran ITERS + 1 requests (one warm-up, then ITERS).
print(f"{case:<40} {len(lines) * 64 / 1024:9.1f} KiB {i1_misses / (iters + 1):16.0f}")
EOF
done
