#!/usr/bin/env bash
# A short seeded chaos run of the plant simulator (issues 5 and 12): devices as separate
# processes against a real redis-server and the Sheets emulator, through chaos proxies, with 429
# storms, 503-after-commit, Redis restarts and kill -9 at failpoints, and the plant's ordinary
# day: workers roaming between tablets, Engineering editing the sheet through the API (new
# spools, typed values, an inserted column, sorted rows, a date as text), supervisors releasing
# spools of an offline tablet, a second app instance on a device's directory, skewed tablet
# clocks and, for some seeds, a fleet without Redis. Then the independent checker
# (zeues-checker) on the final workbook, every acked tap and every replica.
# Replay a failing run with the same SEED; one behaviour alone with SCENARIO=NAME (roaming,
# ingenieria, supervisor, sin-redis, segunda-instancia, reloj).
# Usage: bash scripts/chaos.sh [extra plant-sim args]
source "$(dirname "$0")/lib.sh"

SEED="${SEED:-$(( $(date +%s) % 100000 ))}"
DEVICES="${DEVICES:-6}"
SPOOLS="${SPOOLS:-600}"
MINUTES="${MINUTES:-3}"
# A fleet drains in 1-5 min (a Sheets-only one hands the writer role from tablet to tablet);
# past this the run stops waiting and the checker counts what never landed.
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-480}"
OUT="$TARGET_DIR/chaos/seed-$SEED"
EXTRA=()
if [[ -n "${SCENARIO:-}" ]]; then
  EXTRA=(--scenario "$SCENARIO")
fi

step "plant-sim: build"
cargo build -p zeues-tests --bin plant-sim
rm -rf "$OUT"
mkdir -p "$OUT"
step "plant-sim --devices $DEVICES --spools $SPOOLS --minutes $MINUTES --seed $SEED --chaos ${EXTRA[*]}"
if ! "$TARGET_DIR/debug/plant-sim" --devices "$DEVICES" --spools "$SPOOLS" --minutes "$MINUTES" \
      --seed "$SEED" --chaos "${EXTRA[@]}" --drain-timeout "$DRAIN_TIMEOUT" --dir "$OUT" "$@" > "$OUT/summary.txt" 2> "$OUT/plant-sim.log"; then
  tail -n 60 "$OUT/plant-sim.log" >&2
  cat "$OUT/summary.txt" >&2
  echo "plant-sim found violations (or failed) with SEED=$SEED; logs and the checker's inputs in $OUT" >&2
  exit 1
fi
grep -E '^plant-sim: (seed|work stopped|drained|supervisor|sin Redis)' "$OUT/plant-sim.log" || true
cat "$OUT/summary.txt"
