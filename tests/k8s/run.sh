#!/usr/bin/env bash
# run.sh BIN STEP [DIR]: the tests of the Kubernetes manifests (deploy/k8s),
# offline. BIN is the video2mp3 binary. Steps:
#   render DIR       every overlay of deploy/k8s/overlays rendered with
#                    `kubectl kustomize` into DIR/OVERLAY.yaml, from a copy of
#                    deploy/k8s whose secrets/ folders deploy/k8s/secrets.sh
#                    filled (fresh passwords and keys, placeholders for the
#                    external URLs); fails on an error or an empty result
#   schema DIR       every rendered object against the Kubernetes and KEDA
#                    schemas (validate.js)
#   schema-rejects   the broken manifests of invalid/ must each fail validate.js
#   consistency DIR  the manifests against the binary and each other (check.js),
#                    and the broken variants of check_rejects.js must each fail
#   all              every step above, in a temporary DIR (make k8s-validate)
# KUBECTL names the kubectl to render with (default: kubectl).
# V2M_K8S_EXTRA_KUBECTL names a second one (default: Debian 12's 1.20, whose
# kustomize is v2.0.3, when scripts/install-deps.sh unpacked it into .deps/):
# render then also checks that it renders every overlay to the same objects
# (same.js).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:?usage: run.sh BIN render|schema|schema-rejects|consistency|all [DIR]}
[[ $bin != */* ]] || bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
step=${2:?usage: run.sh BIN render|schema|schema-rejects|consistency|all [DIR]}
dir=${3:-}
kubectl=${KUBECTL:-kubectl}
# scripts/install-deps.sh unpacks Debian 12's kubectl 1.20 there when the
# machine's own kubectl is another version.
if [ -z "${V2M_K8S_EXTRA_KUBECTL+set}" ] && [ -x "$repo/.deps/kubernetes-client/usr/bin/kubectl" ]; then
    V2M_K8S_EXTRA_KUBECTL=$repo/.deps/kubernetes-client/usr/bin/kubectl
fi
temps=()
trap 'rm -rf "${temps[@]}"' EXIT

Die() { echo "k8s: $*" >&2; exit 1; }
Node() {
    [ -d "$here/node_modules/kubernetes-models" ] ||
        Die "tests/k8s/node_modules is missing: run scripts/install-deps.sh (npm ci in tests/k8s)"
    node "$@"
}

Render() {
    command -v "$kubectl" >/dev/null || Die "no $kubectl: run scripts/install-deps.sh (Debian's kubernetes-client)"
    mkdir -p "$dir"
    rm -f "$dir"/*.yaml
    local work
    work=$(mktemp -d)
    temps+=("$work")
    cp -r "$repo/deploy/k8s" "$work/k8s"
    # Secrets of our own, never the developer's: drop any the copy carried.
    find "$work/k8s" -type d -name secrets -prune -exec rm -rf {} +
    local overlays=() o
    for o in "$work"/k8s/overlays/*/; do overlays+=("$(basename "$o")"); done
    [ ${#overlays[@]} -gt 0 ] || Die "no overlays in deploy/k8s/overlays"
    for o in "${overlays[@]}"; do
        V2M_BIN=$bin bash "$work/k8s/secrets.sh" "$o" 2>/dev/null || Die "deploy/k8s/secrets.sh $o failed"
    done
    local failed=0 k bad
    for o in "${overlays[@]}"; do
        bad=0
        for k in "$kubectl" ${V2M_K8S_EXTRA_KUBECTL:+"$V2M_K8S_EXTRA_KUBECTL"}; do
            local out=$dir/$o.yaml
            [ "$k" = "$kubectl" ] || out=$work/$o.extra.yaml
            if ! "$k" kustomize "$work/k8s/overlays/$o" >"$out" 2>"$work/err"; then
                echo "FAIL $o: $k kustomize:" >&2
                grep -v '^# Warning' "$work/err" >&2 || true
                bad=1
            elif ! grep -q '^kind: ' "$out"; then
                echo "FAIL $o: $k kustomize rendered no objects" >&2
                bad=1
            elif [ "$k" != "$kubectl" ] && ! Node "$here/same.js" "$dir/$o.yaml" "$out" 2>"$work/diff"; then
                echo "FAIL $o: $k renders other objects than $kubectl:" >&2
                cat "$work/diff" >&2
                bad=1
            else
                echo "ok   $o: $(grep -c '^kind: ' "$out") objects (kubectl $("$k" version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -1))"
            fi
        done
        failed=$((failed + bad))
    done
    echo "$(( ${#overlays[@]} - failed )) passed, $failed failed"
    [ "$failed" -eq 0 ]
}

case "$step" in
    render) [ -n "$dir" ] || Die "render needs DIR"; Render ;;
    schema) [ -n "$dir" ] || Die "schema needs DIR"; Node "$here/validate.js" "$dir" ;;
    schema-rejects) Node "$here/validate.js" --expect-invalid "$here/invalid" ;;
    consistency)
        [ -n "$dir" ] || Die "consistency needs DIR"
        Node "$here/check.js" "$bin" "$dir"/*.yaml
        Node "$here/check_rejects.js" "$bin" "$dir"
        ;;
    all)
        dir=$(mktemp -d)
        temps+=("$dir")
        Render
        Node "$here/validate.js" "$dir"
        Node "$here/validate.js" --expect-invalid "$here/invalid"
        Node "$here/check.js" "$bin" "$dir"/*.yaml
        Node "$here/check_rejects.js" "$bin" "$dir"
        ;;
    *) Die "unknown step $step" ;;
esac
