#!/usr/bin/env bash
# Runs only the end-to-end tests of the real app (for development; scripts/test.sh runs them as
# part of the full suite): builds the UI, then runs every `tests/e2e_*.rs` under a throwaway D-Bus
# session with an unlocked gnome-keyring and Xvfb. Extra arguments go to the test binaries, e.g.
# `scripts/e2e.sh --nocapture`. Needs what `scripts/install-deps.sh test` installs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
npm --prefix ui run build --silent
# The real model servers some end-to-end tests use (already running ones are reused).
peers=${HANDSHAKE_PEERS:-../shared/peers/peer.sh}
if [ -z "${HANDSHAKE_SKIP_PEERS:-}" ]; then
  HANDSHAKE_PEER_OLLAMA_URL=${HANDSHAKE_PEER_OLLAMA_URL:-$(bash "$peers" ollama 11434)}
  HANDSHAKE_PEER_OPENAI_URL=${HANDSHAKE_PEER_OPENAI_URL:-$(bash "$peers" openai 18080)}
  export HANDSHAKE_PEER_OLLAMA_URL HANDSHAKE_PEER_OPENAI_URL
fi
keyring_home=$(mktemp -d)
trap 'rm -rf "$keyring_home"' EXIT
XDG_DATA_HOME=$keyring_home dbus-run-session -- bash -euo pipefail -c '
  echo -n handshake-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  rm -rf test-artifacts/e2e
  xvfb-run -a -s "-screen 0 1280x800x24" cargo test -p handshake --features e2e --test "e2e_*" -- "$@"
  ls test-artifacts/e2e
' e2e "$@"
