#!/usr/bin/env bash
# Pipeline overhead on the microservice stack: for small jobs, the time from
# the upload being complete (the job row's created_at, written by the gateway
# in the transaction that accepts the upload) to the MP3 being stored (its
# finished_at, written by the converter in the transaction that records the
# MP3), minus the engine's own time for the same file (`video2mp3 convert`
# on a local file, less the program's start-up, both measured with
# hyperfine). What is left is what the system adds: the outbox relay,
# RabbitMQ, the converter's claim, reading the video from and writing the MP3
# to the PostgreSQL blob store, and the commits. Jobs go one at a time, so
# queueing does not count. Also each role's peak RSS. See bench/README.md.
#
#   bench/pipeline.sh [BINARY]      (default: build/video2mp3 under the repo root)
#
# Knobs (environment): JOBS=50, WARMUP=3, OUT=bench/results/pipeline.md.
# Starts a private stack (scripts/stack, free ports, a temporary state
# directory) and removes it at the end. Public tools only: curl, jq, psql,
# ffmpeg, hyperfine.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
JOBS=${JOBS:-50}
WARMUP=${WARMUP:-3}
OUT=$(realpath -m "${OUT:-$repo_root/bench/results/pipeline.md}")
TARGET_P50_MS=50

preflight curl jq psql ffmpeg hyperfine
mkdir -p "$(dirname "$OUT")"

# A state directory PostgreSQL (running as its own user) can reach.
state=$(mktemp -d /tmp/v2m-bench-stack.XXXXXX)
chmod 755 "$state"
export V2M_STACK_DIR=$state V2M_STACK_BIN=$BINARY V2M_OPEN_REGISTRATION=true V2M_ARGON2_OPS=1 \
    V2M_ARGON2_MEMORY_KIB=8192 V2M_CONCURRENCY=1
for p in GATEWAY AUTH CONVERTER NOTIFIER POSTGRES AMQP RABBITMQ_UI SMTP INBOX; do export "V2M_STACK_${p}_PORT=0"; done
cleanup() { bash "$repo_root/scripts/stack" clean >/dev/null 2>&1 || true; rm -rf "$state"; }
trap cleanup EXIT

log "starting a private stack in $state"
bash "$repo_root/scripts/stack" up >"$state/up.log" 2>&1 || { cat "$state/up.log" >&2; die "the stack did not start"; }
# shellcheck disable=SC1091
. "$state/env"
url=$V2M_PUBLIC_URL
email=bench@example.com
password='benchmark password'
curl -sf -X POST "$url/v1/users" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" >/dev/null || die "cannot register"
token=$(curl -sf -X POST "$url/login" -u "$email:$password") || die "cannot sign in"

# A small job: 2 s of a 440 Hz tone with a tiny video track, as an MP4.
input=$state/small.mp4
ffmpeg -nostdin -v error -y -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=2" \
    -f lavfi -i "testsrc=size=160x120:rate=15:duration=2" -c:a aac -b:a 96k -c:v libx264 -preset ultrafast \
    -shortest "$input"

submit() {
    local id state
    id=$(curl -sf -X POST -F "file=@$input" -H "Authorization: Bearer $token" "$url/upload" | jq -r .job_id)
    [ -n "$id" ] && [ "$id" != null ] || die "upload refused"
    for _ in $(seq 3000); do
        state=$(curl -sf -H "Authorization: Bearer $token" "$url/v1/jobs/$id" | jq -r .state)
        case $state in
            done) echo "$id"; return 0 ;;
            failed) die "job $id failed" ;;
        esac
        sleep 0.01
    done
    die "job $id did not finish"
}

log "warming up ($WARMUP jobs)"
for _ in $(seq "$WARMUP"); do submit >/dev/null; done
log "timing $JOBS jobs, one at a time"
ids=()
for _ in $(seq "$JOBS"); do ids+=("$(submit)"); done
in_list=$(printf "'%s'," "${ids[@]}")
# Milliseconds from accepted to stored, per job, sorted.
mapfile -t totals < <(psql -X -q -t -A "$V2M_DATABASE_URL" \
    -c "SELECT finished_at - created_at FROM jobs WHERE id IN (${in_list%,}) ORDER BY 1")
[ "${#totals[@]}" -eq "$JOBS" ] || die "expected $JOBS finished jobs, found ${#totals[@]}"
pct() { local i=$(( ($1 * ${#totals[@]} + 99) / 100 - 1 )); ((i < 0)) && i=0; echo "${totals[$i]}"; }
p50=$(pct 50)
p95=$(pct 95)

log "timing the engine on the same file"
hyperfine -N --warmup 3 --runs 30 --export-json "$state/engine.json" \
    "$BINARY convert --quiet $input -o $state/out.mp3" "$BINARY --version" >/dev/null
engine_ms=$(jq '(.results[0].median - .results[1].median) * 1000 | round' "$state/engine.json")
startup_ms=$(jq '.results[1].median * 1000 | round' "$state/engine.json")

rss() { # peak RSS of a role, in MiB
    local pid
    read -r pid _ <"$state/$1.pid"
    awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"
}

{
    echo "# Pipeline overhead on the stack ($(date -u +%Y-%m-%d), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
    echo
    echo "$JOBS jobs of a 2 s MP4 (AAC + H.264), one at a time, through gateway → outbox relay → RabbitMQ →"
    echo "converter (PostgreSQL store and blob store) on a private \`scripts/stack\`."
    echo
    echo "| | ms |"
    echo "|---|---|"
    echo "| accepted → MP3 stored, p50 | $p50 |"
    echo "| accepted → MP3 stored, p95 | $p95 |"
    echo "| engine alone (\`video2mp3 convert\`, median, start-up of ${startup_ms} ms removed) | $engine_ms |"
    echo "| **overhead p50** (target ≤ $TARGET_P50_MS) | **$((p50 - engine_ms))** |"
    echo "| **overhead p95** | **$((p95 - engine_ms))** |"
    echo
    echo "Peak RSS (MiB): gateway $(rss gateway), auth $(rss auth), converter $(rss converter), notifier $(rss notifier)."
} | tee "$OUT"
