#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time (FUZZ_SECONDS each, default 30), starting
# from the committed seeds. Needs the nightly toolchain the machine image carries; installs
# cargo-fuzz from crates.io when it is missing. Exits non-zero on the first finding; libFuzzer
# leaves the crashing input under fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-30}"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

cd fuzz
cargo +nightly fuzz build -O
for target in $(cargo +nightly fuzz list); do
  mkdir -p "corpus/$target"
  echo "fuzzing $target for ${seconds}s"
  cargo +nightly fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 2>&1 | grep -E "^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY|Done)" || true
  # `cargo fuzz run` exits non-zero on a finding; with `|| true` above, check for artefacts.
  if compgen -G "artifacts/$target/*" >/dev/null; then
    echo "finding in $target:"; ls "artifacts/$target"
    exit 1
  fi
done
echo "fuzz: all targets ran ${seconds}s without a finding"
