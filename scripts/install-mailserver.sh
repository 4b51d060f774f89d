#!/usr/bin/env bash
# Installs Dovecot (IMAP) for the e-mail tests, which start their own private instance
# (tests/support/mail.py). Does nothing when Dovecot is already there. No system account is
# created: the package brings `dovecot`/`dovenull`, and the tests store mail as `nobody`.
set -euo pipefail

if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  cat >&2 <<'MSG'
Dovecot is not installed; the e-mail tests need it (they start their own server on a free port).
As root, run:
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd
  systemctl disable --now dovecot   # the tests do not need the system service
MSG
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "No apt-get here: install Dovecot 2.3 (IMAP server and doveadm) with your package manager." >&2
  exit 1
fi

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd

# Where apt started the system service (a machine with systemd), stop it: the tests run their
# own instance, and an IMAP server left listening on port 143 helps nobody.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now dovecot >/dev/null 2>&1 || true
elif command -v service >/dev/null 2>&1; then
  service dovecot stop >/dev/null 2>&1 || true
fi
