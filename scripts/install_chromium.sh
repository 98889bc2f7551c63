#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the browser test (tests/analytics/test_dashboard_browser.py).
# Idempotent: does nothing when /usr/bin/chromium already exists. Playwright drives this binary; we never
# run `playwright install` (it downloads a browser build of its own).
#   scripts/install_chromium.sh        exit 0 when chromium is there afterwards, non-zero otherwise
set -euo pipefail
LOG_TAG=chromium
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHROMIUM=/usr/bin/chromium
if [[ -x $CHROMIUM ]]; then
  log "already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi
# fonts-liberation: text in screenshots (recommends are not installed by apt_install)
apt_install chromium fonts-liberation
[[ -x $CHROMIUM ]] || die "$CHROMIUM still missing after apt-get install chromium"
log "installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
