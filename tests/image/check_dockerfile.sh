#!/usr/bin/env bash
# The Dockerfile's structure and the build context, checked without Docker
# (label image).
#
#   tests/image/check_dockerfile.sh DOCKERFILE CONTEXT_DIR BINARY
#
# CONTEXT_DIR is the build context (the repository root) with its
# .dockerignore; BINARY is a built video2mp3, asked for its roles
# (--help) and the variables it reads (env).
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 DOCKERFILE CONTEXT_DIR BINARY" >&2; exit 2; }
dockerfile=$1 context=$2 binary=$3
ignore=$context/.dockerignore
# shellcheck source=tests/image/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Squash removes every blank, for comparing JSON arrays whatever their spacing.
Squash() { tr -d '[:space:]'; }
# Last DOCKERFILE STAGE KEYWORD: the last such instruction's arguments (the one in force).
Last() { StageArgs "$1" "$2" "$3" | tail -n 1; }

Parse "$dockerfile"
final=$(FinalStage "$dockerfile")
build=$(BuildStage "$dockerfile") || { Fail "no stage's COPY --from puts the binary in /usr/local/bin/video2mp3"; build=0; }
[ "$final" -ge 2 ] || Fail "not a multi-stage build"
final_runs=$(StageArgs "$dockerfile" "$final" RUN)
final_copies=$(StageArgs "$dockerfile" "$final" COPY)

# --- bases: Debian 12, the runtime slim ------------------------------------------------
[[ $(StageBase "$dockerfile" "$final") =~ ^(docker\.io/(library/)?)?debian:bookworm-slim(@sha256:[0-9a-f]{64})?$ ]] ||
    Fail "the final stage is FROM '$(StageBase "$dockerfile" "$final")', not debian:bookworm-slim"
[[ $(StageBase "$dockerfile" "$build") =~ ^(docker\.io/(library/)?)?debian:bookworm(-slim)?(@sha256:[0-9a-f]{64})?$ ]] ||
    Fail "the build stage is FROM '$(StageBase "$dockerfile" "$build")', not Debian 12 (bookworm): its libraries must be the runtime's"

# --- the build: Release, no tests, stripped --------------------------------------------
build_runs=$(StageArgs "$dockerfile" "$build" RUN)
grep -q -- '-DCMAKE_BUILD_TYPE=Release' <<<"$build_runs" || Fail "the build stage does not configure a Release build"
grep -q -- '-DV2M_BUILD_TESTS=OFF' <<<"$build_runs" || Fail "the build stage does not turn the tests off (-DV2M_BUILD_TESTS=OFF)"
grep -qE '(^|[[:space:]])strip[[:space:]]' <<<"$build_runs" || Fail "the build stage does not strip the binary"

# --- apt: no recommends, no lists left behind -------------------------------------------
for stage in $(seq 1 "$final"); do
    while read -r command; do
        [ -n "$command" ] || continue
        [[ " $command " == *" --no-install-recommends "* ]] || Fail "stage $stage: '$command' lacks --no-install-recommends"
        [[ " $command " =~ [[:space:]](-y|--yes|--assume-yes|-[a-z]*y[a-z]*)[[:space:]] ]] || Fail "stage $stage: '$command' lacks -y"
    done < <(AptInstallCommands "$dockerfile" "$stage")
done
while read -r run; do
    [[ $run == *"apt-get install"* ]] || continue
    [[ $run == *"rm -rf /var/lib/apt/lists/"* ]] || Fail "the final stage's apt-get install leaves /var/lib/apt/lists in the image"
done < <(StageArgs "$dockerfile" "$final" RUN)

# --- a non-root user without a login shell ------------------------------------------------
user=$(Last "$dockerfile" "$final" USER)
uid=${user%%:*}
if [ -z "$user" ]; then
    Fail "the final stage has no USER: the image would run as root"
elif ! [[ $uid =~ ^[0-9]+$ ]]; then
    Fail "USER $user: give the numeric uid (Kubernetes' runAsNonRoot can only verify a number)"
elif [ "$uid" -eq 0 ]; then
    Fail "USER $user is root"
else
    grep -qE "useradd .*--uid $uid([^0-9]|$)" <<<"$final_runs" ||
        Fail "no useradd creates uid $uid"
    grep -qE "useradd .*--shell (/usr/sbin/nologin|/sbin/nologin|/bin/false)" <<<"$final_runs" ||
        Fail "the user is created with a login shell (use --shell /usr/sbin/nologin)"
fi

# --- the binary, the role as the command ------------------------------------------------------
grep -qE '^--from=[^[:space:]]+ [^[:space:]]*/video2mp3 /usr/local/bin/video2mp3$' <<<"$final_copies" ||
    Fail "the final stage does not copy the built binary to /usr/local/bin/video2mp3"
[ "$(Last "$dockerfile" "$final" ENTRYPOINT | Squash)" = '["video2mp3"]' ] ||
    Fail "ENTRYPOINT is '$(Last "$dockerfile" "$final" ENTRYPOINT)', not [\"video2mp3\"]"
cmd=$(Last "$dockerfile" "$final" CMD | Squash)
role=$(sed -nE 's/^\["([^"]+)".*\]$/\1/p' <<<"$cmd")
help_text=$("$binary" --help)
roles=$(awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }' <<<"$help_text")
if [ -z "$role" ]; then
    Fail "CMD '$cmd' is not the exec form with the role first"
elif ! grep -qxF -- "$role" <<<"$roles"; then
    Fail "CMD starts with '$role', which is not a subcommand of video2mp3 ($(tr '\n' ' ' <<<"$roles"))"
fi

# --- ports: every default port of a role is exposed ---------------------------------------------
env_text=$("$binary" env)
ports=$(awk '/^V2M_(LISTEN|ADMIN_LISTEN)=/ { on = 1; print; next } /^V2M_/ { on = 0 } on' <<<"$env_text" |
    { grep -oE '127\.0\.0\.1:[0-9]+' || true; } | cut -d: -f2 | sort -u)
[ -n "$ports" ] || Fail "video2mp3 env documents no default port for V2M_LISTEN / V2M_ADMIN_LISTEN: update this check"
exposed=" $(StageArgs "$dockerfile" "$final" EXPOSE | tr '\n' ' ' | sed 's#/tcp##g') "
for port in $ports; do
    [[ $exposed == *" $port "* ]] || Fail "port $port (a role's default) is not EXPOSEd"
done

# --- the data directory: an absolute path, a volume, the user's ---------------------------------
data_dir=$({ grep -oE '(^|[[:space:]])V2M_DATA_DIR=[^[:space:]]+' <<<"$(StageArgs "$dockerfile" "$final" ENV)" || true; } |
    tail -n 1 | sed -E 's/.*V2M_DATA_DIR=//; s/^"(.*)"$/\1/')
if [[ $data_dir != /* ]]; then
    Fail "ENV V2M_DATA_DIR is '$data_dir': give the image an absolute data directory"
else
    grep -qF "$data_dir" <<<"$(StageArgs "$dockerfile" "$final" VOLUME)" || Fail "V2M_DATA_DIR $data_dir is not a VOLUME"
    grep -qE "(-o ${uid} |chown (-R )?${uid}[: ])" <<<"$(grep -F "$data_dir" <<<"$final_runs" || true)" ||
        Fail "$data_dir is not created owned by uid $uid (install -d -o $uid … or chown $uid …)"
fi
# Every V2M_ variable the image sets is one the binary reads.
while read -r name; do
    grep -q "^$name=" <<<"$env_text" || Fail "ENV sets $name, which video2mp3 env does not list"
done < <(StageArgs "$dockerfile" "$final" ENV | grep -oE '(^|[[:space:]])V2M_[A-Z0-9_]+=' | tr -d ' =' | sort -u)

# --- the HEALTHCHECK: a file the image has, executable -------------------------------------------
healthcheck=$(Last "$dockerfile" "$final" HEALTHCHECK)
if [ -z "$healthcheck" ] || [[ $healthcheck =~ ^NONE ]]; then
    Fail "the final stage has no HEALTHCHECK"
else
    probe=$(sed -nE 's/.*CMD[[:space:]]+\[[[:space:]]*"([^"]+)".*/\1/p' <<<"$healthcheck")
    [ -n "$probe" ] || Fail "HEALTHCHECK $healthcheck: use the exec form, CMD [\"/path\", …]"
    source_file=$(StageArgs "$dockerfile" "$final" COPY | awk -v dest="$probe" '$1 !~ /^--from=/ && $NF == dest { print $(NF - 1) }')
    if [ -n "$probe" ] && [ -z "$source_file" ]; then
        Fail "the HEALTHCHECK runs $probe, which the final stage does not COPY in"
    elif [ -n "$source_file" ] && [ ! -x "$context/$source_file" ]; then
        Fail "$source_file (the HEALTHCHECK) is not executable: COPY keeps the mode"
    fi
fi

# --- no secrets, OCI labels --------------------------------------------------------------------
if grep -qP '^\d+\tADD\t' <<<"$(Instructions "$dockerfile")"; then
    Fail "ADD: use COPY (ADD fetches URLs and unpacks archives)"
fi
while read -r source; do
    if [[ $source =~ (\.pem|\.key|\.crt|\.p12|\.pfx|id_rsa[^/]*|\.env|secret[^/]*|password[^/]*)$ ]]; then
        Fail "COPY $source: no keys, certificates or secrets in the image (they come from the environment or *_FILE)"
    fi
done < <(Instructions "$dockerfile" | awk -F'\t' '$2 == "COPY" && $3 !~ /^--from=/ {
    n = split($3, w, /[[:space:]]+/); for (i = 1; i < n; i++) if (w[i] !~ /^--/) print w[i] }')
while read -r assignment; do
    name=${assignment%%=*} value=${assignment#*=}
    if [[ ${name^^} =~ (PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY|API_KEY)$ ]] && [ -n "$value" ]; then
        Fail "$name is given a value in the Dockerfile: secrets come from the environment at run time"
    fi
    if [[ $value =~ ://[^/@[:space:]]+:[^/@[:space:]]+@ ]]; then Fail "$name holds a URL with a password"; fi
done < <(Instructions "$dockerfile" | awk -F'\t' '$2 == "ENV" || $2 == "ARG" { print $3 }' | grep -oE '[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|[^[:space:]]*)')
labels=$(StageArgs "$dockerfile" "$final" LABEL)
for label in title version; do
    grep -q "org.opencontainers.image.$label=" <<<"$labels" || Fail "no org.opencontainers.image.$label label"
done

# --- the build context ------------------------------------------------------------------------------
# Excluded PATH: whether .dockerignore leaves PATH (relative to the context)
# out, as Docker reads it: the last pattern matching the path or one of its
# parent directories decides, "!" lets back in; * and ? stop at /, ** does not.
mapfile -t patterns < <(sed -E 's/^[[:space:]]+|[[:space:]]+$//g' "$ignore" 2>/dev/null | grep -vE '^(#|$)' || true)
regexes=()
for pattern in "${patterns[@]}"; do
    negated=
    [[ $pattern == '!'* ]] && negated='!' pattern=${pattern#!}
    pattern=${pattern#/} pattern=${pattern%/}
    # shellcheck disable=SC2016 # a sed program
    regex=$(sed -E 's/[].+^$(){}|[\\]/\\&/g; s#\*\*/#\x01#g; s#\*\*#\x02#g; s#\*#[^/]*#g; s#\?#[^/]#g; s#\x01#(.*/)?#g; s#\x02#.*#g' <<<"$pattern")
    regexes+=("$negated^$regex\$")
done
Excluded() {
    local path=$1 excluded=1 regex negated prefix
    for regex in "${regexes[@]}"; do
        negated=0
        [[ $regex == '!'* ]] && negated=1 regex=${regex#!}
        prefix=$path
        while :; do
            if [[ $prefix =~ $regex ]]; then
                excluded=$negated
                break
            fi
            [[ $prefix == */* ]] || break
            prefix=${prefix%/*}
        done
    done
    return $excluded
}
[ -f "$ignore" ] || Fail "no .dockerignore in $context: the context would carry build directories, data and .git"
for path in build/video2mp3 build-asan/CMakeCache.txt build-release/x .stack/env data/video2mp3.db \
    node_modules/maildev/package.json .git/HEAD bench/.cache/upload.bin bench/results/latest.md \
    key.pem src/app/jwt.pem deploy/k8s/.env; do
    Excluded "$path" || Fail ".dockerignore lets $path into the build context"
done
# What the Dockerfile copies from the context exists and is in it.
while read -r source; do
    if [ ! -e "$context/$source" ]; then
        Fail "COPY $source: no such file in the context"
        continue
    fi
    while read -r file; do
        rel=${file#"$context"/}
        if Excluded "$rel"; then Fail "COPY $source: .dockerignore leaves $rel out of the context"; fi
    done < <(find "$context/${source%/}" -type f ! -name '*.pem' ! -name '*.key' | head -n 500)
done < <(Instructions "$dockerfile" | awk -F'\t' '$2 == "COPY" && $3 !~ /^--from=/ {
    n = split($3, w, /[[:space:]]+/); for (i = 1; i < n; i++) if (w[i] !~ /^--/) print w[i] }' | sort -u)

Finish check_dockerfile
