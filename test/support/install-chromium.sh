#!/usr/bin/env bash
# The dashboard test drives Debian's Chromium through playwright-core (test/support/chromium.ts).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-chromium: /usr/bin/chromium is missing; run as root: apt-get install -y chromium" >&2
  exit 1
fi
exec "$(dirname "$0")/../../bench/lib/apt-install.sh" chromium >/dev/null
