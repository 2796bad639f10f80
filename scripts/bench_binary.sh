# Sourced by the bench_*.sh scripts (not run on its own).
#
# bench_binary NAME: builds benches/NAME.rs with the bench profile (release) and prints the path
# of its executable, read from cargo's JSON messages. On failure it says which command shows why,
# and returns 1 (which ends a script under `set -e`).
bench_binary() {
    local name="$1" bin
    bin="$(cargo bench --manifest-path benches/Cargo.toml --bench "$name" --no-run \
        --message-format=json 2>/dev/null |
        python3 -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == sys.argv[1] \
            and msg.get("executable"):
        print(msg["executable"])
' "$name")" || true
    if [ -z "$bin" ] || [ ! -x "$bin" ]; then
        echo "could not build $name; run: cargo bench --manifest-path benches/Cargo.toml --bench $name --no-run" >&2
        return 1
    fi
    printf '%s\n' "$bin"
}
