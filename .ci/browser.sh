#!/usr/bin/env bash
# The real-browser end-to-end test (tests/browser.rs): the demo server in headless Chromium,
# driven through chromedriver. Run from anywhere: `bash .ci/browser.sh`.
#
# Installs Debian's `chromium` and `chromium-driver` with apt-get (as root, non-interactive) only
# when /usr/bin/chromium or /usr/bin/chromedriver is missing, then runs the test with
# REQUIRE_BROWSER=1, so that a browser that cannot start fails instead of skipping.
# Screenshots land in docs/screenshots/ and, with the logs, in target/browser-artifacts/.
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

step "browser test (cargo test --all-features --test browser)"
start=$SECONDS
REQUIRE_BROWSER=1 cargo test --all-features --test browser -- --nocapture
echo "browser test took $((SECONDS - start))s (build included)"
