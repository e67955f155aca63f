#!/usr/bin/env bash
# End-to-end tests of the real window: builds the UI and the app (debug, UI embedded), then
# runs tests/tests/e2e_window.rs inside Xvfb and a private D-Bus session (so GTK's helper
# daemons die with it) with:
#   - two tauri-driver + WebKitWebDriver pairs (ports 4444/4445 and 4446/4447): the plant
#     scenarios drive two app instances = two devices;
#   - Debian's python3-dbusmock notification daemon, whose log proves the conflict
#     notification was sent.
# Screenshots: target/e2e-screenshots/; figures: target/e2e-metrics.json.
# E2E_FILTER="name another" runs only the tests whose names contain one of the words.
source "$(dirname "$0")/lib.sh"

step "UI (wasm)"
timed bash ui/build.sh
step "app (debug, custom-protocol)"
# --workspace: features resolve as in test.sh's workspace build, so only Tauri's custom-protocol
# crates rebuild (with -p zeues-app the shared dependencies resolve differently: ~4 min more).
timed cargo build --workspace --features zeues-app/custom-protocol --bin zeues
export ZEUES_APP_BIN="$TARGET_DIR/debug/zeues"
step "e2e test binary"
timed cargo test --workspace --test e2e_window --no-run

mkdir -p "$TARGET_DIR/e2e-screenshots" "$TARGET_DIR/e2e-logs"
rm -f "$TARGET_DIR"/e2e-screenshots/*.png "$TARGET_DIR/e2e-metrics.json"
for port in 4444 4445 4446 4447; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "port $port is already in use: stop the other tauri-driver first" >&2
    exit 1
  fi
done

step "e2e under Xvfb"
export E2E_LOGS="$TARGET_DIR/e2e-logs"
start=$SECONDS
# 1920x1080: the tests also check the desktop size; the window opens at 1280x800.
xvfb-run -a -s "-screen 0 1920x1080x24" dbus-run-session -- bash -c '
  set -euo pipefail
  source scripts/dbusmock.sh
  start_notification_mock "$E2E_LOGS/notifications.log"
  tauri-driver --port 4444 --native-port 4445 >"$E2E_LOGS/tauri-driver-a.log" 2>&1 &
  driver_a=$!
  tauri-driver --port 4446 --native-port 4447 >"$E2E_LOGS/tauri-driver-b.log" 2>&1 &
  driver_b=$!
  trap "kill $driver_a $driver_b $DBUSMOCK_PID 2>/dev/null || true; wait $driver_a $driver_b 2>/dev/null || true" EXIT
  for port in 4444 4446; do
    for _ in $(seq 100); do
      (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
      sleep 0.1
    done
  done
  export ZEUES_WEBDRIVER_URL=http://127.0.0.1:4444 ZEUES_WEBDRIVER_URL_B=http://127.0.0.1:4446
  cargo test --workspace --test e2e_window -- --test-threads=1 ${E2E_FILTER:-}
'
echo "    ($((SECONDS - start)) s: e2e under Xvfb; logs: $E2E_LOGS)"
echo "screenshots: $TARGET_DIR/e2e-screenshots"
if [[ -f "$TARGET_DIR/e2e-metrics.json" ]]; then
  echo "measured (target/e2e-metrics.json):"
  cat "$TARGET_DIR/e2e-metrics.json"
fi
