#!/usr/bin/env bash
# A password-guessing flood against the login throttle, on loopback, bounded in time:
#
#   bash scripts/login_flood.sh                      # 10 s per phase, 32 flooding connections
#   SECONDS_PER_PHASE=20 CONNECTIONS=64 bash scripts/login_flood.sh
#
# Builds benches/login_flood.rs in release (the benches are their own workspace) and runs it:
# a baseline, a flood against the default budgets, and the same flood against budgets too large
# to matter (only the bound on concurrent hashes left). It prints the median latency of a cheap
# page fetched by another client, and the hashes computed beside what the budgets allow, and
# exits non-zero when the throttled flood more than doubles that median or computes more hashes
# than the budgets allow. The server and the clients share this machine's cores. Not part of
# `cargo test`: timings are not assertions there.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_PHASE="${SECONDS_PER_PHASE:-10}"
CONNECTIONS="${CONNECTIONS:-32}"

echo "==> building benches/login_flood.rs (release)"
BIN="$(cargo bench --manifest-path benches/Cargo.toml --bench login_flood --no-run \
    --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "login_flood" and m.get("executable"):
        print(m["executable"])
')"
# Every phase, plus a margin for start-up and the last hashes, at most.
timeout $((3 * SECONDS_PER_PHASE + 60)) "$BIN" --run --seconds "$SECONDS_PER_PHASE" --connections "$CONNECTIONS"
