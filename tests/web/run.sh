#!/usr/bin/env bash
# The web app's browser test against a real server: starts `BIN all` (open registration, a fresh
# data directory, a free loopback port), waits for /readyz, runs tests/web/ui_test.js with
# Debian's Chromium, then stops the server (SIGTERM) and removes the data. The server takes
# uploads up to 16 MiB (V2M_MAX_UPLOAD_BYTES; the test knows it as V2M_UI_MAX_UPLOAD_BYTES): the
# test's long input stays under it, its "too large" file goes over it.
#
#   tests/web/run.sh BIN FIXTURES_DIR ARTIFACTS_DIR
#
# Needs: node, tests/web/node_modules (npm ci in tests/web), /usr/bin/chromium (or $CHROMIUM),
# ffmpeg, ffprobe, curl, and FIXTURES_DIR/h264_aac.mp4 and no_audio.mp4 (tests/fixtures/generate.sh).
# Exit 0: every step passed; 1: a failure (the server's log is printed); 2: wrong usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() { echo "web/run.sh: FAIL: $*" >&2; exit 1; }
[ $# -eq 3 ] || { echo "usage: $0 BIN FIXTURES_DIR ARTIFACTS_DIR" >&2; exit 2; }
bin=$(realpath -e -- "$1") || fail "no binary $1"
fixtures=$(realpath -e -- "$2") || fail "no fixtures directory $2"
mkdir -p -- "$3"
artifacts=$(realpath -e -- "$3")
chromium=${CHROMIUM:-/usr/bin/chromium}

command -v node >/dev/null || fail "no node: run scripts/install-deps.sh"
[ -f "$here/node_modules/playwright-core/package.json" ] ||
    fail "no $here/node_modules/playwright-core: run scripts/install-deps.sh (or: npm ci --prefix $here)"
[ -x "$chromium" ] || fail "no $chromium: run scripts/install-deps.sh (Debian's chromium)"
command -v ffprobe >/dev/null || fail "no ffprobe: run scripts/install-deps.sh"
command -v ffmpeg >/dev/null || fail "no ffmpeg: run scripts/install-deps.sh"
command -v curl >/dev/null || fail "no curl: run scripts/install-deps.sh"
for f in h264_aac.mp4 no_audio.mp4; do
    [ -f "$fixtures/$f" ] || fail "no $fixtures/$f: generate the fixtures (tests/fixtures/generate.sh)"
done

state=$(mktemp -d "${TMPDIR:-/tmp}/v2m-web-test.XXXXXX")
log=$artifacts/server.log
: >"$log"
pid=
stop_server() {
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "web/run.sh: the server did not stop within 30 s of SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    pid=
}
cleanup() {
    stop_server
    rm -rf -- "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free port, found by binding port 0; V2M_PUBLIC_URL names it too (the server may check a
# request's Origin against it). Should another process take the port first, try another.
# Other V2M_* settings from the caller's environment are dropped: the test wants the defaults,
# but for the upload limit (16 MiB: the test's long FLAC, ~11 MB, is under it; its big.mp4 over it).
for v in "${!V2M_@}"; do unset "$v"; done
max_upload=$((16 * 1024 * 1024))
free_port() {
    node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
url=
for attempt in 1 2 3; do
    port=$(free_port)
    url=http://127.0.0.1:$port
    V2M_LISTEN=127.0.0.1:$port \
        V2M_PUBLIC_URL=$url \
        V2M_DATA_DIR="$state/data" \
        V2M_OPEN_REGISTRATION=true \
        V2M_ARGON2_OPS=1 \
        V2M_ARGON2_MEMORY_KIB=8192 \
        V2M_CONCURRENCY=2 \
        V2M_MAX_UPLOAD_BYTES=$max_upload \
        V2M_LOG_FORMAT=text \
        "$bin" all >"$log" 2>&1 &
    pid=$!
    ready=
    for _ in $(seq 600); do
        kill -0 "$pid" 2>/dev/null || break
        if curl -sf -o /dev/null "$url/readyz"; then ready=1; break; fi
        sleep 0.1
    done
    [ -z "$ready" ] || break
    if kill -0 "$pid" 2>/dev/null; then cat "$log" >&2; fail "the server was not ready within 60 s"; fi
    wait "$pid" 2>/dev/null || true
    pid=
    grep -qiE 'address already in use|bind' "$log" && [ "$attempt" -lt 3 ] || { cat "$log" >&2; fail "the server exited at start"; }
    echo "web/run.sh: port $port was taken; trying another" >&2
done
echo "web/run.sh: video2mp3 all at $url (data in $state, log in $log)"

status=0
CHROMIUM=$chromium V2M_UI_MAX_UPLOAD_BYTES=$max_upload node "$here/ui_test.js" "$url" "$fixtures" "$artifacts" || status=$?
stop_server
if [ "$status" -ne 0 ]; then
    echo "web/run.sh: the server's log (last 60 lines of $log):" >&2
    tail -n 60 "$log" >&2
    fail "the browser test failed (exit $status); screenshots in $artifacts"
fi
echo "web/run.sh: ok"
