#!/usr/bin/env bash
# secrets.sh [--deploy] OVERLAY: writes the files the overlay's secretGenerator
# reads, each only when it is missing (never overwriting a password or key
# that a running deployment already uses), mode 0600, in a folder git ignores.
#   minikube                    overlays/minikube/secrets: random passwords for the
#                               in-cluster PostgreSQL and RabbitMQ, the URLs made
#                               from them, maildev as the SMTP server
#   production, production-hpa  production/secrets: the external servers' URLs
#                               from V2M_K8S_DATABASE_URL, V2M_K8S_BLOB_STORE
#                               (default: the database), V2M_K8S_BROKER_URL and
#                               V2M_K8S_SMTP_URL, or CHANGE-ME placeholders to edit
# Both get a new ES256 signing key from `video2mp3 keygen` (V2M_BIN, else
# build/video2mp3, else video2mp3 on PATH; openssl when there is none).
# --deploy: also fail while a CHANGE-ME placeholder is left (make *-deploy).
# Start over: delete the folder (and, for minikube, the database volumes,
# which keep the old passwords).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
deploy=0
[ "${1:-}" = --deploy ] && { deploy=1; shift; }
overlay=${1:-}
case "$overlay" in
    minikube) dir=$here/overlays/minikube/secrets ;;
    production | production-hpa) dir=$here/production/secrets ;;
    *) echo "usage: $0 [--deploy] minikube|production|production-hpa" >&2; exit 2 ;;
esac
umask 077
mkdir -p "$dir"

Say() { echo "k8s-secrets: $*" >&2; }
Put() {  # Put NAME VALUE: writes the file unless it exists
    if [ -e "$dir/$1" ]; then
        # No trailing newline, even after an editor: the roles strip one, but
        # KEDA takes broker-url as it is, and a URL with a newline is invalid.
        local value
        value=$(<"$dir/$1")
        [ "$(wc -c <"$dir/$1")" -eq "${#value}" ] || printf '%s' "$value" >"$dir/$1"
        return 0
    fi
    printf '%s' "$2" >"$dir/$1"
    Say "wrote ${dir#"$here"/}/$1"
}
Random() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }

if [ ! -e "$dir/jwt-private-key.pem" ]; then
    bin=${V2M_BIN:-}
    [ -n "$bin" ] || { [ -x "$here/../../build/video2mp3" ] && bin=$here/../../build/video2mp3; } ||
        bin=$(command -v video2mp3 || true)
    if [ -n "$bin" ]; then
        "$bin" keygen "$dir/jwt-private-key.pem" >/dev/null
    elif command -v openssl >/dev/null; then
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/jwt-private-key.pem" 2>/dev/null
    else
        Say "no video2mp3 binary (make build, or V2M_BIN=…) and no openssl to make the signing key"
        exit 1
    fi
    Say "wrote ${dir#"$here"/}/jwt-private-key.pem"
fi

case "$overlay" in
    minikube)
        Put postgres-password "$(Random)"
        Put rabbitmq-password "$(Random)"
        pg=$(<"$dir/postgres-password")
        mq=$(<"$dir/rabbitmq-password")
        Put database-url "postgresql://video2mp3:$pg@postgres:5432/video2mp3"
        Put blob-store "postgresql://video2mp3:$pg@postgres:5432/video2mp3"
        Put broker-url "amqp://video2mp3:$mq@rabbitmq:5672/%2f"
        Put smtp-url "smtp://maildev:1025"
        ;;
    *)
        placeholder="CHANGE-ME (a URL such as"
        Put database-url "${V2M_K8S_DATABASE_URL:-$placeholder postgresql://USER:PASSWORD@HOST:5432/DB)}"
        Put blob-store "${V2M_K8S_BLOB_STORE:-$(<"$dir/database-url")}"
        Put broker-url "${V2M_K8S_BROKER_URL:-$placeholder amqp://USER:PASSWORD@HOST:5672/%2f)}"
        Put smtp-url "${V2M_K8S_SMTP_URL:-$placeholder smtp://USER:PASSWORD@HOST:587)}"
        ;;
esac

left=$(grep -l '^CHANGE-ME' "$dir"/* 2>/dev/null || true)
if [ -n "$left" ]; then
    for f in $left; do Say "placeholder left: ${f#"$here"/} (edit it before deploying)"; done
    [ "$deploy" = 0 ] || exit 1
fi
