#!/usr/bin/env bash
# Instructions per request for the cases of benches/stores.rs (the session registry and the
# server-side store beside tower-sessions' stores), counted by valgrind (callgrind): a measure
# that other load on the machine does not disturb, unlike wall time.
#
#   bash .ci/redis.sh bash scripts/bench_stores.sh                 # every case, Redis ones too
#   ITERS=5000 bash scripts/bench_stores.sh store/ours_memory_read_one_key
#
# Each case runs in the bench binary's counting mode (BENCH_COUNT=<case>=<n>: once, then n
# times, outside criterion) under callgrind, collecting only inside the timed loop
# (`--toggle-collect=*stores::timed*`): building the request, the middleware, the handler,
# dropping the response. For the Redis cases that is the client side only: the Redis server is
# another process, which callgrind does not see. Without TSA_REDIS_URL the Redis cases are not
# listed by the binary, so they are skipped. Profiles stay in
# <target>/bench-stores/<group>__<case>.callgrind; <target> is the benches workspace's target
# directory (benches/target, or $CARGO_TARGET_DIR). Prints one line per case and writes
# <target>/bench-stores/instructions.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench_binary.sh
. scripts/bench_binary.sh

ITERS="${ITERS:-2000}"
TARGET="${CARGO_TARGET_DIR:-benches/target}"
OUT="$TARGET/bench-stores"

command -v valgrind >/dev/null 2>&1 || {
    echo "valgrind is missing (Debian: apt-get install valgrind)" >&2
    exit 1
}

echo "==> building benches/stores.rs (release)"
BIN="$(bench_binary stores)"

if [ "$#" -gt 0 ]; then
    CASES=("$@")
else
    mapfile -t CASES < <("$BIN" --bench --list 2>/dev/null | sed -n 's/: benchmark$//p')
fi
mkdir -p "$OUT"

RESULTS="$OUT/instructions.tsv"
: >"$RESULTS"
for case in "${CASES[@]}"; do
    file="$OUT/${case//\//__}.callgrind"
    BENCH_COUNT="$case=$ITERS" valgrind --tool=callgrind --callgrind-out-file="$file" \
        --collect-atstart=no '--toggle-collect=*stores::timed*' "$BIN" \
        >/dev/null 2>"$OUT/valgrind.log" || { cat "$OUT/valgrind.log" >&2; exit 1; }
    total="$(sed -n 's/^summary: //p; s/^totals: //p' "$file" | head -1)"
    # The loop ran ITERS + 1 requests (one warm-up, then ITERS).
    per="$(python3 -c "print(round($total / ($ITERS + 1)))")"
    printf '%-45s %10s instructions/request\n' "$case" "$per"
    printf '%s\t%s\n' "$case" "$per" >>"$RESULTS"
done
echo "wrote $RESULTS"
