#!/usr/bin/env bash
# The full test suite: installs what is missing, then formatting, lints, Rust tests (with the real
# OS keychain), the UI's type check and unit tests, and the end-to-end test of the real app under
# Xvfb. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never
# One-shot builds gain nothing from incremental caches, which took 4.6 GB of a CI run's disk.
export CARGO_INCREMENTAL=0
scripts/install-deps.sh test

step() { printf '\n==> %s\n' "$*"; }

# The real model servers (llama.cpp behind the Ollama and OpenAI-compatible APIs) that integration
# tests run against. The first install builds llama.cpp (about five minutes), so it starts now, in
# the background, while the Rust code compiles.
peers=${HANDSHAKE_PEERS:-../shared/peers/peer.sh}
peer_log=$(mktemp)
bash "$peers" install >"$peer_log" 2>&1 &
peer_install=$!
keyring_home=$(mktemp -d)
cleanup() { bash "$peers" stop >/dev/null 2>&1 || true; rm -rf "$peer_log" "$keyring_home"; }
trap cleanup EXIT

step "cargo fmt --check"
cargo fmt --all --check

step "UI build (the app embeds ui/dist)"
npm --prefix ui run build --silent

step "cargo clippy"
cargo clippy --workspace --all-targets --features handshake/e2e -- -D warnings

step "UI type check"
npm --prefix ui run check

step "UI unit tests"
npm --prefix ui test --silent

# The keychain tests and the app need a D-Bus session with an unlocked gnome-keyring (the Secret
# Service), kept in a throwaway folder so that no earlier keyring (or its password) is involved and
# the user's own keyring is never touched; the end-to-end test needs a display.
step "build the Rust tests"
cargo test --workspace --no-run
cargo test -p handshake-core --features test-egress --no-run

step "start the peers"
wait "$peer_install" || { cat "$peer_log"; exit 1; }
HANDSHAKE_PEER_OLLAMA_URL=$(bash "$peers" ollama 11434)
HANDSHAKE_PEER_OPENAI_URL=$(bash "$peers" openai 18080)
export HANDSHAKE_PEER_OLLAMA_URL HANDSHAKE_PEER_OPENAI_URL

step "Rust tests and the end-to-end test (dbus session, gnome-keyring, Xvfb)"
XDG_DATA_HOME=$keyring_home dbus-run-session -- bash -euo pipefail -c '
  echo -n handshake-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  cargo test --workspace
  cargo test -p handshake-core --features test-egress
  rm -rf test-artifacts/e2e
  xvfb-run -a -s "-screen 0 1280x800x24" cargo test -p handshake --features e2e --test "e2e_*"
  ls test-artifacts/e2e
'
step "Flight Recorder scaling benchmark, small size (so that it cannot rot)"
cargo run -q -p handshake-core --example recorder_scaling_bench -- 2000

step "all tests passed"
