#!/usr/bin/env bash
# `make stack` as a person uses it (scripts/stack up / status / env / down),
# on free ports in a state directory of its own: the four roles come up on
# PostgreSQL, RabbitMQ (with its UI) and the mail inbox; the stack's env manages its
# users; a video sent with the original's curl commands comes back as an MP3
# and as an email in the stack's inbox; down stops every process it started.
#
#   tests/e2e/stack_script_test.sh BINARY FIXTURE_MP4
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
binary=$(realpath "$1")
song=$(realpath "$2")
state=$(mktemp -d /tmp/v2m-stack-test.XXXXXX)
chmod 755 "$state" # PostgreSQL runs as its own user and must reach it
fail() { echo "stack_script_test: FAIL: $*" >&2; exit 1; }
cleanup() {
    V2M_STACK_DIR=$state bash "$repo_root/scripts/stack" clean >/dev/null 2>&1 || true
    rm -rf "$state"
}
trap cleanup EXIT

export V2M_STACK_DIR=$state V2M_STACK_BIN=$binary V2M_STACK_FREE_PORTS=1 V2M_ARGON2_OPS=1 \
    V2M_ARGON2_MEMORY_KIB=8192
bash "$repo_root/scripts/stack" up >"$state/up.out" 2>&1 || { cat "$state/up.out" >&2; fail "stack up"; }
grep -q "admin@example.com" "$state/up.out" || fail "up did not print the first admin"
bash "$repo_root/scripts/stack" status >/dev/null || fail "status says something is not running"
# A second up finds everything running and changes nothing.
bash "$repo_root/scripts/stack" up >"$state/up2.out" 2>&1 || { cat "$state/up2.out" >&2; fail "second up"; }

# shellcheck disable=SC1091
. "$state/env"
url=$V2M_PUBLIC_URL
[ -n "$url" ] && [ -n "${V2M_STACK_INBOX_URL:-}" ] && [ -n "${V2M_STACK_RABBITMQ_UI_URL:-}" ] ||
    fail "env lacks the URLs: $(cat "$state/env")"
curl -sf -u guest:guest "${V2M_STACK_RABBITMQ_UI_URL%/}/api/overview" >/dev/null || fail "no RabbitMQ UI"

# Users through the stack's env, as the README says.
email=stack.user@example.com
printf '%s\n' 'a long stack password' | "$binary" user add "$email" --password-stdin >/dev/null
token=$(curl -sf -X POST "$url/login" -u "$email:a long stack password") || fail "cannot sign in"
job=$(curl -sf -X POST -F "file=@$song" -H "Authorization: Bearer $token" "$url/upload") || fail "upload"
id=$(jq -r .job_id <<<"$job")
state_now=
for _ in $(seq 600); do
    state_now=$(curl -sf -H "Authorization: Bearer $token" "$url/v1/jobs/$id" | jq -r .state)
    [ "$state_now" = done ] || [ "$state_now" = failed ] && break
    sleep 0.1
done
[ "$state_now" = done ] || fail "job $id: $state_now"
fid=$(curl -sf -H "Authorization: Bearer $token" "$url/v1/jobs/$id" | jq -r .mp3_fid)
curl -sf --output "$state/song.mp3" -H "Authorization: Bearer $token" "$url/download?fid=$fid" || fail "download"
ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$state/song.mp3" | grep -qx mp3 || fail "not an MP3"

# The email, in the stack's inbox (its JSON API), to the user, naming the MP3.
found=
for _ in $(seq 300); do
    found=$(curl -sf "${V2M_STACK_INBOX_URL%/}/email" |
        jq -r --arg to "$email" '.[] | select(.to[0].address == $to) | .subject + " " + .text') || true
    [ -n "$found" ] && break
    sleep 0.1
done
[[ $found == "MP3 Download"*"$fid"* ]] || fail "no email naming $fid in the inbox: $found"

# down stops every process it started.
pids=$(cat "$state"/*.pid 2>/dev/null | cut -d' ' -f1)
bash "$repo_root/scripts/stack" down >/dev/null 2>&1 || fail "down"
for pid in $pids; do ! kill -0 "$pid" 2>/dev/null || fail "process $pid still runs after down"; done
left=$(pgrep -af -- "$state" | grep -v "stack_script_test" || true)
[ -z "$left" ] || fail "still running after down: $left"
if bash "$repo_root/scripts/stack" status >/dev/null 2>&1; then fail "status says running after down"; fi
echo "stack_script_test: ok"
