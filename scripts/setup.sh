#!/usr/bin/env bash
# Everything a fresh Debian machine needs for the demo and the tests, from Debian's packages:
# Dovecot (IMAP + LMTP) for the local mail system, Tesseract OCR with English, German and
# French for scanned and photographed bills, LibreOffice Calc (headless) and the Carlito font
# to check the bill sheet prints and computes as the bot says, Chromium (headless) to check every
# email fits a phone and a desktop and to take the README's screenshots; then the project in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(dovecot-imapd dovecot-lmtpd tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-fra
          libreoffice-calc-nogui fonts-crosextra-carlito chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v "^WARNING: Location" >&2 || true
.venv/bin/python -c "import bot.cli, aiosmtpd" # fail here, clearly, if the install did not work
tesseract --list-langs 2>/dev/null | grep -qx deu || { echo "tesseract with German is missing" >&2; exit 1; }
command -v chromium >/dev/null || { echo "chromium is missing" >&2; exit 1; }
