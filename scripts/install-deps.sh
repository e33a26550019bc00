#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and benchmarking
# video2mp3 needs.
# Idempotent: only missing packages are installed, and `apt-get update` runs
# at most once. Run as root, or as a user with sudo.
set -euo pipefail

packages=(
    # toolchain
    build-essential cmake pkg-config git ca-certificates
    clang-format clang-tidy
    # the engine
    libavformat-dev libavcodec-dev libswresample-dev libavutil-dev libmp3lame-dev
    # the program
    libcli11-dev nlohmann-json3-dev libspdlog-dev prometheus-cpp-dev libcpp-httplib-dev
    libsodium-dev libjwt-dev libssl-dev
    # the production adapters: RabbitMQ (rabbitmq-c), the PostgreSQL blob store (libpq), SMTP (libcurl)
    librabbitmq-dev libpq-dev libcurl4-openssl-dev
    # the relational store: SOCI and the back-ends it loads at run time
    libsoci-dev libsoci-sqlite3-4.0 libsoci-postgresql4.0 libsoci-mysql4.0
    # tests and benchmarks
    libgtest-dev libgmock-dev ffmpeg hyperfine time jq curl sqlite3 openssl python3
    # servers the integration tests start (scripts/testenv), and what it runs them with:
    # ss (iproute2), ps/pgrep (procps); flock, setsid, runuser come with util-linux
    postgresql mariadb-server rabbitmq-server python3-aiosmtpd python3-pika iproute2 procps
    # the web app's browser test drives Debian's Chromium (tests/web)
    chromium
)

missing=()
for p in "${packages[@]}"; do
    # `dpkg-query` says "install ok installed" only for a fully installed package.
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done

# The Kubernetes manifests' tests (tests/k8s): kubectl renders them with its
# built-in kustomize. Debian's package only when there is none: a machine may
# have it from elsewhere (kubectl 1.32 owns /usr/bin/kubectl on some images,
# and Debian's kubernetes-client then fails to install over it).
command -v kubectl >/dev/null || missing+=(kubernetes-client)
# Node.js and npm run the manifests' validator (tests/k8s) and the browser
# test (tests/web); Debian's only when the machine has none of its own.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

sudo=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo=(sudo); fi
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
else
    if [ "$(id -u)" -ne 0 ] && [ ${#sudo[@]} -eq 0 ]; then
        echo "install-deps: not root and no sudo; install as root: ${missing[*]}" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The manifests' render test compares two kustomize versions: Debian 12's
# kubectl 1.20 (kustomize v2.0.3) beside the machine's own when that one is
# another. Unpacked from Debian's package into .deps/ (git-ignored), not
# installed: /usr/bin/kubectl may belong to another package.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
debian_kubectl=$here/.deps/kubernetes-client
# Best effort: without it the render test compares nothing, it still renders.
if [ ! -x "$debian_kubectl/usr/bin/kubectl" ] && ! kubectl version --client 2>/dev/null | grep -q 'v1\.20\.'; then
    echo "install-deps: Debian's kubectl 1.20 into .deps/ (the manifests' second kustomize)"
    tmp=$(mktemp -d)
    if (cd "$tmp" && apt-get download -q kubernetes-client >/dev/null 2>&1) ||
        { { [ "$(id -u)" -eq 0 ] || [ ${#sudo[@]} -gt 0 ]; } && "${sudo[@]}" apt-get update -q >/dev/null &&
            (cd "$tmp" && apt-get download -q kubernetes-client >/dev/null); }; then
        mkdir -p "$debian_kubectl"
        dpkg -x "$tmp"/kubernetes-client_*.deb "$debian_kubectl" || rm -rf "$debian_kubectl"
    else
        echo "install-deps: could not fetch Debian's kubernetes-client; the render test uses one kubectl" >&2
    fi
    rm -rf "$tmp"
fi

# The npm packages of the Node-based tests, exactly as their lock files say
# (again only when a lock file is newer than what is installed).
for dir in tests/k8s tests/web; do
    lock=$here/$dir/package-lock.json
    stamp=$here/$dir/node_modules/.package-lock.json
    [ -f "$lock" ] || continue
    if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
        echo "install-deps: npm ci in $dir"
        (cd "$here/$dir" && npm ci --no-audit --no-fund --loglevel=error) ||
            { echo "install-deps: npm ci in $dir failed (is the npm registry reachable?)" >&2; exit 1; }
    fi
done
