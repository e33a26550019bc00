#!/usr/bin/env bash
# The image's HEALTHCHECK script against real video2mp3 processes, with
# nothing but the commands the image has (label image).
#
#   tests/image/healthcheck_test.sh BINARY DOCKERFILE HEALTHCHECK_SCRIPT
#
# The script runs with PATH holding only the commands of the packages the
# runtime stage installs (named, their dependencies, the Essential set), as in
# the container. It must pass on `all` (address from its environment) and on
# a converter (address from --admin-listen, which wins over its environment),
# and fail on a stopped (hung) process, a process that is gone, and one that
# is not video2mp3. Run as root, it also finds the process by itself, in a PID
# namespace of its own where PID 1 is not video2mp3 (as under docker --init).
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 BINARY DOCKERFILE HEALTHCHECK_SCRIPT" >&2; exit 2; }
binary=$(realpath "$1") dockerfile=$2 script=$(realpath "$3")
# shellcheck source=tests/image/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

work=$(mktemp -d /tmp/v2m-healthcheck-test.XXXXXX)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -CONT "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

Parse "$dockerfile"
# --- the image's commands ------------------------------------------------------------
PackageDb "$work/db"
EssentialSet "$work/db" >"$work/essential"
# shellcheck disable=SC2046 # one argument per package
Closure "$work/db" $(AptPackages "$dockerfile" "$(FinalStage "$dockerfile")") >"$work/closure"
sort -u "$work/closure" "$work/essential" -o "$work/installed"
mkdir "$work/bin"
declare -A commands=()
# shellcheck disable=SC2046 # one argument per package
while read -r file; do
    if [ -x "$file" ] && [ -z "${commands[${file##*/}]:-}" ]; then commands[${file##*/}]=$file; fi
done < <({ dpkg-query -L $(cat "$work/installed") 2>/dev/null || true; } | grep -E '^(/usr)?/s?bin/[^/]+$')
ln -s -t "$work/bin" "${commands[@]}"
interpreter=$(head -n 1 "$script" | sed -nE 's/^#![[:space:]]*([^[:space:]]+).*/\1/p')
[ -n "$interpreter" ] || Fail "$script has no #! line"
owner=$(Owners "$interpreter" | cut -f2)
InSet "$work/installed" "$owner" || Fail "$script runs under $interpreter (from $owner), which the image does not have"
echo "the image's commands: $(find "$work/bin" -mindepth 1 | wc -l)"

# Check PID [VAR=value…]: the healthcheck's exit status on process PID, with
# the image's commands only.
Check() {
    local pid=$1
    shift
    env -i PATH="$work/bin" V2M_HEALTHCHECK_PID="$pid" "$@" "$script" 2>>"$work/check.err"
}

# Start NAME ADDRESS_VAR ARGS…: starts `video2mp3 ARGS…` on a free port,
# exported in ADDRESS_VAR for the ARGS' use ("{port}" in ARGS is replaced),
# and waits until it answers; sets started_pid and started_port.
Start() {
    local name=$1 port pid i
    shift
    for _ in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
        local -a args=("${@//\{port\}/$port}")
        env "${args[@]}" >"$work/$name.log" 2>&1 &
        pid=$!
        for ((i = 0; i < 100; i++)); do
            if curl -sf --noproxy '*' --max-time 2 -o /dev/null "http://127.0.0.1:$port/healthz"; then
                pids+=("$pid")
                started_pid=$pid started_port=$port
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    cat "$work/$name.log" >&2
    echo "FAIL: could not start video2mp3 $name" >&2
    exit 1
}

common=(V2M_LOG_LEVEL=warn V2M_ARGON2_OPS=1 V2M_ARGON2_MEMORY_KIB=8192 V2M_DB_WAIT=5s)

# `all`, its address in its environment.
Start all "${common[@]}" V2M_DATA_DIR="$work/all" V2M_LISTEN="127.0.0.1:{port}" "$binary" all
all_pid=$started_pid
Check "$all_pid" || Fail "unhealthy on a running 'all' (V2M_LISTEN=127.0.0.1:$started_port): $(tail -n 1 "$work/check.err" 2>/dev/null)"

# A converter, its address on its command line; its environment names another
# port, where nothing listens: the flag wins, as in the program.
Start converter "${common[@]}" V2M_DATA_DIR="$work/converter" V2M_ADMIN_LISTEN=127.0.0.1:1 \
    "$binary" converter --admin-listen "127.0.0.1:{port}"
converter_pid=$started_pid
Check "$converter_pid" || Fail "unhealthy on a running converter (--admin-listen 127.0.0.1:$started_port): $(tail -n 1 "$work/check.err")"

# Hung: the process is stopped; the kernel still accepts the connection, no
# answer comes. The check must give up within Docker's --timeout (5 s).
kill -STOP "$all_pid"
start=$SECONDS
if Check "$all_pid"; then
    Fail "healthy on a stopped process"
fi
[ $((SECONDS - start)) -le 5 ] || Fail "the check on a hung process took $((SECONDS - start)) s, more than the HEALTHCHECK's timeout"
kill -CONT "$all_pid"
Check "$all_pid" || Fail "unhealthy on 'all' after it resumed"

# Gone, and not video2mp3.
kill "$converter_pid"
wait "$converter_pid" 2>/dev/null || true
if Check "$converter_pid"; then Fail "healthy on a process that is gone"; fi
if Check $$; then Fail "healthy on a process that is not video2mp3"; fi
# Docker reads 0 healthy, 1 unhealthy: nothing else.
Check $$ && status=0 || status=$?
[ "$status" -eq 1 ] || Fail "exit status $status on failure: Docker reserves all but 0 and 1"

# Finding the process by itself, in a PID namespace where PID 1 is a shell:
# once `all` answers (asked with this machine's curl), the check runs once.
if [ "$(id -u)" -eq 0 ] && unshare --pid --fork --mount-proc true 2>/dev/null; then
    port=$((20000 + RANDOM % 20000))
    # shellcheck disable=SC2016 # the script runs in the namespace, with its own arguments
    if unshare --pid --fork --mount-proc env -i PATH="$work/bin" V2M_DATA_DIR="$work/ns" V2M_LOG_LEVEL=warn \
        V2M_ARGON2_OPS=1 V2M_ARGON2_MEMORY_KIB=8192 V2M_LISTEN=127.0.0.1:$port \
        "$work/bin/bash" -c '
            "$1" all >"$2/ns.log" 2>&1 &
            for ((i = 0; i < 100; i++)); do
                "$4" -sf --noproxy "*" --max-time 2 -o /dev/null "http://127.0.0.1:$5/healthz" && break
                sleep 0.2
            done
            "$3" 2>"$2/ns.err"; status=$?
            kill $!
            exit $status' ns "$binary" "$work" "$script" "$(command -v curl)" "$port"; then
        echo "found video2mp3 by itself in a PID namespace"
    else
        Fail "in a PID namespace, the check did not find 'all' healthy by itself: $(cat "$work/ns.err" 2>/dev/null) $(tail -n 3 "$work/ns.log")"
    fi
else
    echo "not root (or no unshare): skipped finding the process in a PID namespace of its own"
fi

Finish healthcheck_test
