#!/usr/bin/env bash
# Builds and starts ZEUES on the embedded default: a local demo plant, no setup.
# Extra arguments go to the app (e.g. --data-dir /tmp/zeues-demo).
source "$(dirname "$0")/lib.sh"

bash scripts/setup.sh
step "UI (wasm)"
timed bash ui/build.sh
step "app (release, UI embedded)"
timed cargo build --release -p zeues-app --features custom-protocol
step "starting ZEUES"
exec "$TARGET_DIR/release/zeues" "$@"
