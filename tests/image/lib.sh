# shellcheck shell=bash
# Helpers of the image tests (sourced): reading a Dockerfile without Docker,
# and asking this machine's dpkg which Debian package provides what. This
# machine is Debian 12 like the image, and `make test` installed (through
# scripts/install-deps.sh) every package the image names, so the package
# names, their files and their dependencies here are those of the image.

# An unexpected failure of a command (set -e) says where, rather than ending
# the check in silence.
set -E
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: unexpected failure of: $BASH_COMMAND" >&2' ERR

# Failures are collected, not fatal: a check reports everything wrong at once.
failures=0
Fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
# Reports FILE: each line of FILE is a failure.
Reports() {
    local line
    while IFS= read -r line; do Fail "$line"; done <"$1"
}
Finish() {
    local name=$1
    if [ "$failures" -gt 0 ]; then
        echo "$name: $failures failure(s)" >&2
        exit 1
    fi
    echo "$name: ok"
}

# Instructions DOCKERFILE: one line per instruction, "STAGE<TAB>KEYWORD<TAB>ARGUMENTS":
# continuation lines joined, comment lines dropped (also inside a continued
# instruction, as Docker does), STAGE counting the FROMs from 1. Parse
# DOCKERFILE first keeps the result for the calls that follow.
declare -A parsed=()
Parse() {
    parsed[$1]=$(ParseDockerfile "$1")
}
Instructions() {
    if [ -n "${parsed[$1]+set}" ]; then
        printf '%s\n' "${parsed[$1]}"
    else
        ParseDockerfile "$1"
    fi
}
ParseDockerfile() {
    awk '
        function emit(text,    keyword) {
            sub(/^[[:space:]]+/, "", text)
            if (text == "") return
            keyword = text; sub(/[[:space:]].*/, "", keyword); keyword = toupper(keyword)
            sub(/^[^[:space:]]+[[:space:]]*/, "", text)
            if (keyword == "FROM") stage++
            printf "%d\t%s\t%s\n", stage, keyword, text
        }
        /^[[:space:]]*#/ { next }
        {
            if (match($0, /\\[[:space:]]*$/)) { pending = pending substr($0, 1, RSTART - 1) " "; next }
            emit(pending $0); pending = ""
        }
        END { emit(pending) }
    ' "$1"
}

# StageArgs DOCKERFILE STAGE KEYWORD: the arguments of every KEYWORD instruction of STAGE.
StageArgs() {
    local stage keyword args
    while IFS=$'\t' read -r stage keyword args; do
        if [ "$stage" = "$2" ] && [ "$keyword" = "$3" ]; then printf '%s\n' "$args"; fi
    done <<<"$(Instructions "$1")"
}

# FinalStage DOCKERFILE: the number of the last stage (the image).
FinalStage() {
    local stage last=0 rest
    while IFS=$'\t' read -r stage rest; do last=${stage:-0}; done <<<"$(Instructions "$1")"
    echo "$last"
}

# StageBase DOCKERFILE STAGE: the image a stage starts FROM.
StageBase() {
    local word
    for word in $(StageArgs "$1" "$2" FROM); do
        [[ $word == --* ]] || { echo "$word"; return; }
    done
}

# BuildStage DOCKERFILE: the stage the final stage copies the binary from
# (COPY --from=NAME … /usr/local/bin/video2mp3), as a number.
BuildStage() {
    local final name='' args stage keyword
    local -a words
    final=$(FinalStage "$1")
    while read -r args; do
        read -r -a words <<<"$args"
        if [[ ${words[0]:-} == --from=* ]] && [ "${words[-1]}" = /usr/local/bin/video2mp3 ]; then
            name=${words[0]#--from=}
        fi
    done <<<"$(StageArgs "$1" "$final" COPY)"
    [ -n "$name" ] || return 1
    if [[ $name =~ ^[0-9]+$ ]]; then
        echo $((name + 1))
        return
    fi
    while IFS=$'\t' read -r stage keyword args; do
        [ "$keyword" = FROM ] || continue
        read -r -a words <<<"$args"
        if [ ${#words[@]} -ge 3 ] && [ "${words[-2]^^}" = AS ] && [ "${words[-1]}" = "$name" ]; then
            echo "$stage"
            return
        fi
    done <<<"$(Instructions "$1")"
    return 1
}

# AptInstallCommands DOCKERFILE STAGE: each `apt-get install …` command of the
# stage's RUN instructions, one per line.
AptInstallCommands() {
    StageArgs "$1" "$2" RUN | awk '{
        gsub(/&&|\|\||;/, "\n")
        n = split($0, commands, "\n")
        for (i = 1; i <= n; i++) if (commands[i] ~ /(^|[[:space:]])apt-get[[:space:]]/ && commands[i] ~ /[[:space:]]install([[:space:]]|$)/) {
            c = commands[i]; gsub(/^[[:space:]]+|[[:space:]]+$/, "", c); print c
        }
    }'
}

# AptPackages DOCKERFILE STAGE: the packages the stage installs with apt-get
# (versions and architectures stripped), one per line, sorted.
AptPackages() {
    AptInstallCommands "$1" "$2" | awk '{
        seen_install = 0
        for (i = 1; i <= NF; i++) {
            if (!seen_install) { if ($i == "install") seen_install = 1; continue }
            if ($i ~ /^-/) continue
            p = $i; sub(/[=:].*/, "", p); print p
        }
    }' | sort -u
}

# PackageDb FILE: every package installed here, one per line:
# "NAME<TAB>ESSENTIAL<TAB>PRE-DEPENDS, DEPENDS<TAB>PROVIDES<TAB>PRIORITY".
PackageDb() {
    dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Essential}\t${Pre-Depends}, ${Depends}\t${Provides}\t${Priority}\n' |
        awk -F'\t' '$1 ~ /^ii/ { print $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 }' >"$1"
}

# Closure DB PACKAGE…: the packages apt installs for PACKAGE… with
# --no-install-recommends: them, their Pre-Depends and Depends, recursively.
# Of alternatives (a | b) apt takes the first; a virtual package is taken as
# the package installed here that provides it, of the highest priority (awk:
# mawk, required, not gawk). An approximation of apt, good for libraries:
# it can only err on alternatives a base image satisfies otherwise.
Closure() {
    local db=$1
    shift
    printf '%s\n' "$@" | awk -F'\t' '
        BEGIN { rank["required"] = 1; rank["important"] = 2; rank["standard"] = 3; rank["optional"] = 4 }
        FNR == NR {
            installed[$2] = 1; depends[$2] = $4
            r = ($6 in rank) ? rank[$6] : 5
            n = split($5, provided, /,[[:space:]]*/)
            for (i = 1; i <= n; i++) {
                v = provided[i]; sub(/[[:space:]]*\(.*/, "", v)
                if (v != "" && (!(v in provider) || r < provider_rank[v])) { provider[v] = $2; provider_rank[v] = r }
            }
            next
        }
        { queue[++tail] = $0 }
        END {
            while (head < tail) {
                p = queue[++head]
                if (p == "" || p in closure) continue
                closure[p] = 1
                n = split(depends[p], items, /,/)
                for (i = 1; i <= n; i++) {
                    first = items[i]; sub(/\|.*/, "", first); sub(/\(.*/, "", first); sub(/:.*/, "", first)
                    gsub(/[[:space:]]/, "", first)
                    if (first == "") continue
                    if (!(first in installed) && (first in provider)) first = provider[first]
                    if (!(first in closure)) queue[++tail] = first
                }
            }
            for (p in closure) print p
        }
    ' <(awk -F'\t' '{ print "x\t" $0 }' "$db") - | sort
}

# EssentialSet DB: the packages every Debian image has (debian:bookworm-slim
# included): the Essential ones and what they depend on.
EssentialSet() {
    # shellcheck disable=SC2046 # one argument per package
    Closure "$1" $(awk -F'\t' '$2 == "yes" { print $1 }' "$1")
}

# LddPaths FILE: the absolute path of every library the dynamic loader
# resolves for FILE (the loader itself included; the vDSO is the kernel's).
# An unresolved library is printed as "NOTFOUND:name".
LddPaths() {
    ldd "$1" | awk '
        $2 == "=>" && $3 == "not" { print "NOTFOUND:" $1; next }
        $2 == "=>" && $3 ~ /^\// { print $3; next }
        $1 ~ /^\// { print $1 }
    '
}

# NeededSonames FILE: the libraries FILE itself names (DT_NEEDED).
NeededSonames() {
    LC_ALL=C readelf -d "$1" | awk '/\(NEEDED\)/ { s = $NF; gsub(/[][]/, "", s); print s }'
}

# Owners PATH…: "PATH<TAB>PACKAGE" for each PATH, PACKAGE "?" when no package
# owns it. One dpkg -S for all; with merged /usr a file may be registered
# under /lib or /usr/lib, and the loader reports either.
Owners() {
    local -a candidates=()
    local p
    [ $# -gt 0 ] || return 0
    for p in "$@"; do
        case $p in
            /usr/*) candidates+=("$p" "${p#/usr}") ;;
            *) candidates+=("$p" "/usr$p") ;;
        esac
    done
    {
        printf 'Q\t%s\n' "$@"
        { LC_ALL=C dpkg -S "${candidates[@]}" 2>/dev/null || true; } | awk '!/^diversion/ {
            i = index($0, ": "); packages = substr($0, 1, i - 1); path = substr($0, i + 2)
            sub(/,.*/, "", packages); sub(/:[^:]*$/, "", packages); print "A\t" path "\t" packages }'
    } | awk -F'\t' '
        $1 == "Q" { query[++n] = $2; next }
        $1 == "A" { owner[$2] = $3; if ($2 ~ /^\/usr\//) owner[substr($2, 5)] = $3; else owner["/usr" $2] = $3 }
        END { for (i = 1; i <= n; i++) { p = query[i]; print p "\t" ((p in owner) ? owner[p] : "?") } }
    ' | while IFS=$'\t' read -r path package; do
        if [ "$package" = "?" ] && [ -e "$path" ]; then
            # A symbolic link the package does not list: ask for its target.
            local target
            target=$(realpath "$path")
            package=$({ LC_ALL=C dpkg -S "$target" "/usr$target" "${target#/usr}" 2>/dev/null || true; } |
                awk '!/^diversion/ { i = index($0, ": "); p = substr($0, 1, i - 1); sub(/,.*/, "", p); sub(/:[^:]*$/, "", p); print p; exit }')
            package=${package:-?}
        fi
        printf '%s\t%s\n' "$path" "$package"
    done
}

# InSet SET_FILE WORD: whether WORD is a line of SET_FILE.
InSet() {
    grep -qxF -- "$2" "$1"
}
