#!/usr/bin/env bash
# The deterministic plant simulator (issue 12 §3): a few thousand seeds from a random start, each
# a whole simulated shift of every device's real engine and store against simulated Sheets and
# Redis, with faults and plant behaviours drawn from the seed, checked by zeues-checker.
# Replay a failing seed with: target/debug/plant-vopr --seeds SEED..SEED+1 --trace
# Usage: bash scripts/vopr.sh   (SEEDS=3000 JOBS=2 START=<n> to override)
source "$(dirname "$0")/lib.sh"

SEEDS="${SEEDS:-2000}"
JOBS="${JOBS:-$(nproc)}"
START="${START:-random}"

step "plant-vopr: build"
cargo build -p zeues-tests --bin plant-vopr
step "plant-vopr --seed-start $START --count $SEEDS --jobs $JOBS"
"$TARGET_DIR/debug/plant-vopr" --seed-start "$START" --count "$SEEDS" --jobs "$JOBS" "$@"
