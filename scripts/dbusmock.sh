# Sourced inside a private D-Bus session (dbus-run-session): starts Debian's python3-dbusmock
# notification daemon logging every Notify call to "$1", waits until it owns
# org.freedesktop.Notifications, and exports ZEUES_NOTIFY_LOG. The caller kills $DBUSMOCK_PID.
start_notification_mock() {
  local log=$1 py=python3
  # Debian's interpreter has the python3-dbusmock module (a pyenv/venv python3 may not).
  [[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
  : > "$log"
  "$py" -m dbusmock --session -t notification_daemon -l "$log" >"$log.stdout" 2>&1 &
  DBUSMOCK_PID=$!
  for _ in $(seq 100); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
         org.freedesktop.DBus.NameHasOwner string:org.freedesktop.Notifications 2>/dev/null \
         | grep -q "boolean true"; then
      export ZEUES_NOTIFY_LOG="$log"
      echo "dbusmock notification daemon (pid $DBUSMOCK_PID) logging to $log"
      return 0
    fi
    sleep 0.1
  done
  echo "the dbusmock notification daemon did not appear on the session bus:" >&2
  cat "$log.stdout" >&2
  return 1
}
