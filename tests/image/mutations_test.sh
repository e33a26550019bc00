#!/usr/bin/env bash
# Each image check fails when what it guards is broken (label image): the
# checks run on copies of the Dockerfile, .dockerignore, CMakeLists.txt and the
# sources with one thing broken at a time, and must fail, saying why.
#
#   tests/image/mutations_test.sh BINARY SOURCE_DIR
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BINARY SOURCE_DIR" >&2; exit 2; }
binary=$(realpath "$1") source_dir=$(realpath "$2")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/image/lib.sh
. "$here/lib.sh"

work=$(mktemp -d /tmp/v2m-image-mutations.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The pristine context: what the checks read, copied.
pristine=$work/pristine
mkdir -p "$pristine/deploy" "$pristine/docs"
cp -a "$source_dir/CMakeLists.txt" "$source_dir/.dockerignore" "$source_dir/src" "$source_dir/migrations" "$pristine/"
cp -a "$source_dir/docs/openapi.yaml" "$pristine/docs/"
cp -a "$source_dir/deploy/docker" "$pristine/deploy/"
df=deploy/docker/Dockerfile

# RunCheck NAME DIR: runs image check NAME on the context DIR.
RunCheck() {
    local dir=$2
    case $1 in
        runtime) bash "$here/check_runtime_packages.sh" "$binary" "$dir/$df" "$dir" ;;
        build) bash "$here/check_build_packages.sh" "$dir/$df" "$dir" ;;
        structure) bash "$here/check_dockerfile.sh" "$dir/$df" "$dir" "$binary" ;;
        healthcheck) bash "$here/healthcheck_test.sh" "$binary" "$dir/$df" "$dir/deploy/docker/healthcheck.sh" ;;
    esac
}

for check in runtime build structure; do
    RunCheck "$check" "$pristine" >"$work/pristine.$check.out" 2>&1 ||
        { cat "$work/pristine.$check.out" >&2; Fail "the $check check fails on the unchanged copy"; }
done

# Mutant CHECK EXPECTED SHELL_COMMAND: in a fresh copy, SHELL_COMMAND breaks
# something (run there; it must change a file); then CHECK must fail with
# EXPECTED in what it says.
cases=0
Mutant() {
    local check=$1 expected=$2 command=$3 dir
    cases=$((cases + 1))
    dir=$work/case$cases
    cp -a "$pristine" "$dir"
    (cd "$dir" && eval "$command")
    if diff -rq "$pristine" "$dir" >/dev/null && [ "$(stat -c %a "$pristine/deploy/docker/healthcheck.sh")" = "$(stat -c %a "$dir/deploy/docker/healthcheck.sh")" ]; then
        Fail "case $cases ($command) changed nothing: fix the case"
    elif RunCheck "$check" "$dir" >"$dir.out" 2>&1; then
        Fail "the $check check passed after: $command"
    elif ! grep -qF -- "$expected" "$dir.out"; then
        cat "$dir.out" >&2
        Fail "the $check check failed after '$command', but without saying '$expected'"
    else
        echo "ok: $check fails after: $command"
    fi
    rm -rf "$dir"
}

# The runtime stage's packages.
Mutant runtime "the binary links libavcodec.so.59" "sed -i 's/ libavcodec59 / /' $df"
Mutant runtime "libbluray.so.2 comes from libbluray2, which the runtime stage does not install" "sed -i 's/libavformat59 //' $df"
Mutant runtime "name its package libsoci-postgresql4.0" "sed -i 's/ libsoci-postgresql4.0 / /' $df"
Mutant runtime "must install ca-certificates" "sed -i 's/ca-certificates //' $df"
Mutant runtime "'libpq55', which is not a Debian 12 package" "sed -i 's/ libpq5 / libpq55 /' $df"
Mutant runtime "libsoci_odbc.so.4.0 by name: name its package libsoci-odbc4.0" \
    "printf '%s\n' 'void F(Url& out) { out.soci_connect = \"odbc://DSN=x\"; }' >>src/store/database_url.cpp"
# The build stage's packages.
Mutant build "CMake looks for libfoo (pkgconfig), which this check does not know" \
    "sed -i 's/^find_package(Threads REQUIRED)/&\npkg_check_modules(FOO REQUIRED IMPORTED_TARGET libfoo)/' CMakeLists.txt"
Mutant build "CMake looks for ZLIB (package), which this check does not know" \
    "printf 'find_package(ZLIB\n  REQUIRED)\n' >>src/engine/CMakeLists.txt"
Mutant build "the build stage must install libsoci-dev" "sed -i 's/^      libsoci-dev \\\\$/      \\\\/' $df"
Mutant build "the build stage does not install cmake" "sed -i 's/g++ make cmake/g++ make/' $df"
# The structure and the context.
Mutant structure "not debian:bookworm-slim" "sed -i 's/^FROM debian:bookworm-slim/FROM debian:bookworm/' $df"
Mutant structure "not Debian 12" "sed -i 's/^FROM debian:bookworm AS build/FROM debian:trixie AS build/' $df"
Mutant structure "is root" "sed -i 's/^USER 10001:10001/USER 0/' $df"
Mutant structure "give the numeric uid" "sed -i 's/^USER 10001:10001/USER video2mp3/' $df"
Mutant structure "no HEALTHCHECK" "sed -i '/^HEALTHCHECK/,/CMD/d' $df"
Mutant structure "not [\"video2mp3\"]" "sed -i 's/^ENTRYPOINT .*/ENTRYPOINT [\"sh\", \"-c\"]/' $df"
Mutant structure "'serve', which is not a subcommand" "sed -i 's/^CMD .*/CMD [\"serve\"]/' $df"
Mutant structure "no keys, certificates or secrets" "touch deploy/docker/dev.pem && sed -i 's#^COPY deploy/docker/healthcheck.sh.*#&\nCOPY deploy/docker/dev.pem /etc/#' $df"
Mutant structure "holds a URL with a password" "sed -i 's#^ENV V2M_DATA_DIR=.*#&\nENV V2M_DATABASE_URL=postgresql://v2m:hunter2@db/v2m#' $df"
Mutant structure "lacks --no-install-recommends" "sed -i 's/apt-get install -y --no-install-recommends \\\\$/apt-get install -y \\\\/' $df"
Mutant structure "port 9092" "sed -i 's/^EXPOSE 8080 8081 9091 9092/EXPOSE 8080 8081 9091/' $df"
Mutant structure "turn the tests off" "sed -i 's/ -DV2M_BUILD_TESTS=OFF//' $df"
Mutant structure "ENV sets V2M_DATADIR" "sed -i 's/^ENV V2M_DATA_DIR=/ENV V2M_DATADIR=/' $df"
Mutant structure "is not executable" "chmod -x deploy/docker/healthcheck.sh"
Mutant structure "lets build/video2mp3 into the build context" "sed -i '/^\*$/d' .dockerignore"
Mutant structure "lets src/app/jwt.pem into the build context" "sed -i '/^\*\*\/\*\.pem$/d' .dockerignore"
Mutant structure "leaves src/main.cpp out of the context" "sed -i '/^!src\/$/d' .dockerignore"
# The healthcheck: without curl in the image, and a check that always passes.
Mutant healthcheck "unhealthy on a running 'all'" "sed -i 's/ca-certificates curl/ca-certificates/' $df"
Mutant healthcheck "healthy on a stopped process" "sed -i 's/^set -u\$/exit 0/' deploy/docker/healthcheck.sh"

echo "$cases broken copies"
Finish mutations_test
