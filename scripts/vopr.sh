#!/usr/bin/env bash
# The deterministic plant simulator (issue 12 §3): a few thousand seeds from a random start (printed),
# each a compressed shift of every device's real engine and store against simulated Sheets and
# Redis, with faults and plant behaviours drawn from the seed, checked by zeues-checker.
# Replay a failing seed with: target/debug/plant-vopr --seeds SEED..SEED+1 --trace
# Usage: bash scripts/vopr.sh [extra plant-vopr args]   (SEEDS, JOBS, START override the defaults)
source "$(dirname "$0")/lib.sh"

SEEDS="${SEEDS:-2000}"
JOBS="${JOBS:-$(nproc)}"
START="${START:-random}"

# The simulator's time is the engines' own CPU (SQLite and the engine loops): our three crates at
# opt-level 2 run it about twice as fast. Dependencies keep the dev profile's opt-level, so only
# these three rebuild, and their artifacts sit beside the normal debug ones (no rebuild ping-pong).
OPT=(--config 'profile.dev.package.zeues-sync.opt-level=2'
     --config 'profile.dev.package.zeues-checker.opt-level=2'
     --config 'profile.dev.package.zeues-tests.opt-level=2')

step "plant-vopr: build"
timed cargo build -p zeues-tests --bin plant-vopr "${OPT[@]}"
step "plant-vopr --seed-start $START --count $SEEDS --jobs $JOBS $*"
timed "$TARGET_DIR/debug/plant-vopr" --seed-start "$START" --count "$SEEDS" --jobs "$JOBS" "$@"
