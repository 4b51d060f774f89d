#!/usr/bin/env bash
# Installs Debian's nginx for the two-replica test (tests/deploy/), which runs its own nginx as
# an ordinary process with a config in a temp dir (tests/support/nginx.py). Does nothing when
# nginx is already there; the system service apt may start is stopped again: nothing needs it.
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  cat >&2 <<'MSG'
nginx is not installed; the two-replica test needs it (it starts its own on a free port).
As root, run:
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx
  systemctl disable --now nginx   # the tests do not need the system service
MSG
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "No apt-get here: install nginx (>= 1.18) with your package manager." >&2
  exit 1
fi

echo "Installing Debian's nginx for the two-replica test..."
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx

# Where apt started the system service, stop it: a server left on port 80 helps nobody.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now nginx >/dev/null 2>&1 || true
elif command -v service >/dev/null 2>&1; then
  service nginx stop >/dev/null 2>&1 || true
fi
