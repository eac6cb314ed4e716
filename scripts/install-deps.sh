#!/usr/bin/env bash
# Installs what Handshake needs on a Debian 12 machine, and only what is missing (idempotent).
#   scripts/install-deps.sh app    what running the desktop app needs
#   scripts/install-deps.sh test   that, plus what the full test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-app}

apt_packages=(build-essential pkg-config curl file libwebkit2gtk-4.1-dev librsvg2-dev libssl-dev
  libayatana-appindicator3-dev libdbus-1-dev libsecret-1-dev)
if [ "$mode" = test ]; then
  apt_packages+=(webkit2gtk-driver xvfb xauth gnome-keyring dbus-x11 imagemagick python3-venv)
fi

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup first" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 or newer" >&2; exit 1; }

if [ "$mode" = test ]; then
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
  if ! command -v tauri-driver >/dev/null && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
    echo "installing tauri-driver" >&2
    cargo install tauri-driver --version 2.1.0 --locked -q
  fi
fi

# node_modules follows package-lock.json exactly; reinstall only when the lock changed.
stamp=ui/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ ui/package-lock.json -nt "$stamp" ]; then
  echo "installing node modules" >&2
  npm --prefix ui ci --no-audit --no-fund --loglevel=error
fi
