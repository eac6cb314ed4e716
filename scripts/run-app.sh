#!/usr/bin/env bash
# Installs what is missing, builds the UI and starts the Handshake desktop app.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh app
npm --prefix ui run build --silent
exec cargo run -p handshake --release -- "$@"
