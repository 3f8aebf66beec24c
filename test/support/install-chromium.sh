#!/usr/bin/env bash
# The dashboard test drives Debian's Chromium through playwright-core (test/support/chromium.ts).
# It runs beside tests that may install a tool of their own (bench/lib/tools.ts): both take the
# same lock, so that neither apt-get finds dpkg busy.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-chromium: /usr/bin/chromium is missing; run as root: apt-get install -y chromium" >&2
  exit 1
fi
exec flock -w 600 /run/lock/chunkswarm-apt.lock sh -c '
  apt-get -o DPkg::Lock::Timeout=600 update -qq &&
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null'
