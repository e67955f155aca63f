#!/usr/bin/env bash
# The timing-sensitive suites N times in a row (default 10), as the developers' guide asks before
# a stop: exactly_once, sync_engine, every redis_* suite and the engine's unit tests. Run it while
# the machine is busy (e.g. beside a plant-vopr sweep or a release build). Prints one line per
# iteration; each iteration's full output is in target/timing-loop/N.log.
# Usage: bash scripts/timing-loop.sh [N]
source "$(dirname "$0")/lib.sh"

N="${1:-10}"
OUT="$TARGET_DIR/timing-loop"
mkdir -p "$OUT"
FILTER='binary(exactly_once) | binary(sync_engine) | binary(/^redis_/) | (package(zeues-sync) & test(/engine::/))'
failed=0
for i in $(seq 1 "$N"); do
  begin=$SECONDS
  if cargo nextest run --workspace --no-fail-fast -E "$FILTER" > "$OUT/$i.log" 2>&1; then
    rc=0
  else
    rc=1
    failed=$((failed + 1))
  fi
  echo "iteration $i: rc=$rc $((SECONDS - begin)) s $(grep -E 'Summary' "$OUT/$i.log" | sed 's/^ *//')"
done
echo "$failed of $N iterations failed"
exit $((failed > 0))
