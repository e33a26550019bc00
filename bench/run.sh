#!/usr/bin/env bash
# Side-by-side benchmark: `video2mp3 convert` against the ffmpeg command line
# tool, same input, same settings, in one run. See bench/README.md.
#
#   bench/run.sh [BINARY]        (default: build/video2mp3 under the repo root)
#
# Knobs (environment):
#   RUNS=5            timed runs per command (hyperfine --runs), after 1 warmup
#   CLIP_SECONDS=600  length of the generated 720p30 H.264 + AAC clip
#   LARGE_MIN_BYTES=1073741824
#                     the large input is the clip concatenated with itself
#                     (stream copy) until it is at least this big
#   LARGE=1           0 skips the large-input measurement
#   BENCH_DIR=bench/.cache           generated media (cached) and scratch output
#   OUT=bench/results/latest.md      the report (raw hyperfine JSON goes next to it)
#   STRICT=0          1 makes the script exit 3 when a target is missed
#
# Public tools only: ffmpeg/ffprobe, hyperfine, GNU time (/usr/bin/time -v), jq.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

BINARY=$(abspath "${1:-$repo_root/build/video2mp3}")
RUNS=${RUNS:-5}
CLIP_SECONDS=${CLIP_SECONDS:-600}
LARGE_MIN_BYTES=${LARGE_MIN_BYTES:-1073741824}
LARGE=${LARGE:-1}
BENCH_DIR=$(abspath "${BENCH_DIR:-$repo_root/bench/.cache}")
OUT=$(abspath "${OUT:-$repo_root/bench/results/latest.md}")
STRICT=${STRICT:-0}

# Targets from the issue: ours/ffmpeg median wall-time ratio, and peak RSS of
# video2mp3 on the large input (64 MiB, as GNU time reports KiB).
TARGET_RATIO=1.0
TARGET_RSS_KIB=$((64 * 1024))

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# --- preflight ----------------------------------------------------------------

for tool in ffmpeg ffprobe hyperfine jq; do
    command -v "$tool" >/dev/null || die "'$tool' not found; run 'make deps' (scripts/install-deps.sh)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) not found; run 'make deps'"
[ -x "$BINARY" ] || die "no executable at $BINARY; run 'make build' or pass the binary as the first argument"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
[[ "$CLIP_SECONDS" =~ ^[1-9][0-9]*$ ]] || die "CLIP_SECONDS must be a positive integer, got '$CLIP_SECONDS'"
[[ "$LARGE_MIN_BYTES" =~ ^[1-9][0-9]*$ ]] || die "LARGE_MIN_BYTES must be a positive integer, got '$LARGE_MIN_BYTES'"

media_dir=$BENCH_DIR/media
run_dir=$BENCH_DIR/run
mkdir -p "$media_dir" "$run_dir" "$(dirname "$OUT")"
json_prefix=${OUT%.md}

# Partially written media never survive as a cache entry: they are written
# under a temporary name and renamed when complete.
tmp_files=()
cleanup() { [ ${#tmp_files[@]} -eq 0 ] || rm -f -- "${tmp_files[@]}"; }
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# --- (a) the 10-minute 720p30 H.264 + AAC clip ------------------------------------

# Music-like stereo content, so LAME has real work to do: a plucked melody
# (note every 1/4 s in the left channel, every 1/3 s in the right, with an
# overtone and a decaying envelope), a bass line changing every 2 s, and a
# little white noise for the high bands. Peaks around -3 dBFS.
note() { printf 'pow(2,mod(floor(t*%s)*%s,12)/12)' "$1" "$2"; }
bass="0.15*sin(2*PI*55*$(note 0.5 5)*t)"
left="0.25*exp(-6*mod(t,1/4))*(sin(2*PI*220*$(note 4 7)*t)+0.4*sin(4*PI*220*$(note 4 7)*t))+$bass+0.03*(2*random(0)-1)"
right="0.25*exp(-5*mod(t,1/3))*(sin(2*PI*330*$(note 3 5)*t)+0.3*sin(6*PI*330*$(note 3 5)*t))+$bass+0.03*(2*random(1)-1)"

# The name carries every parameter, so changing one regenerates.
clip=$media_dir/clip-v1-${CLIP_SECONDS}s-1280x720p30-h264-aac48k.mp4
clip_note=
if [ -s "$clip" ]; then
    clip_note="cached; generated in $(cat "$clip.gen-seconds" 2>/dev/null || echo '?') s"
    log "clip: $clip ($clip_note)"
else
    log "clip: generating ${CLIP_SECONDS} s of 1280x720 30 fps H.264 + AAC into $clip ..."
    tmp=$media_dir/.clip-$$.tmp.mp4
    tmp_files+=("$tmp")
    t0=$(now)
    ffmpeg -nostdin -hide_banner -y -v error -stats \
        -f lavfi -i "testsrc2=size=1280x720:rate=30" \
        -f lavfi -i "aevalsrc=exprs='$left|$right':sample_rate=48000" \
        -t "$CLIP_SECONDS" -map 0:v -map 1:a \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
        -c:a aac -b:a 160k -ac 2 \
        -movflags +faststart -f mp4 "$tmp"
    secs=$(elapsed "$t0")
    mv -f -- "$tmp" "$clip"
    echo "$secs" >"$clip.gen-seconds"
    clip_note="generated in this run in $secs s"
    log "clip: $clip_note"
fi

file_size() { stat -c %s -- "$1"; }
duration_of() { ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 -- "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }

clip_bytes=$(file_size "$clip")
clip_duration=$(duration_of "$clip")

# --- (b) the >= 1 GiB input: the clip concatenated --------------------------------

large=
large_note=
if [ "$LARGE" = 1 ]; then
    copies=$(((LARGE_MIN_BYTES + clip_bytes - 1) / clip_bytes))
    [ "$copies" -ge 1 ] || copies=1
    large=$media_dir/large-v2-${CLIP_SECONDS}s-x${copies}.mp4
    if [ -s "$large" ]; then
        large_note="cached; generated in $(cat "$large.gen-seconds" 2>/dev/null || echo '?') s"
        log "large input: $large ($large_note)"
    else
        log "large input: concatenating $copies copies of the clip into $large ..."
        list=$media_dir/.concat-$$.txt
        tmp=$media_dir/.large-$$.tmp.mp4
        tmp_files+=("$list" "$tmp")
        clip_name=$(basename "$clip")
        for ((i = 0; i < copies; i++)); do printf "file '%s'\n" "$clip_name"; done >"$list"
        t0=$(now)
        # Video is stream-copied. Audio is decoded and re-encoded (cheap): copied
        # AAC would carry each copy's priming packet into the previous copy's
        # last one, and the overlapping timestamps make ffmpeg itself complain.
        ffmpeg -nostdin -hide_banner -y -v error -f concat -safe 0 -i "$list" \
            -map 0:v -c:v copy -map 0:a -c:a aac -b:a 160k -ac 2 -f mp4 "$tmp"
        secs=$(elapsed "$t0")
        mv -f -- "$tmp" "$large"
        rm -f -- "$list"
        echo "$secs" >"$large.gen-seconds"
        large_note="generated in this run in $secs s"
        log "large input: $large_note"
    fi
    large_bytes=$(file_size "$large")
    [ "$large_bytes" -ge "$LARGE_MIN_BYTES" ] ||
        die "large input is $large_bytes bytes, below LARGE_MIN_BYTES=$LARGE_MIN_BYTES; delete it and rerun"
    large_duration=$(duration_of "$large")
fi

# --- helpers ------------------------------------------------------------------

# The two commands of a pair, as argument arrays. $1 = input, $2 = output,
# $3 = "quality" or "bitrate".
ours_cmd() {
    local setting=(--quality 2)
    [ "$3" = bitrate ] && setting=(--bitrate 192k)
    cmd=("$BINARY" convert "$1" -o "$2" "${setting[@]}" --quiet)
}
ffmpeg_cmd() {
    local setting=(-q:a 2)
    [ "$3" = bitrate ] && setting=(-b:a 192k)
    cmd=(ffmpeg -nostdin -y -v error -i "$1" -vn -c:a libmp3lame "${setting[@]}" "$2")
}
shell_quote() { printf '%q ' "$@" | sed 's/ $//'; }

# Never compare against a broken output: it must decode without a single
# error, and what decodes must last as long as the input (within a second).
# The decoded length counts, not the header's: a truncated VBR MP3 still
# declares the full length in its Xing header and decodes without an error.
check_mp3() { # file expected_duration
    local ef=$run_dir/decode-stderr.txt progress d
    progress=$(ffmpeg -nostdin -v error -progress pipe:1 -i "$1" -f null - 2>"$ef") ||
        die "$1 does not decode: $(cat "$ef")"
    [ ! -s "$ef" ] || die "$1 decodes with errors: $(cat "$ef")"
    d=$(awk -F= '$1 == "out_time_us" { us = $2 } END { printf "%.3f", us / 1e6 }' <<<"$progress")
    awk -v d="$d" -v e="$2" 'BEGIN { x = d - e; if (x < 0) x = -x; exit !(x <= 1.0) }' ||
        die "$1 decodes to $d s of audio, the input lasts $2 s"
}

# Runs the command in ${cmd[@]} under GNU time; sets rss_kib, wall_s and cpu_s.
measure() {
    local tf=$run_dir/time.txt ef=$run_dir/stderr.txt
    if ! /usr/bin/time -v -o "$tf" -- "${cmd[@]}" 2>"$ef"; then
        die "failed: $(shell_quote "${cmd[@]}")"$'\n'"$(cat "$ef" "$tf")"
    fi
    # Both run quiet (-v error / --quiet): anything on stderr is a problem.
    [ ! -s "$ef" ] || die "$(shell_quote "${cmd[@]}") reported:"$'\n'"$(cat "$ef")"
    rss_kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tf")
    wall_s=$(awk -F'): ' '/Elapsed \(wall clock\)/ {
        n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$tf")
    cpu_s=$(awk -F': ' '/(User|System) time \(seconds\)/ { s += $2 } END { printf "%.2f", s }' "$tf")
}

fmt_mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
fmt_s() { awk -v s="$1" 'BEGIN { printf "%.2f s", s }'; }

# --- (c) + (d) the 10-minute clip: peak RSS, then hyperfine -----------------------

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_bench=$(now)
rows=()
misses=()
declare -A setting_label=([quality]="--quality 2 / -q:a 2" [bitrate]="--bitrate 192k / -b:a 192k")
for setting in quality bitrate; do
    ours_out=$run_dir/$setting-video2mp3.mp3
    ff_out=$run_dir/$setting-ffmpeg.mp3

    # One run of each under GNU time: peak RSS, and a first check of the outputs.
    ours_cmd "$clip" "$ours_out" "$setting"
    ours_str=$(shell_quote "${cmd[@]}")
    log "peak RSS: $ours_str"
    measure
    ours_rss=$rss_kib
    check_mp3 "$ours_out" "$clip_duration"
    ffmpeg_cmd "$clip" "$ff_out" "$setting"
    ff_str=$(shell_quote "${cmd[@]}")
    log "peak RSS: $ff_str"
    measure
    ff_rss=$rss_kib
    check_mp3 "$ff_out" "$clip_duration"

    json=$json_prefix-$setting.json
    log "hyperfine ($setting): --warmup 1 --runs $RUNS"
    hyperfine --shell=bash --warmup 1 --runs "$RUNS" --export-json "$json" \
        -n "video2mp3 ${setting_label[$setting]%% / *}" "$ours_str" \
        -n "ffmpeg ${setting_label[$setting]##* / }" "$ff_str" >&2
    check_mp3 "$ours_out" "$clip_duration"
    check_mp3 "$ff_out" "$clip_duration"

    read -r ours_med ours_sd ours_cpu < <(jq -r '.results[0] | "\(.median) \(.stddev) \(.user + .system)"' "$json")
    read -r ff_med ff_sd ff_cpu < <(jq -r '.results[1] | "\(.median) \(.stddev) \(.user + .system)"' "$json")
    ratio=$(awk -v a="$ours_med" -v b="$ff_med" 'BEGIN { printf "%.2f", a / b }')
    verdict=pass
    awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { exit !(r <= t) }' || { verdict=MISS; misses+=("ratio $setting"); }
    rows+=("| ${setting_label[$setting]} | $(fmt_s "$ours_med") ± $(fmt_s "$ours_sd") | $(fmt_s "$ff_med") ± $(fmt_s "$ff_sd") | **$ratio** ($verdict) | $(fmt_s "$ours_cpu") / $(fmt_s "$ff_cpu") | $(fmt_mib "$ours_rss") | $(fmt_mib "$ff_rss") |")
done

# --- (d) the large input: peak RSS and wall time, one run each --------------------

large_rows=()
if [ -n "$large" ]; then
    ours_cmd "$large" "$run_dir/large-video2mp3.mp3" quality
    log "large input: $(shell_quote "${cmd[@]}")"
    measure
    ours_l_rss=$rss_kib ours_l_wall=$wall_s ours_l_cpu=$cpu_s
    check_mp3 "$run_dir/large-video2mp3.mp3" "$large_duration"
    ffmpeg_cmd "$large" "$run_dir/large-ffmpeg.mp3" quality
    log "large input: $(shell_quote "${cmd[@]}")"
    measure
    ff_l_rss=$rss_kib ff_l_wall=$wall_s ff_l_cpu=$cpu_s
    check_mp3 "$run_dir/large-ffmpeg.mp3" "$large_duration"
    verdict=pass
    [ "$ours_l_rss" -le "$TARGET_RSS_KIB" ] || { verdict=MISS; misses+=("large-input RSS"); }
    large_rows+=("| video2mp3 --quality 2 | $(fmt_s "$ours_l_wall") | $(fmt_s "$ours_l_cpu") | **$(fmt_mib "$ours_l_rss")** ($verdict) |")
    large_rows+=("| ffmpeg -q:a 2 | $(fmt_s "$ff_l_wall") | $(fmt_s "$ff_l_cpu") | $(fmt_mib "$ff_l_rss") |")
fi
bench_secs=$(elapsed "$t_bench")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- (e) the report ------------------------------------------------------------

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem_total=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
ours_version=$("$BINARY" --version | paste -sd ';' | sed 's/;/; /g')
ffmpeg_version=$(ffmpeg -version | sed -n '1s/ Copyright.*//p')
hyperfine_version=$(hyperfine --version)
git_rev=$(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$repo_root" diff --quiet HEAD -- src 2>/dev/null || git_rev="$git_rev (src/ modified)"

report=$(
    echo "# video2mp3 vs ffmpeg: benchmark"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $git_rev; binary \`$BINARY\`"
    echo "- machine: $(nproc) CPUs ($cpu_model), $mem_total RAM; load average $load_before before, $load_after after"
    echo "- versions: $ours_version; $ffmpeg_version; $hyperfine_version"
    echo "- input: $(basename "$clip"), $(mib "$clip_bytes") MiB, $(printf '%.0f' "$clip_duration") s, 1280x720 30 fps H.264 + 48 kHz stereo AAC 160k ($clip_note)"
    echo
    echo "## ${CLIP_SECONDS}-second clip: hyperfine, 1 warmup + $RUNS runs per command"
    echo
    echo "| setting (ours / ffmpeg) | video2mp3 median ± σ | ffmpeg median ± σ | ratio ours/ffmpeg (target ≤ $TARGET_RATIO) | CPU user+sys, mean (ours / ffmpeg) | video2mp3 peak RSS | ffmpeg peak RSS |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    if [ -n "$large" ]; then
        echo "## Large input: one run each under /usr/bin/time -v"
        echo
        echo "$(basename "$large"): $(mib "$large_bytes") MiB ($large_bytes bytes), $(printf '%.0f' "$large_duration") s; $copies copies of the clip joined with the concat demuxer, video stream-copied, audio re-encoded to AAC 160k ($large_note)."
        echo
        echo "| command | wall time | CPU user+sys | peak RSS (target for video2mp3 ≤ 64 MiB) |"
        echo "|---|---|---|---|"
        printf '%s\n' "${large_rows[@]}"
        echo
    fi
    echo "## Commands"
    echo
    echo '```'
    ours_cmd IN.mp4 OUT.mp3 quality; shell_quote "${cmd[@]}"; echo
    ffmpeg_cmd IN.mp4 OUT.mp3 quality; shell_quote "${cmd[@]}"; echo
    ours_cmd IN.mp4 OUT.mp3 bitrate; shell_quote "${cmd[@]}"; echo
    ffmpeg_cmd IN.mp4 OUT.mp3 bitrate; shell_quote "${cmd[@]}"; echo
    echo '```'
    echo
    echo "Wall times are hyperfine medians; peak RSS is GNU time's \"Maximum resident set size\" from a separate run."
    if awk -v l="${load_before%% *}" -v n="$(nproc)" 'BEGIN { exit !(l >= n / 2) }'; then
        echo "The machine was busy (load average ${load_before%% *} on $(nproc) CPUs): wall times are noisy, a ratio within a σ of 1.0 is a tie, and the single large-input runs say little about speed; CPU time is the steadier figure."
    fi
    echo "Every output was checked to decode without errors (\`ffmpeg -v error -i OUT -f null -\`) to as many seconds of audio as the input has (±1 s)."
    echo "Raw hyperfine data: $(basename "$json_prefix")-quality.json, $(basename "$json_prefix")-bitrate.json. Measurement took $bench_secs s."
    if [ ${#misses[@]} -eq 0 ]; then
        echo
        echo "All targets met."
    else
        echo
        echo "Targets missed: ${misses[*]}."
    fi
)
printf '%s\n' "$report" >"$OUT"
printf '\n%s\n\n' "$report"
log "report written to $OUT"

if [ "$STRICT" = 1 ] && [ ${#misses[@]} -gt 0 ]; then
    exit 3
fi
