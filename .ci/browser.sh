#!/usr/bin/env bash
# The real-browser end-to-end test (e2e/tests/browser.rs, a cargo workspace of its own): the demo
# server in headless Chromium, driven through chromedriver. Run from anywhere:
# `bash .ci/browser.sh`.
#
# Installs Debian's `chromium` and `chromium-driver` with apt-get (as root, non-interactive) only
# when /usr/bin/chromium or /usr/bin/chromedriver is missing, then runs the test with
# REQUIRE_BROWSER=1, so that a browser that cannot start fails instead of skipping. The test
# builds the main package's `demo` example itself (in the main target directory).
#
# It writes no tracked file: the screenshots, the logs and (on failure) the page source land in
# e2e/target/browser-artifacts/ (or $CARGO_TARGET_DIR/browser-artifacts/).
#   UPDATE_SCREENSHOTS=1 bash .ci/browser.sh
# also copies the screenshots of a passing walk into docs/screenshots/ (the README's images).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
  step "installing chromium and chromium-driver (apt-get)"
  start=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q chromium chromium-driver
  echo "install took $((SECONDS - start))s"
fi
/usr/bin/chromium --version 2>/dev/null
/usr/bin/chromedriver --version

step "browser test (cargo test --manifest-path e2e/Cargo.toml --test browser)"
start=$SECONDS
REQUIRE_BROWSER=1 cargo test --manifest-path e2e/Cargo.toml --test browser -- --nocapture
echo "browser test took $((SECONDS - start))s (build included)"
