#!/usr/bin/env bash
# Installs what building and testing ZEUES needs, only what is missing (idempotent):
# Debian packages, the wasm32 target, wasm-bindgen-cli (pinned) and tauri-driver.
source "$(dirname "$0")/lib.sh"

APT_PACKAGES=(
  # build
  libwebkit2gtk-4.1-dev librsvg2-dev build-essential pkg-config libssl-dev file
  # run and test (openssl: certificates for the rediss:// tests)
  xvfb xauth webkit2gtk-driver dbus dbus-x11 redis-server openssl python3-dbusmock imagemagick fonts-dejavu-core
  # scripts/package.sh: find the installed app's window
  x11-utils
)

step "Debian packages"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "all present"
fi

step "Rust toolchain ($RUST_TOOLCHAIN, from rust-toolchain.toml)"
if ! command -v cargo >/dev/null 2>&1 || ! command -v rustup >/dev/null 2>&1; then
  echo "cargo/rustup not found: install rustup with Rust $RUST_TOOLCHAIN first" >&2
  exit 1
fi
rustup show active-toolchain >/dev/null
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
cargo --version

step "wasm-bindgen-cli $WASM_BINDGEN"
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}') || have=""
if [[ "$have" != "$WASM_BINDGEN" ]]; then
  # Not --locked: its lock file wants a crate version this registry mirror lacks.
  timed cargo install --force "wasm-bindgen-cli@$WASM_BINDGEN"
else
  echo "present"
fi

step "tauri-driver $TAURI_DRIVER"
if ! command -v tauri-driver >/dev/null 2>&1; then
  timed cargo install --locked "tauri-driver@$TAURI_DRIVER"
else
  echo "present"
fi

if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "note: cargo-nextest not found; scripts/test.sh falls back to cargo test"
fi
