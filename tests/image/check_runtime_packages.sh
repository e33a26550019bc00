#!/usr/bin/env bash
# The image's runtime stage installs what the binary needs, so that the two
# cannot drift apart (offline: no Docker; label image).
#
#   tests/image/check_runtime_packages.sh BINARY DOCKERFILE SOURCE_DIR
#
# "Installed by the runtime stage" means: named in its `apt-get install`, or
# brought by apt with them (Pre-Depends and Depends, recursively: no
# Recommends, as with --no-install-recommends), or part of every Debian image
# (the Essential packages and their dependencies). Then:
#  - every library `ldd BINARY` resolves comes from an installed package, and
#    each library the binary names itself (DT_NEEDED) from a package the stage
#    names: apt knows the dependencies of its packages, not of our binary;
#  - SOCI's back-ends, loaded at run time by name from the connection string
#    (which `ldd` cannot see): the schemes the store writes into its SOCI
#    connection strings (SOURCE_DIR/src/store) name the libraries
#    libsoci_<scheme>.so.<version>, whose packages the stage must name, and
#    whose own libraries must be installed too;
#  - ca-certificates, for the binary speaks TLS (libssl: smtps, https, TLS to
#    PostgreSQL) and verifies peers against the system's CA store;
#  - every package the stage names exists in Debian 12 under that name
#    (is installed here: scripts/install-deps.sh installs them all).
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 BINARY DOCKERFILE SOURCE_DIR" >&2; exit 2; }
binary=$1 dockerfile=$2 source_dir=$3
# shellcheck source=tests/image/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

Parse "$dockerfile"
final=$(FinalStage "$dockerfile")
AptPackages "$dockerfile" "$final" >"$work/named"
[ -s "$work/named" ] || Fail "the final stage installs no package with apt-get"
PackageDb "$work/db"
EssentialSet "$work/db" >"$work/essential"
# shellcheck disable=SC2046 # one argument per package
Closure "$work/db" $(cat "$work/named") >"$work/closure"
sort -u "$work/closure" "$work/essential" -o "$work/installed"
sort -u "$work/named" "$work/essential" -o "$work/named_or_base"

awk -F'\t' 'FNR == NR { known[$1] = 1; next } !($1 in known) {
    print "the runtime stage installs \x27" $1 "\x27, which is not a Debian 12 package installed here (misspelt, or renamed?)" }' \
    "$work/db" "$work/named" >"$work/problems"
Reports "$work/problems"

# What runs in the image: the binary, and the SOCI back-ends the store opens
# by the schemes of the connection strings it builds.
objects=("the binary"$'\t'"$binary")
LddPaths "$binary" >"$work/binary.ldd" || Fail "ldd $binary failed"
soci_core=$(grep -m1 '/libsoci_core\.so' "$work/binary.ldd" || true)
mapfile -t backends < <(cat "$source_dir"/src/store/*.cpp | tr '\n' ' ' |
    grep -oE 'soci_connect[[:space:]]*=[[:space:]]*"[a-z0-9_]+://' | sed -E 's/.*"([a-z0-9_]+):\/\//\1/' | sort -u)
backend_libraries=()
if [ -z "$soci_core" ]; then
    Fail "the binary does not link libsoci_core: this check no longer knows how the store loads its back-ends"
elif [ ${#backends[@]} -eq 0 ]; then
    Fail "found no SOCI connection string (soci_connect = \"<backend>://…) in $source_dir/src/store: update this check"
else
    suffix=${soci_core##*/libsoci_core}
    for backend in "${backends[@]}"; do
        library="$(dirname "$soci_core")/libsoci_${backend}${suffix}"
        if [ -e "$library" ]; then
            objects+=("SOCI's $backend back-end ($library, ${backend}://)"$'\t'"$library")
            backend_libraries+=("$library")
        else
            Fail "the store opens SOCI's '$backend' back-end, but $library is not on this machine"
        fi
    done
    echo "SOCI back-ends the store opens: ${backends[*]}"
fi

# Every library of every object, and the packages they come from (one dpkg -S).
for i in "${!objects[@]}"; do
    LddPaths "${objects[i]#*$'\t'}" >"$work/ldd.$i" || Fail "ldd ${objects[i]#*$'\t'} failed"
done
# shellcheck disable=SC2046 # one argument per path
Owners $(cat "$work"/ldd.* | grep -v '^NOTFOUND:' | sort -u) "${backend_libraries[@]}" >"$work/owners"

for i in "${!objects[@]}"; do
    what=${objects[i]%%$'\t'*}
    if grep -q '^NOTFOUND:' "$work/ldd.$i"; then
        Fail "$what: libraries not found on this machine: $(sed -n 's/^NOTFOUND://p' "$work/ldd.$i" | tr '\n' ' ')"
    fi
    awk -F'\t' -v what="$what" '
        FILENAME == ARGV[1] { installed[$1] = 1; next }
        FILENAME == ARGV[2] { owner[$1] = $2; next }
        /^NOTFOUND:/ { next }
        owner[$1] == "?" { print what ": " $1 " belongs to no Debian package: it would not be in the image"; next }
        !(owner[$1] in installed) { print what ": " $1 " comes from " owner[$1] ", which the runtime stage does not install (add it to its apt-get install)" }
        { packages[owner[$1]] = 1; n++ }
        END { m = 0; for (p in packages) m++; print n + 0 " libraries from " m " packages" >"/dev/stderr" }' \
        "$work/installed" "$work/owners" "$work/ldd.$i" >"$work/problems" 2>"$work/count"
    Reports "$work/problems"
    echo "$what: $(cat "$work/count")"
done

# The binary's own DT_NEEDED libraries: apt does not know them, so their
# packages are named.
NeededSonames "$binary" >"$work/needed"
[ -s "$work/needed" ] || Fail "readelf found no DT_NEEDED in $binary"
awk -F'\t' 'FILENAME == ARGV[1] { ok[$1] = 1; next }
    FILENAME == ARGV[2] { path[$1] = 1; next }
    FILENAME == ARGV[3] { if ($1 in path) { base = $1; sub(/.*\//, "", base); owner[base] = $2 }; next }
    !($1 in owner) { print "the binary needs " $1 ", which ldd did not resolve"; next }
    !(owner[$1] in ok) { print "the binary links " $1 " (from " owner[$1] "): name " owner[$1] " in the runtime stage\x27s apt-get install" }' \
    "$work/named_or_base" "$work/binary.ldd" "$work/owners" "$work/needed" >"$work/problems"
Reports "$work/problems"

# The back-ends themselves: nothing links them, so their packages are named.
for library in "${backend_libraries[@]}"; do
    package=$(awk -F'\t' -v p="$library" '$1 == p { print $2; exit }' "$work/owners")
    InSet "$work/named" "$package" ||
        Fail "SOCI loads $library by name: name its package $package in the runtime stage"
done

if grep -q '/libssl\.so' "$work/binary.ldd"; then
    InSet "$work/named" ca-certificates ||
        Fail "the binary speaks TLS (libssl): the runtime stage must install ca-certificates"
fi

Finish check_runtime_packages
