#!/usr/bin/env bash
# Instructions per request for every case of benches/compare.rs, counted by valgrind
# (callgrind), a measure that other load on the machine does not disturb, unlike wall time.
#
#   bash scripts/bench_instructions.sh                 # every case, 2000 requests each
#   ITERS=5000 bash scripts/bench_instructions.sh ours/read_one_key tower_sessions/read_one_key
#
# Each case runs in the bench binary's counting mode (BENCH_COUNT=<case>=<n>: once, then n
# times, outside criterion) under callgrind, collecting only inside the timed loop
# (`--toggle-collect=*compare::timed*`), so the count covers building the request, the
# middleware, the handler and dropping the response, exactly what criterion times. The profile
# of every case stays in <target>/bench-instructions/<group>__<case>.callgrind for
# `callgrind_annotate --inclusive=yes`; <target> is the benches workspace's target directory
# (benches/target, or $CARGO_TARGET_DIR). Writes <target>/bench-instructions/instructions.json
# (merged with earlier runs'), which scripts/bench_report.py adds to its tables. Installs
# valgrind with apt-get if missing. Instruction counts are not time (a SHA-256 instruction does
# more than a load), but they do not move with the machine's other load.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench_binary.sh
. scripts/bench_binary.sh

ITERS="${ITERS:-2000}"
TARGET="${CARGO_TARGET_DIR:-benches/target}"
OUT="$TARGET/bench-instructions"

if ! command -v valgrind >/dev/null 2>&1; then
    echo "==> installing valgrind (apt-get)"
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq valgrind >/dev/null
fi

echo "==> building benches/compare.rs (release)"
BIN="$(bench_binary compare)"

if [ "$#" -gt 0 ]; then
    CASES=("$@")
else
    mapfile -t CASES < <("$BIN" --bench --list 2>/dev/null | sed -n 's/: benchmark$//p')
fi
mkdir -p "$OUT"

RESULTS="$OUT/results.tsv"
: >"$RESULTS"
for case in "${CASES[@]}"; do
    file="$OUT/${case//\//__}.callgrind"
    BENCH_COUNT="$case=$ITERS" valgrind --tool=callgrind --callgrind-out-file="$file" \
        --collect-atstart=no '--toggle-collect=*compare::timed*' "$BIN" \
        >/dev/null 2>"$OUT/valgrind.log" || { cat "$OUT/valgrind.log" >&2; exit 1; }
    total="$(sed -n 's/^summary: //p; s/^totals: //p' "$file" | head -1)"
    # The loop ran ITERS + 1 requests (one warm-up, then ITERS).
    per="$(python3 -c "print(round($total / ($ITERS + 1)))")"
    printf '%-40s %10s instructions/request\n' "$case" "$per"
    printf '%s\t%s\n' "$case" "$per" >>"$RESULTS"
done

python3 - "$RESULTS" "$OUT/instructions.json" "$ITERS" <<'EOF'
import json, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
try:  # cases counted by earlier runs stay, unless counted again now
    data = json.load(open(sys.argv[2]))
except (OSError, ValueError):
    data = {"instructions_per_request": {}, "iterations": {}}
for case, n in rows:
    data["instructions_per_request"][case] = int(n)
    data["iterations"][case] = int(sys.argv[3])
json.dump(data, open(sys.argv[2], "w"), indent=2, sort_keys=True)
print(f"wrote {sys.argv[2]}")
EOF
