#!/usr/bin/env bash
# Upload ingest through the gateway against a durable local write of the same
# bytes, in one run: `curl -F file=@…` to `video2mp3 all` (streamed into the
# file blob store, hashed, fsynced, then job + outbox in one transaction)
# against `dd … conv=fsync` into the same data directory. Also the server's
# peak RSS growth while it ingests. See bench/README.md.
#
#   bench/upload.sh [BINARY]      (default: build/video2mp3 under the repo root)
#
# Knobs (environment): SIZE_MIB=600 (the upload), RUNS=5, BENCH_DIR=bench/.cache,
# OUT=bench/results/upload.md. Public tools only: curl, dd, hyperfine, jq.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
SIZE_MIB=${SIZE_MIB:-600}
RUNS=${RUNS:-5}
BENCH_DIR=$(realpath -m "${BENCH_DIR:-$repo_root/bench/.cache}")
OUT=$(realpath -m "${OUT:-$repo_root/bench/results/upload.md}")
TARGET_RSS_GROWTH_KIB=$((16 * 1024))

preflight curl dd hyperfine jq

mkdir -p "$BENCH_DIR" "$(dirname "$OUT")"
input=$BENCH_DIR/upload-${SIZE_MIB}MiB.bin
if [ ! -f "$input" ]; then
    log "writing ${SIZE_MIB} MiB of random bytes to $input"
    head -c "$((SIZE_MIB * 1048576))" /dev/urandom > "$input.tmp" && mv "$input.tmp" "$input"
fi

work=$(mktemp -d "$BENCH_DIR/upload-run.XXXXXX")
server_pid=
cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    [ -z "$server_pid" ] || wait "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
       shuf -i 20000-60000 -n 1)
url=http://127.0.0.1:$port
V2M_DATA_DIR=$work/data V2M_LISTEN=127.0.0.1:$port V2M_LOG_FORMAT=json V2M_ARGON2_OPS=1 \
    V2M_ARGON2_MEMORY_KIB=8192 V2M_CONCURRENCY=1 "$BINARY" all > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$url/readyz" >/dev/null || die "the server did not become ready (see $work/server.log)"
curl -sf -X POST "$url/v1/users" -d '{"email":"bench@example.com","password":"benchmark password"}' >/dev/null
export V2M_BENCH_TOKEN=$(curl -sf -X POST "$url/login" -u 'bench@example.com:benchmark password')

upload_cmd="curl -sf -o /dev/null -X POST -F 'file=@$input' -H \"Authorization: Bearer \$V2M_BENCH_TOKEN\" $url/upload"
dd_cmd="dd if='$input' of='$work/data/dd-copy' bs=1M conv=fsync status=none"

# Peak RSS growth during one upload: reset the kernel's high-water mark
# (clear_refs 5), upload, read VmHWM against the RSS before.
rss_before=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")
echo 5 > "/proc/$server_pid/clear_refs"
bash -c "$upload_cmd"
peak=$(awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status")
growth=$((peak - rss_before))
log "RSS before ${rss_before} KiB, peak during the upload ${peak} KiB: growth ${growth} KiB"

log "hyperfine: $RUNS runs each, alternating is not possible in hyperfine; a warm-up run each"
hyperfine --warmup 1 --runs "$RUNS" --export-json "${OUT%.md}.json" \
    --prepare "rm -f '$work/data/dd-copy'; find '$work/data/blobs' -type f -size +1M -delete" \
    -n upload "$upload_cmd" -n dd "$dd_cmd" >&2
median() { jq -r ".results[] | select(.command == \"$1\") | .median" "${OUT%.md}.json"; }
up=$(median upload)
dd_s=$(median dd)
ratio=$(awk -v a="$up" -v b="$dd_s" 'BEGIN { printf "%.2f", a / b }')
mibps() { awk -v s="$1" -v m="$SIZE_MIB" 'BEGIN { printf "%.0f", m / s }'; }

{
    echo "# Upload ingest ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
    echo
    echo "${SIZE_MIB} MiB through \`curl -F file=@…\` to \`POST /upload\` against \`dd conv=fsync\` of the same bytes"
    echo "into the same data directory; median of $RUNS runs."
    echo
    echo "| | median | throughput |"
    echo "|---|---|---|"
    printf '| upload (gateway → file blob store) | %.2f s | %s MiB/s |\n' "$up" "$(mibps "$up")"
    printf '| dd conv=fsync | %.2f s | %s MiB/s |\n' "$dd_s" "$(mibps "$dd_s")"
    echo
    echo "- ratio upload / dd: **$ratio**"
    echo "- server peak RSS growth during one upload: **$((growth / 1024)) MiB** ($growth KiB; target < 16 MiB)"
} > "$OUT"
cat "$OUT"
[ "$growth" -lt "$TARGET_RSS_GROWTH_KIB" ] || log "peak RSS growth over the 16 MiB target"
