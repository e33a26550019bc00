#!/bin/bash
# The image's HEALTHCHECK: GET /healthz on the address the running role
# serves. One image runs every role, each on its own port, so the address is
# read from the video2mp3 process itself, as the program reads it: the role is
# its first argument; --listen / --admin-listen on its command line win over
# V2M_LISTEN / V2M_ADMIN_LISTEN in its environment, and those over the role's
# default. One-off commands (migrate, user, convert, …) serve nothing: healthy.
#
# Exit 0 healthy, 1 unhealthy (what Docker expects). Uses only bash and curl.
# V2M_HEALTHCHECK_PID names the process to check (the tests); by default it is
# PID 1, or the first video2mp3 process when PID 1 is an init (docker --init).
set -u

unhealthy() {
    echo "video2mp3-healthcheck: $*" >&2
    exit 1
}

is_video2mp3() {
    local argv0
    { IFS= read -r -d '' argv0 <"/proc/$1/cmdline"; } 2>/dev/null || return 1
    [ "${argv0##*/}" = video2mp3 ]
}

pid=${V2M_HEALTHCHECK_PID:-}
if [ -z "$pid" ]; then
    for candidate in 1 /proc/[0-9]*; do
        candidate=${candidate#/proc/}
        if is_video2mp3 "$candidate"; then
            pid=$candidate
            break
        fi
    done
    [ -n "$pid" ] || unhealthy "no video2mp3 process"
fi
is_video2mp3 "$pid" || unhealthy "process $pid is not video2mp3 (gone?)"

mapfile -d '' -t argv <"/proc/$pid/cmdline" || unhealthy "cannot read the command line of $pid"
role=${argv[1]:-}

# The address flag on the command line (CLI11 takes both spellings).
from_flag=
for ((i = 2; i < ${#argv[@]}; i++)); do
    case ${argv[i]} in
        --listen | --admin-listen) from_flag=${argv[i + 1]:-} ;;
        --listen=* | --admin-listen=*) from_flag=${argv[i]#*=} ;;
    esac
done

# The variable in the process's own environment; ours when that is unreadable.
env_value() {
    local entry
    if [ -r "/proc/$pid/environ" ]; then
        while IFS= read -r -d '' entry; do
            case $entry in "$1="*) printf '%s' "${entry#*=}" && return ;; esac
        done <"/proc/$pid/environ"
    else
        printf '%s' "${!1:-}"
    fi
}

case $role in
    all | gateway) variable=V2M_LISTEN default=127.0.0.1:8080 ;;
    auth) variable=V2M_LISTEN default=127.0.0.1:8081 ;;
    converter) variable=V2M_ADMIN_LISTEN default=127.0.0.1:9091 ;;
    notifier) variable=V2M_ADMIN_LISTEN default=127.0.0.1:9092 ;;
    *) exit 0 ;;
esac
address=${from_flag:-$(env_value "$variable")}
address=${address:-$default}

# host:port as the program parses it: a bare port is loopback, an empty host
# every interface; a wildcard is reached on loopback.
if [[ $address == *:* ]]; then
    host=${address%:*} port=${address##*:}
else
    host=127.0.0.1 port=$address
fi
case $host in
    "" | 0.0.0.0) host=127.0.0.1 ;;
    "[::]" | "::") host="[::1]" ;;
    *:*) [[ $host == \[*\] ]] || host="[$host]" ;;
esac

# --noproxy: an HTTP(S)_PROXY set for the service must not carry the check.
# Docker reserves exit codes other than 0 and 1: curl's own become 1.
url="http://$host:$port/healthz"
curl --fail --silent --show-error --noproxy '*' --max-time 4 --output /dev/null "$url" ||
    unhealthy "$role: GET $url failed"
