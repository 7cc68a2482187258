#!/usr/bin/env bash
# The web app's browser tests, in Debian's chromium, driven from Go (chromedp):
# installs chromium when it is missing, then runs TestWebAppInBrowser with
# MIRROR_REQUIRE_BROWSER=1, so a missing browser fails instead of skipping.
# Idempotent; run from anywhere: bash .ci/web.sh
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }
die() { printf 'ci/web: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1; then
  log "installing chromium from Debian's packages"
  as_root apt-get update -qq >/dev/null || die "apt-get update failed"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || die "apt-get install chromium failed"
fi
command -v chromium >/dev/null 2>&1 || die "chromium could not be installed"
log "$(chromium --version 2>/dev/null || echo chromium)"

MIRROR_REQUIRE_BROWSER=1 go test -count=1 -run 'TestWebAppInBrowser' ./cmd/mirror
