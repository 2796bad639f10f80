#!/usr/bin/env bash
# The library's own unit tests with the `axum` feature off. `bash .ci/lib-no-axum.sh`.
#
# `cargo test --lib --no-default-features` in the repository does not do this: Cargo.toml's
# self-dev-dependency (`tower-session-auth = { path = ".", features = ["axum", "test-util"] }`,
# there for the tests and examples) turns `axum` on for every test target. So this copies what the unit tests
# need (Cargo.toml without that line, Cargo.lock, src/, README.md for the crate docs,
# proptest-regressions/, and examples/, which Cargo.toml names) to target/no-axum/crate, a package of its own, and runs
# `cargo test --lib --no-default-features` there, sharing the main target directory (the
# dependencies are the same builds). To the copy's lib.rs it appends a check that fails the build
# if `feature = "axum"` is on, and a unit test that asserts it is off; the script fails unless
# that test is listed and passes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target="${CARGO_TARGET_DIR:-$root/target}"
copy="$target/no-axum/crate"

rm -rf "$copy"
mkdir -p "$copy"
cp -p Cargo.lock README.md "$copy/"
cp -pR src examples proptest-regressions "$copy/"

self_dep='^tower-session-auth = \{ path = "\.", features = \["axum", "test-util"\] \}$'
if [[ $(grep -cE "$self_dep" Cargo.toml) -ne 1 ]]; then
  echo "lib-no-axum: Cargo.toml has no self-dev-dependency line matching /$self_dep/;" \
    "update this script" >&2
  exit 1
fi
{
  grep -vE "$self_dep" Cargo.toml
  printf '\n# A package of its own, outside the repository'"'"'s (see .ci/lib-no-axum.sh).\n[workspace]\n'
} >"$copy/Cargo.toml"
if grep -nE '^tower-session-auth *=|path *= *"\."' "$copy/Cargo.toml" >&2; then
  echo "lib-no-axum: the copied Cargo.toml still depends on the package itself (above)" >&2
  exit 1
fi

cat >>"$copy/src/lib.rs" <<'RUST'

// Appended by .ci/lib-no-axum.sh to its copy of the crate (never to src/).
#[cfg(all(test, feature = "axum"))]
compile_error!("the no-axum unit test run has the `axum` feature on");
#[cfg(test)]
mod ci_no_axum {
    #[test]
    fn axum_feature_is_off() {
        assert!(!cfg!(feature = "axum"));
    }
}
RUST

cd "$copy"
export CARGO_TARGET_DIR="$target"
list=$(cargo test --lib --no-default-features -- --list)
if ! grep -qx 'ci_no_axum::axum_feature_is_off: test' <<<"$list"; then
  echo "lib-no-axum: the probe test is not in the list:" >&2
  echo "$list" >&2
  exit 1
fi
echo "lib-no-axum: $(grep -c ': test$' <<<"$list") unit tests, axum off"
cargo test --lib --no-default-features
