#!/usr/bin/env bash
# The image's build stage installs the Debian -dev package of every
# dependency the CMake build looks for (offline: no Docker; label image).
#
#   tests/image/check_build_packages.sh DOCKERFILE SOURCE_DIR
#
# Every find_package, pkg_check_modules / pkg_search_module module,
# find_library, find_path, find_file and find_program of SOURCE_DIR/CMakeLists.txt and src/**/CMakeLists.txt (the
# tests are not built in the image) must be in the table below, and its
# package in the build stage's apt-get install; a dependency the table does
# not know fails, so a new one in CMakeLists.txt cannot be forgotten here. The
# table is checked against this machine: each package is a Debian 12 package
# (installed here by scripts/install-deps.sh), and for pkg-config modules,
# libraries and headers, the one that owns the .pc, the lib*.so or the header.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 DOCKERFILE SOURCE_DIR" >&2; exit 2; }
dockerfile=$1 source_dir=$2
# shellcheck source=tests/image/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# KIND:NAME as CMake asks for it -> the Debian 12 package that provides it;
# "-" for what the image's build does not need, with the reason.
declare -A kPackageOf=(
    [package:PkgConfig]=pkg-config
    [package:Threads]=-             # the C library's, part of the compiler's libc6-dev
    [package:CLI11]=libcli11-dev
    [package:nlohmann_json]=nlohmann-json3-dev
    [package:OpenSSL]=libssl-dev
    [package:spdlog]=libspdlog-dev
    [package:prometheus-cpp]=prometheus-cpp-dev
    [package:rabbitmq-c]=librabbitmq-dev
    [package:CURL]=libcurl4-openssl-dev
    [package:GTest]=-               # tests only; the image builds with -DV2M_BUILD_TESTS=OFF
    [pkgconfig:libavformat]=libavformat-dev
    [pkgconfig:libavcodec]=libavcodec-dev
    [pkgconfig:libswresample]=libswresample-dev
    [pkgconfig:libavutil]=libavutil-dev
    [pkgconfig:libjwt]=libjwt-dev
    [pkgconfig:cpp-httplib]=libcpp-httplib-dev
    [pkgconfig:libsodium]=libsodium-dev
    [pkgconfig:libpq]=libpq-dev
    [library:mp3lame]=libmp3lame-dev
    [library:soci_core]=libsoci-dev
    [header:soci/soci.h]=libsoci-dev
    [program:clang-tidy]=-          # only with -DV2M_CLANG_TIDY=ON
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Dependencies SOURCE_DIR: "KIND:NAME" for each dependency the build looks
# for. The calls may span lines; comments are dropped first.
Dependencies() {
    find "$1" -maxdepth 1 -name CMakeLists.txt
    [ -d "$1/src" ] && find "$1/src" -name CMakeLists.txt -o -name '*.cmake'
} 2>/dev/null
{
    for file in $(Dependencies "$source_dir" | sort); do
        sed 's/#.*//' "$file"
    done
} | tr '\n' ' ' | { grep -oE '(find_package|pkg_check_modules|pkg_search_module|find_library|find_path|find_file|find_program)[[:space:]]*\([^)]*\)' || true; } |
    awk '{
        call = $0; sub(/[[:space:]]*\(.*/, "", call)
        args = $0; sub(/^[^(]*\(/, "", args); sub(/\)$/, "", args)
        n = split(args, a, /[[:space:]]+/); m = 0
        for (i = 1; i <= n; i++) if (a[i] != "") w[++m] = a[i]
        if (call == "find_package") { print "package:" w[1] }
        else if (call == "pkg_check_modules" || call == "pkg_search_module") {
            for (i = 2; i <= m; i++) {
                if (w[i] ~ /^(REQUIRED|QUIET|IMPORTED_TARGET|GLOBAL|NO_CMAKE_PATH|NO_CMAKE_ENVIRONMENT_PATH)$/) continue
                mod = w[i]; sub(/[<>=].*/, "", mod); print "pkgconfig:" mod
            }
        } else {
            kind = (call == "find_library") ? "library" : (call == "find_program") ? "program" : "header"
            i = 2; if (w[i] == "NAMES") i++
            print kind ":" w[i]
        }
        delete w
    }' | sort -u >"$work/dependencies"
[ -s "$work/dependencies" ] || Fail "found no find_package/pkg_check_modules in $source_dir/CMakeLists.txt"

Parse "$dockerfile"
build=$(BuildStage "$dockerfile") || { Fail "no stage copies /usr/local/bin/video2mp3 into the final stage"; build=0; }
AptPackages "$dockerfile" "$build" >"$work/build_packages"
PackageDb "$work/db"
cut -f1 "$work/db" >"$work/known"

# The toolchain.
InSet "$work/build_packages" cmake || Fail "the build stage does not install cmake"
InSet "$work/build_packages" g++ || InSet "$work/build_packages" build-essential ||
    Fail "the build stage installs no C++ compiler (g++ or build-essential)"
InSet "$work/build_packages" make || InSet "$work/build_packages" ninja-build ||
    InSet "$work/build_packages" build-essential || Fail "the build stage installs neither make nor ninja-build"

needed=0
while read -r dependency; do
    if [ -z "${kPackageOf[$dependency]+set}" ]; then
        Fail "CMake looks for ${dependency#*:} (${dependency%%:*}), which this check does not know: add its Debian" \
            "-dev package to kPackageOf in $0 and to the build stage of the Dockerfile"
        continue
    fi
    package=${kPackageOf[$dependency]}
    [ "$package" = - ] && continue
    needed=$((needed + 1))
    InSet "$work/build_packages" "$package" ||
        Fail "CMake looks for ${dependency#*:}: the build stage must install $package"
    InSet "$work/known" "$package" ||
        Fail "$package (for ${dependency#*:}) is not a Debian 12 package installed here (misspelt?)"
    # Which file proves it, when one can be found without CMake.
    file=
    case $dependency in
        pkgconfig:*) dir=$(pkg-config --variable=pcfiledir "${dependency#*:}" 2>/dev/null || true)
                     [ -n "$dir" ] && file="$dir/${dependency#*:}.pc" ;;
        library:*) file=$(gcc -print-file-name="lib${dependency#*:}.so" 2>/dev/null || true) ;;
        header:*) file=/usr/include/${dependency#*:} ;;
        *) continue ;;
    esac
    if [ -n "$file" ] && [ -e "$file" ]; then
        # The file itself, not what a lib*.so link points to (the runtime package's).
        printf '%s\t%s\t%s\n' "$(realpath -s "$file")" "$package" "${dependency#*:}" >>"$work/proofs"
    else
        Fail "${dependency#*:} is not on this machine: cannot confirm it comes from $package (run scripts/install-deps.sh)"
    fi
done <"$work/dependencies"
if [ -s "$work/proofs" ]; then
    # shellcheck disable=SC2046 # one argument per file
    paste "$work/proofs" <(Owners $(cut -f1 "$work/proofs") | cut -f2) |
        while IFS=$'\t' read -r file package name owner; do
            [ "$owner" = "$package" ] || echo "$name comes from $owner here ($file), not from $package as the table says"
        done >"$work/wrong"
    Reports "$work/wrong"
fi

# Each package the build stage installs exists in Debian 12.
while read -r package; do
    InSet "$work/known" "$package" || Fail "the build stage installs '$package', which is not installed here (misspelt?)"
done <"$work/build_packages"

echo "CMake dependencies: $(wc -l <"$work/dependencies") ($needed built in the image): $(tr '\n' ' ' <"$work/dependencies")"
Finish check_build_packages
