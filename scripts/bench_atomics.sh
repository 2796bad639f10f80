#!/usr/bin/env bash
# Atomic read-modify-write operations per request for cases of benches/compare.rs: the `lock`
# instructions (and `xchg` with memory) the request executes in the bench binary's own code
# (the crate, its dependencies and the peers; not libc), which instruction counts show as one
# each although an uncontended one costs about 20 cycles.
#
#   bash scripts/bench_atomics.sh ours/auth_loader axum_login/authenticated
#
# Each case runs in the bench binary's counting mode (BENCH_COUNT=<case>=<n>) under callgrind with
# --dump-instr=yes, collecting only inside the timed loop, as scripts/bench_instructions.sh does;
# scripts/bench_atomics.py matches the executed addresses against the binary's disassembly
# (objdump) and prints the atomic operations per request by function. Needs valgrind and objdump
# (binutils).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench_binary.sh
. scripts/bench_binary.sh

ITERS="${ITERS:-2000}"
TARGET="${CARGO_TARGET_DIR:-benches/target}"
OUT="$TARGET/bench-atomics"

if [ "$#" -eq 0 ]; then
    echo "usage: bash scripts/bench_atomics.sh CASE [CASE ...]" >&2
    exit 2
fi
for tool in valgrind objdump; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$tool is missing: apt-get install valgrind binutils" >&2
        exit 1
    fi
done

mkdir -p "$OUT"
BIN="$(bench_binary compare)"

for case in "$@"; do
    file="$OUT/${case//\//__}.callgrind"
    if ! BENCH_COUNT="$case=$ITERS" valgrind --tool=callgrind --dump-instr=yes \
        --callgrind-out-file="$file" --collect-atstart=no '--toggle-collect=*compare::timed*' \
        "$BIN" --bench >"$file.log" 2>&1; then
        echo "$case failed: see $file.log" >&2
        exit 1
    fi
    if ! grep -q "iterations in" "$file.log"; then
        echo "$case: no such case, or it did not run (see $file.log)" >&2
        exit 1
    fi
    echo "== $case"
    # `timed` runs once with one request, then with ITERS, both inside the collection window.
    python3 scripts/bench_atomics.py "$file" "$BIN" "$((ITERS + 1))"
done
