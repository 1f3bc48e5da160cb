#!/usr/bin/env bash
# Set up (if needed) and run the local demo of the whole round trip.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PATH:/usr/sbin"
exec .venv/bin/supplierbot demo "$@"
