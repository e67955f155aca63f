#!/usr/bin/env bash
# Native notifications, headless: inside a private D-Bus session, Debian's python3-dbusmock
# notification daemon records every Notify call; tests/tests/notify_dbus.rs sends a conflict
# notification through zeues_app::notifier::DesktopNotifier and reads that log.
source "$(dirname "$0")/lib.sh"

step "notify_dbus test binary (zeues-tests, feature notify; linted by test.sh's clippy step)"
# --workspace: the features resolve as in test.sh's workspace build, so only this test binary
# builds (with -p zeues-tests the shared dependencies resolve differently: ~6 min of rebuild).
timed cargo test --workspace --features zeues-tests/notify --test notify_dbus --no-run
mkdir -p "$TARGET_DIR/e2e-logs"
export NOTIFY_LOG="$TARGET_DIR/e2e-logs/notify-dbusmock.log"

step "notifications through a mock notification daemon"
dbus-run-session -- bash -c '
  set -euo pipefail
  source scripts/dbusmock.sh
  start_notification_mock "$NOTIFY_LOG"
  trap "kill $DBUSMOCK_PID 2>/dev/null || true" EXIT
  cargo test --workspace --features zeues-tests/notify --test notify_dbus -- --nocapture
'
