#!/usr/bin/env bash
# Builds the UI into ui/dist without trunk: cargo (wasm32) → wasm-bindgen → static files.
# Usage: ui/build.sh [--debug]
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
cargo_flags=(--release)
if [[ "${1:-}" == "--debug" ]]; then
  profile=debug
  cargo_flags=()
fi

want=$(sed -n 's/^WASM_BINDGEN=//p' .ci/versions.env)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')
if [[ "$have" != "$want" ]]; then
  echo "ui/build.sh: wasm-bindgen-cli $want required, found '${have:-none}' (run scripts/setup.sh)" >&2
  exit 1
fi

target_dir=${CARGO_TARGET_DIR:-target}
cargo build "${cargo_flags[@]}" --target wasm32-unknown-unknown -p zeues-ui
rm -rf ui/dist
mkdir -p ui/dist
wasm-bindgen --target web --no-typescript --out-dir ui/dist \
  "$target_dir/wasm32-unknown-unknown/$profile/zeues-ui.wasm"
cp ui/index.html ui/main.js ui/style.css ui/dist/
echo "ui/build.sh: ui/dist ready ($(du -sh ui/dist | cut -f1))"
