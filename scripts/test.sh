#!/usr/bin/env bash
# Everything CI checks, in order: setup, format, lints, all tests (property tests at
# PROPTEST_CASES=10000), the Sheets emulator's fidelity, the real-process plant simulator
# (plant-sim), the deterministic one (plant-vopr), notifications, the end-to-end window tests,
# then the .deb (built, installed, started).
source "$(dirname "$0")/lib.sh"

timed bash scripts/setup.sh

# zeues-app embeds ui/dist at compile time, so clippy and the tests need it built first.
step "UI (wasm)"
timed bash ui/build.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
# With zeues-tests' notify feature, so tests/tests/notify_dbus.rs is linted in this one run
# (a separate run with other features re-checks most dependencies: ~8 min on 2 cores).
timed cargo clippy --workspace --all-targets --features zeues-tests/notify -- -D warnings

step "tests"
export PROPTEST_CASES="${PROPTEST_CASES:-10000}"
# The window tests need the driver that scripts/e2e.sh starts: they run in the next step.
unset ZEUES_APP_BIN
if command -v cargo-nextest >/dev/null 2>&1; then
  timed cargo nextest run --workspace --no-fail-fast -E 'not binary(e2e_window)'
  echo "    (tests/tests/e2e_window.rs runs below, against the real window)"
else
  timed cargo test --workspace --no-fail-fast
fi

step "Sheets emulator fidelity (googleapiclient + google-sheets4 + discovery schemas)"
timed bash scripts/fidelity.sh

step "plant simulator: short seeded chaos run"
timed bash scripts/chaos.sh

step "deterministic plant simulator (plant-vopr: seeds from a random start, independent checker)"
timed bash scripts/vopr.sh

step "native notifications (DesktopNotifier → dbusmock notification daemon)"
timed bash scripts/notify.sh

step "end-to-end (real window)"
timed bash scripts/e2e.sh

# The one release build of CI: the .deb, installed with apt-get and started under Xvfb.
step "package (.deb): build, install, start the installed app"
timed bash scripts/package.sh
