#!/usr/bin/env bash
# Regenerates the README's screenshots of the repository page in headless chromium: the desktop
# one (docs/repository-page.png, 1100 pixels wide) and the phone one (docs/repository-page-phone.png,
# a 390x844 phone at 3 device pixels per CSS pixel, saved at half that scale). They are taken by
# the page tests of tests/tests/ops_cli.rs, which also check the page at both sizes.
#
#   scripts/screenshots.sh
#
# Environment: as scripts/test.sh (RPMBUCKET_CACHE, CARGO_TARGET_DIR, RPMBUCKET_FIXTURES).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/test.sh"
command -v chromium >/dev/null || die "chromium is not installed (scripts/test.sh installs it)"
build_fixtures
step "build: rpmbucket and the ops_cli tests"
cargo build -p rpmbucket -p rpmbucket-tests --bins --test ops_cli --quiet
export RPMBUCKET_BIN=$CARGO_TARGET_DIR/debug/rpmbucket
RPMBUCKET_SCREENSHOT=$REPO/docs/repository-page.png \
  RPMBUCKET_SCREENSHOT_PHONE=$REPO/docs/repository-page-phone.png \
  cargo test -p rpmbucket-tests --test ops_cli --quiet -- the_page_
step "screenshots: docs/repository-page.png docs/repository-page-phone.png"
