# Sourced by the scripts: repo root, pinned versions, PATH, and `as_root` (sudo when not root).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../.ci/versions.env
source "$ROOT/.ci/versions.env"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "need root for: $* (no sudo found)" >&2
    return 1
  fi
}

step() { printf '\n==> %s\n' "$*"; }

# Prints how long "$@" took.
timed() {
  local start=$SECONDS
  "$@"
  echo "    ($(($SECONDS - start)) s: $*)"
}
