#!/usr/bin/env bash
# Installs Debian packages (we run as root on these machines). Every installer of this project
# goes through here, under one lock: the tests install a tool (bench/lib/tools.ts) while Chromium
# installs beside them (test/support/install-chromium.sh), and two apt-gets at once would find
# dpkg busy.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
exec flock -w 600 /run/lock/chunkswarm-apt.lock sh -c '
  apt="apt-get -o DPkg::Lock::Timeout=600 -qq"
  $apt install -y "$@" || { $apt update && $apt install -y "$@"; }' sh "$@"
