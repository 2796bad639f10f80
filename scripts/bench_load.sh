#!/usr/bin/env bash
# Load test: wrk against benches/load_server.rs on loopback, with and without the layers.
#
#   bash scripts/bench_load.sh            # 10 s per stack, 2 wrk threads, 32 connections
#   DURATION=30 CONNECTIONS=64 bash scripts/bench_load.sh
#   SESSIONS=0 bash scripts/bench_load.sh  # only the stacks with one session
#
# Besides one session sent again and again, the `_many` stacks hold SESSIONS (default 10,000)
# distinct sessions (and, for the logged-in stacks, as many users), and wrk sends them in turn
# (a Lua script, each thread starting at a random one), as a site with many active users sees.
# The whole run is bounded: the server exits by itself after the runs plus a margin.
#
# Installs wrk with apt-get if it is missing, builds the server in release (`cargo bench
# --manifest-path benches/Cargo.toml --bench load_server --no-run`: the benches are their own
# workspace), starts it on 127.0.0.1 (free ports, loopback only; it exits by itself after the
# runs plus a margin), runs wrk once per stack with that stack's own session cookie, and prints
# requests per second side by side. wrk and the server share this machine's cores, so the
# numbers are for comparing the stacks with each other, not absolute capacity.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench_binary.sh
. scripts/bench_binary.sh

DURATION="${DURATION:-10}"
SESSIONS="${SESSIONS:-10000}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"

if ! command -v wrk >/dev/null 2>&1; then
    echo "==> installing wrk (apt-get)"
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi

echo "==> building benches/load_server.rs (release)"
BIN="$(bench_binary load_server)"

WORK="$(mktemp -d)"
STACKS=11
LIFETIME=$(((DURATION + 5) * STACKS + 120)) # the server exits by itself after this
"$BIN" --serve --seconds "$LIFETIME" --sessions "$SESSIONS" --cookie-dir "$WORK" \
    >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER=$!
cleanup() {
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# Sends the cookies of a file in turn; each wrk thread starts at a random line.
cat >"$WORK/rotate.lua" <<'LUA'
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local cookies = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do
    cookies[#cookies + 1] = line
  end
  math.randomseed(os.time() * 100 + id)
  i = math.random(#cookies)
end
function request()
  i = i % #cookies + 1
  return wrk.format("GET", "/", { ["Cookie"] = cookies[i] })
end
LUA

# Making 4 × SESSIONS sessions takes a while on a loaded machine.
for _ in $(seq 1 1200); do
    grep -q '^READY$' "$WORK/server.out" && break
    if ! kill -0 "$SERVER" 2>/dev/null; then
        cat "$WORK/server.err" >&2
        exit 1
    fi
    sleep 0.1
done
grep -q '^READY$' "$WORK/server.out" || { echo "server did not start" >&2; exit 1; }

declare -a NAMES RPS LATENCY NOTES
while read -r tag name port cookie; do
    [ "$tag" = "STACK" ] || continue
    echo "==> $name: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s http://127.0.0.1:$port/"
    args=(-t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency)
    case "$cookie" in
    -) ;;
    @*) args+=(-s "$WORK/rotate.lua") ;;
    *) args+=(-H "Cookie: $cookie") ;;
    esac
    if [ "${cookie#@}" != "$cookie" ]; then
        wrk "${args[@]}" "http://127.0.0.1:$port/" -- "${cookie#@}" >"$WORK/$name.txt"
    else
        wrk "${args[@]}" "http://127.0.0.1:$port/" >"$WORK/$name.txt"
    fi
    NAMES+=("$name")
    RPS+=("$(awk '/^Requests\/sec:/ {print $2}' "$WORK/$name.txt")")
    LATENCY+=("$(awk '$1 == "50%" {print $2}' "$WORK/$name.txt")")
    NOTES+=("$(grep -E 'Non-2xx|Socket errors' "$WORK/$name.txt" | tr -s ' ' | paste -sd ';' - || true)")
done <"$WORK/server.out"

echo
echo "wrk: $THREADS threads, $CONNECTIONS connections, ${DURATION}s per stack, 127.0.0.1, $(nproc) cores shared by wrk and the server; _many stacks: $SESSIONS distinct sessions in turn"
echo
printf '| %-20s | %12s | %8s | %-11s | %s |\n' "stack" "requests/s" "vs none" "p50 latency" "notes"
printf '|%s|%s|%s|%s|%s|\n' "----------------------" "-------------:" "---------:" "-------------" "---"
# The `_many` stacks are compared with `none_many` (the same rotation of cookies, no middleware).
base="${RPS[0]}"
base_many="$base"
for i in "${!NAMES[@]}"; do
    [ "${NAMES[$i]}" = "none_many" ] && base_many="${RPS[$i]}"
done
for i in "${!NAMES[@]}"; do
    case "${NAMES[$i]}" in
    *_many) b="$base_many" ;;
    *) b="$base" ;;
    esac
    rel="$(python3 -c "print(f'{${RPS[$i]} / $b:.2f}')")"
    printf '| %-20s | %12s | %8s | %-11s | %s |\n' "${NAMES[$i]}" "${RPS[$i]}" "$rel" "${LATENCY[$i]}" "${NOTES[$i]}"
done
