#!/usr/bin/env bash
# A short seeded chaos run of the plant simulator (issue 5): devices as separate processes
# against a real redis-server and the Sheets emulator, through chaos proxies, with 429 storms,
# 503-after-commit, Redis restarts and kill -9 at failpoints; then the independent checker.
# Replay a failing run with the same SEED. Usage: bash scripts/chaos.sh [extra plant-sim args]
source "$(dirname "$0")/lib.sh"

SEED="${SEED:-$(( $(date +%s) % 100000 ))}"
DEVICES="${DEVICES:-6}"
SPOOLS="${SPOOLS:-600}"
MINUTES="${MINUTES:-3}"
OUT="$TARGET_DIR/chaos/seed-$SEED"

step "plant-sim: build"
cargo build -p zeues-tests --bin plant-sim
rm -rf "$OUT"
mkdir -p "$OUT"
step "plant-sim --devices $DEVICES --spools $SPOOLS --minutes $MINUTES --seed $SEED --chaos"
if ! "$TARGET_DIR/debug/plant-sim" --devices "$DEVICES" --spools "$SPOOLS" --minutes "$MINUTES" \
      --seed "$SEED" --chaos --dir "$OUT" "$@" 2> "$OUT/plant-sim.log"; then
  tail -n 60 "$OUT/plant-sim.log" >&2
  echo "plant-sim found violations (or failed) with SEED=$SEED; logs in $OUT" >&2
  exit 1
fi
tail -n 3 "$OUT/plant-sim.log"
