#!/usr/bin/env bash
# Installs the Debian packages the tests drive for real: mosquitto (a private broker per test run)
# and chromium (browser tests). Does nothing when they are already there.
set -euo pipefail
missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]} (Debian packages)" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian enables the broker as a service on install; the tests start their own.
if [[ " ${missing[*]} " == *" mosquitto "* ]]; then
  $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
