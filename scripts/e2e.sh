#!/usr/bin/env bash
# End-to-end tests of the real window: builds the UI and the app (debug, UI embedded), then
# runs tests/tests/e2e_window.rs against tauri-driver + WebKitWebDriver inside Xvfb and a
# private D-Bus session (so GTK's helper daemons die with it).
source "$(dirname "$0")/lib.sh"

step "UI (wasm)"
timed bash ui/build.sh
step "app (debug, custom-protocol)"
timed cargo build -p zeues-app --features custom-protocol
export ZEUES_APP_BIN="$TARGET_DIR/debug/zeues"
step "e2e test binary"
timed cargo test -p zeues-tests --test e2e_window --no-run

mkdir -p "$TARGET_DIR/e2e-screenshots" "$TARGET_DIR/e2e-logs"
rm -f "$TARGET_DIR"/e2e-screenshots/*.png
if (exec 3<>/dev/tcp/127.0.0.1/4444) 2>/dev/null; then
  echo "port 4444 is already in use: stop the other tauri-driver first" >&2
  exit 1
fi

step "e2e under Xvfb"
export E2E_LOG="$TARGET_DIR/e2e-logs/tauri-driver.log"
start=$SECONDS
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c '
  set -euo pipefail
  tauri-driver --port 4444 --native-port 4445 >"$E2E_LOG" 2>&1 &
  driver=$!
  trap "kill $driver 2>/dev/null || true; wait $driver 2>/dev/null || true" EXIT
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/4444) 2>/dev/null && break
    sleep 0.1
  done
  cargo test -p zeues-tests --test e2e_window -- --test-threads=1
'
echo "    ($((SECONDS - start)) s: e2e under Xvfb; tauri-driver log: $E2E_LOG)"
echo "screenshots: $TARGET_DIR/e2e-screenshots"
