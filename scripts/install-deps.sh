#!/usr/bin/env bash
# Installs what LocalDx needs to build, run and test on Debian 12, skipping what is already there:
# the WebKitGTK/GTK development libraries Tauri links against, the WebDriver for WebKitGTK, Xvfb for
# headless end-to-end tests, OpenSSL's libcrypto for SQLCipher (encryption at rest), poppler's pdftotext (the tests read
# exported PDFs back), tauri-driver, and the npm packages of the UI.
# Needs root (or sudo) for apt; everything else runs as the current user. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev libsoup-3.0-dev
  libjavascriptcoregtk-4.1-dev libxdo-dev webkit2gtk-driver xvfb xauth imagemagick sqlite3 unzip
  build-essential pkg-config libssl-dev strace util-linux poppler-utils
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt packages missing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "install-deps: installing tauri-driver"
  cargo install tauri-driver --locked --version '^2'
fi

# npm packages: reinstall only when package-lock.json changed since the last install.
if [ -f package-lock.json ]; then
  stamp=node_modules/.localdx-lock.sha256
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "install-deps: npm ci"
    npm ci --no-audit --no-fund
    echo "$want" > "$stamp"
  fi
fi
