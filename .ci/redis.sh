#!/usr/bin/env bash
# Real Redis for the tests: a standalone server and a three-node Redis Cluster on 127.0.0.1, on
# free ports, in a temporary directory, without persistence. Two ways to use it:
#
#   bash .ci/redis.sh cargo test --all-features   # runs the command with Redis up, then stops it
#   source .ci/redis.sh                            # starts Redis for the rest of this shell
#
# Installs Debian's `redis-server` with apt-get (as root, non-interactive) when it is missing.
# Stops every server it started by PID when the script (or the sourcing shell) exits: it sets an
# EXIT trap, replacing one the sourcing shell had. Exports:
#
#   TSA_REDIS_URL           redis://127.0.0.1:PORT, the standalone server
#   TSA_REDIS_CLUSTER_URLS  the three cluster nodes' URLs, comma-separated
#   TSA_REDIS_PORT          the standalone server's port
#   TSA_REDIS_SERVER_PID    the standalone server's PID (an outage test may stop it)
#   TSA_REDIS_SERVER_CMD    a shell command that starts the standalone server again on the same
#                           port, in the foreground (`sh -c "exec $TSA_REDIS_SERVER_CMD"`); the
#                           server writes its PID to TSA_REDIS_PIDFILE, and the exit trap stops
#                           the server whose PID is there too
#   TSA_REDIS_PIDFILE       see above
#   CI                      set to 1 unless already set: the Redis tests fail instead of skipping
#                           when something is missing
_tsa_redis_main() {
  local sourced=$1
  shift

  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    printf '\n==> installing redis-server (apt-get)\n'
    local start=$SECONDS
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server
    echo "install took $((SECONDS - start))s"
  fi
  redis-server --version

  # Four free ports whose cluster-bus ports (port + 10000) are free too.
  local ports
  ports=$(python3 - <<'PY'
import random, socket
def free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
chosen = []
while len(chosen) < 4:
    p = random.randint(20000, 55000)
    if p not in chosen and p + 10000 not in chosen and free(p) and free(p + 10000):
        chosen.append(p)
print(*chosen)
PY
  )
  local port p1 p2 p3
  read -r port p1 p2 p3 <<<"$ports"

  TSA_REDIS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tsa-redis.XXXXXX")
  TSA_REDIS_PIDS=()
  trap _tsa_redis_stop EXIT

  local common="--bind 127.0.0.1 --save '' --appendonly no --daemonize no"
  TSA_REDIS_PIDFILE="$TSA_REDIS_DIR/standalone.pid"
  TSA_REDIS_SERVER_CMD="redis-server --port $port $common --dir $TSA_REDIS_DIR --pidfile $TSA_REDIS_PIDFILE --logfile $TSA_REDIS_DIR/standalone.log"
  sh -c "exec $TSA_REDIS_SERVER_CMD" &
  TSA_REDIS_SERVER_PID=$!
  TSA_REDIS_PIDS+=("$TSA_REDIS_SERVER_PID")

  local node
  for node in "$p1" "$p2" "$p3"; do
    mkdir -p "$TSA_REDIS_DIR/$node"
    sh -c "exec redis-server --port $node $common --dir $TSA_REDIS_DIR/$node \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --logfile $TSA_REDIS_DIR/$node/redis.log" &
    TSA_REDIS_PIDS+=("$!")
  done

  for node in "$port" "$p1" "$p2" "$p3"; do
    _tsa_redis_wait "$node" "redis-cli -p $node ping" PONG || return 1
  done
  redis-cli --cluster create "127.0.0.1:$p1" "127.0.0.1:$p2" "127.0.0.1:$p3" \
    --cluster-replicas 0 --cluster-yes >"$TSA_REDIS_DIR/cluster-create.log" 2>&1 || {
    cat "$TSA_REDIS_DIR/cluster-create.log" >&2
    return 1
  }
  for node in "$p1" "$p2" "$p3"; do
    _tsa_redis_wait "$node" "redis-cli -p $node cluster info" cluster_state:ok || return 1
  done

  export TSA_REDIS_URL="redis://127.0.0.1:$port"
  export TSA_REDIS_CLUSTER_URLS="redis://127.0.0.1:$p1,redis://127.0.0.1:$p2,redis://127.0.0.1:$p3"
  export TSA_REDIS_PORT=$port TSA_REDIS_SERVER_PID TSA_REDIS_SERVER_CMD TSA_REDIS_PIDFILE
  export CI="${CI:-1}"
  echo "redis: standalone $TSA_REDIS_URL (pid $TSA_REDIS_SERVER_PID), cluster $TSA_REDIS_CLUSTER_URLS"

  if [[ $sourced == no ]]; then
    "$@"
  fi
}

# Waits up to 20 seconds for `$2`'s output to contain `$3`.
_tsa_redis_wait() {
  local i
  for ((i = 0; i < 200; i++)); do
    if $2 2>/dev/null | grep -q "$3"; then
      return 0
    fi
    sleep 0.1
  done
  echo "redis: port $1 never answered '$3'; logs in $TSA_REDIS_DIR:" >&2
  tail -n 20 "$TSA_REDIS_DIR"/*.log "$TSA_REDIS_DIR"/*/*.log >&2 2>/dev/null || true
  return 1
}

# Stops the servers this script started (and a restarted standalone, by its pidfile), by PID.
_tsa_redis_stop() {
  local status=$?
  local pids=("${TSA_REDIS_PIDS[@]}") pid
  if [[ -s ${TSA_REDIS_PIDFILE:-} ]]; then
    pids+=("$(cat "$TSA_REDIS_PIDFILE")")
  fi
  for pid in "${pids[@]}"; do
    # Only a live redis-server: a PID from a stale pidfile may belong to another process by now.
    if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q '^redis-server'; then
      kill "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${TSA_REDIS_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "${TSA_REDIS_DIR:?}"
  return $status
}

if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
  _tsa_redis_main yes
else
  set -euo pipefail
  if [[ $# -eq 0 ]]; then
    echo "usage: bash .ci/redis.sh COMMAND [ARG...]   or   source .ci/redis.sh" >&2
    exit 2
  fi
  _tsa_redis_main no "$@"
fi
