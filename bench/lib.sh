# shellcheck shell=bash
# The start the stack and upload benchmarks share, sourced with the script's
# arguments after `set -euo pipefail`:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
#
# Sets repo_root and BINARY (the first argument, default build/video2mp3 under
# the repo root, as an absolute path) and defines log, die and preflight.

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BINARY=$(realpath "${1:-$repo_root/build/video2mp3}")

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# preflight TOOL...: dies unless every TOOL is on PATH and BINARY is executable.
preflight() {
    local tool
    for tool in "$@"; do command -v "$tool" >/dev/null || die "'$tool' not found; run 'make deps'"; done
    [ -x "$BINARY" ] || die "no executable at $BINARY; run 'make build'"
}
