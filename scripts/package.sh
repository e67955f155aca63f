#!/usr/bin/env bash
# The installable package, proven end to end:
#   1. the npm tauri CLI (pinned: TAURI_CLI_NPM in .ci/versions.env; a prebuilt binary, no
#      15-minute cargo install);
#   2. `tauri build --bundles deb`: release build with the UI embedded, .deb with the icons,
#      a desktop entry and the workspace version (the one release build of CI);
#   3. `apt-get install ./…deb` on this machine, as IT would;
#   4. the installed /usr/bin/zeues: `--version`, `doctor` (exits 1: not configured), then the
#      window under Xvfb to its first screen, with a screenshot in target/package/.
# AppImage is not built: its bundler downloads its tools from GitHub at bundle time (README).
# Usage: bash scripts/package.sh [--no-install]   (idempotent; CI calls it from scripts/test.sh)
source "$(dirname "$0")/lib.sh"

INSTALL=1
[[ "${1:-}" == "--no-install" ]] && INSTALL=0

OUT="$TARGET_DIR/package"
CLI_DIR="$TARGET_DIR/tauri-cli-npm"
mkdir -p "$OUT"
rm -f "$OUT"/*.png "$OUT"/*.log

step "tauri CLI (npm @tauri-apps/cli@$TAURI_CLI_NPM)"
if ! command -v npm >/dev/null 2>&1; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi
TAURI="$CLI_DIR/node_modules/.bin/tauri"
if [[ "$("$TAURI" --version 2>/dev/null)" != "tauri-cli $TAURI_CLI_NPM" ]]; then
  mkdir -p "$CLI_DIR"
  # Its own prefix: no package.json or node_modules in the repository.
  timed npm install --prefix "$CLI_DIR" --no-save --no-audit --no-fund --loglevel=error \
    "@tauri-apps/cli@$TAURI_CLI_NPM"
fi
"$TAURI" --version

step "tauri build --bundles deb (release, UI embedded)"
rm -rf "$TARGET_DIR/release/bundle/deb"
# tauri.conf.json sits at the root with a symlink in src-tauri (../shared/TOOLCHAIN.md);
# its beforeBuildCommand builds ui/dist.
TAURI_APP_PATH=src-tauri CI=true timed "$TAURI" build --bundles deb
DEB=$(ls "$TARGET_DIR"/release/bundle/deb/*.deb)
echo "package: $DEB ($(du -h "$DEB" | cut -f1), $(stat -c %s "$DEB") bytes)"
dpkg-deb --info "$DEB" | sed -n '/Package:/,/Description:/p'
contents=$(dpkg-deb --contents "$DEB")
for want in usr/bin/zeues usr/share/applications/ZEUES.desktop usr/share/icons/hicolor/128x128/apps/zeues.png; do
  if ! grep -Eq " (\./)?$want\$" <<<"$contents"; then
    echo "the package lacks $want:" >&2
    echo "$contents" >&2
    exit 1
  fi
done
echo "desktop entry:"
dpkg-deb --fsys-tarfile "$DEB" | tar -xO --wildcards '*usr/share/applications/ZEUES.desktop'
version=$(dpkg-deb --field "$DEB" Version)
want_version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
if [[ "$version" != "$want_version" ]]; then
  echo "package version $version is not the workspace version $want_version" >&2
  exit 1
fi
cp "$DEB" "$OUT/"

if ((INSTALL == 0)); then
  exit 0
fi

step "apt-get install ./$(basename "$DEB")"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "$DEB"
command -v zeues
dpkg -s zeues | grep -E '^(Status|Version|Depends):'

step "installed binary: command line"
/usr/bin/zeues --version
SANDBOX=$(mktemp -d)
trap 'rm -rf "$SANDBOX"' EXIT
set +e
/usr/bin/zeues doctor --data-dir "$SANDBOX/datos" >"$OUT/doctor.log" 2>&1
code=$?
set -e
cat "$OUT/doctor.log"
if [[ $code -ne 1 ]]; then
  echo "zeues doctor on an unconfigured device must exit 1 (red), got $code" >&2
  exit 1
fi

step "installed binary: the window under Xvfb, first screen"
export SHOT="$OUT/first-screen.png" APP_LOG="$OUT/window.log" DATA="$SANDBOX/datos"
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c '
  set -euo pipefail
  # Its shipped log filter, whatever RUST_LOG the caller has: the start lines are checked below.
  env -u RUST_LOG /usr/bin/zeues --data-dir "$DATA" >"$APP_LOG" 2>&1 &
  app=$!
  trap "kill $app 2>/dev/null || true; wait $app 2>/dev/null || true" EXIT
  # The window exists once X knows it; then give WebKit time to paint the first screen.
  for _ in $(seq 150); do
    if xwininfo -root -tree 2>/dev/null | grep -q "\"ZEUES\""; then break; fi
    if ! kill -0 $app 2>/dev/null; then echo "zeues exited early" >&2; cat "$APP_LOG" >&2; exit 1; fi
    sleep 0.2
  done
  xwininfo -root -tree | grep -q "\"ZEUES\"" || { echo "no ZEUES window after 30 s" >&2; cat "$APP_LOG" >&2; exit 1; }
  for _ in $(seq 30); do
    sleep 1
    import -window root "$SHOT"
    # A painted screen has more than one colour.
    colours=$(identify -format "%k" "$SHOT" 2>/dev/null || echo 0)
    if (( colours > 8 )); then break; fi
  done
  kill -0 $app || { echo "zeues exited before its first screen" >&2; cat "$APP_LOG" >&2; exit 1; }
  if (( colours <= 8 )); then
    echo "the ZEUES window never painted its first screen in 30 s ($colours colours; see $SHOT)" >&2
    cat "$APP_LOG" >&2
    exit 1
  fi
  echo "window up; $colours colours on screen"
'
echo "screenshot: $SHOT"
# The painted window must be the first-run screen over the demo plant (an unconfigured device):
# each step of the start must be in its log. The stderr log may carry colour codes.
started=$(sed 's/\x1b\[[0-9;]*m//g' "$OUT/window.log")
missing=()
for want in "iniciando ZEUES" "sin configuración: primer inicio sobre la planta demo" "planta abierta"; do
  grep -qF "$want" <<<"$started" || missing+=("$want")
done
if ((${#missing[@]} > 0)); then
  echo "the installed app did not reach its first screen: the log lacks:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  echo "--- $OUT/window.log:" >&2
  cat "$OUT/window.log" >&2
  exit 1
fi
grep -E "iniciando ZEUES|primer inicio|planta abierta" <<<"$started"
