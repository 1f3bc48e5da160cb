#!/usr/bin/env bash
# Everything a fresh Debian machine needs for the demo and the tests:
# Dovecot (IMAP + LMTP) from Debian's packages and the project in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! PATH="$PATH:/usr/sbin" command -v dovecot >/dev/null; then
  echo "== installing dovecot-imapd dovecot-lmtpd" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd dovecot-lmtpd >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v "^WARNING: Location" >&2 || true
.venv/bin/python -c "import bot.cli, aiosmtpd" # fail here, clearly, if the install did not work
