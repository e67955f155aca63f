#!/usr/bin/env bash
# Proof that the Sheets emulator speaks the real protocol (tests/FIDELITY.md):
#   1. a pinned venv with google-api-python-client (its bundled sheets.v4.json is the schema source);
#   2. the sheets-emulator binary;
#   3. the shared scenario (tests/fidelity/scenario.json) driven by googleapiclient against the binary;
#   4. the same scenario driven by the google-sheets4 crate against an in-process emulator;
#   5. every response both runs produced validated against the discovery document's schemas
#      (and the request schemas the emulator embeds checked against the same document);
#   6. the emulator's own unit and behaviour tests.
# Usage: bash scripts/fidelity.sh   (idempotent; only installs what is missing)
source "$(dirname "$0")/lib.sh"

WORK="$TARGET_DIR/fidelity"
VENV="$WORK/venv"
REQ="$ROOT/tests/fidelity/requirements.txt"
mkdir -p "$WORK/logs"
rm -f "$WORK"/logs/*.json

step "python venv ($REQ)"
if ! command -v python3 >/dev/null 2>&1; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    # Debian's python3 ships venv separately.
    rm -rf "$VENV"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
    python3 -m venv "$VENV"
  fi
fi
stamp="$VENV/.requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  timed "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
  echo "$want" > "$stamp"
else
  echo "present"
fi

step "request schemas embedded in the emulator match the discovery document"
"$VENV/bin/python" "$ROOT/tests/fidelity/extract_request_schemas.py" --check

step "build sheets-emulator"
timed cargo build -p zeues-tests --bin sheets-emulator
EMU_BIN="$TARGET_DIR/debug/sheets-emulator"

step "googleapiclient conformance against the sheets-emulator binary"
out="$WORK/emulator.out"
"$EMU_BIN" --record > "$out" 2> "$WORK/emulator.err" &
EMU_PID=$!
trap 'kill "$EMU_PID" 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")
  [[ -n "$port" ]] && break
  sleep 0.1
done
if [[ -z "$port" ]]; then
  echo "sheets-emulator did not start:" >&2
  cat "$out" "$WORK/emulator.err" >&2
  exit 1
fi
echo "sheets-emulator pid $EMU_PID on port $port"
timed "$VENV/bin/python" "$ROOT/tests/fidelity/conformance.py" \
  --base-url "http://127.0.0.1:$port/" \
  --scenario "$ROOT/tests/fidelity/scenario.json" \
  --workdir "$WORK" \
  --log-out "$WORK/logs/googleapiclient-responses.json"
kill "$EMU_PID"
wait "$EMU_PID" 2>/dev/null || true
trap - EXIT

step "google-sheets4 conformance (in-process emulator)"
FIDELITY_LOG_DIR="$WORK/logs" timed cargo test -p zeues-tests --test sheets_conformance_google_sheets4 -- --nocapture

step "discovery-schema validation of every recorded response"
timed "$VENV/bin/python" "$ROOT/tests/fidelity/validate_schemas.py" "$WORK"/logs/*.json

step "emulator unit and behaviour tests"
timed cargo test -p zeues-tests --lib emulator
timed cargo test -p zeues-tests --test sheets_emulator
timed cargo test -p zeues-tests --test sheets_emulator_props
