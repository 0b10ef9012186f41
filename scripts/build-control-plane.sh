#!/usr/bin/env bash
# Build etcd, kube-apiserver, kube-scheduler and kube-controller-manager for amldoctor's
# end-to-end tests and print the directory that holds them.
#
# The binaries go to a cache outside the checkout, keyed by the Kubernetes version, so that fresh
# clones on the same machine reuse them:
#     ${AMLDOCTOR_CACHE:-$HOME/.cache/amldoctor}/kube-bin/v<k8s>/
# holding etcd, kube-apiserver, kube-scheduler and kube-controller-manager.
# When they exist (and were built from the pinned versions) the script does nothing.
# When KUBEBUILDER_ASSETS names a directory holding the four binaries, it builds nothing and prints
# that directory instead.
#
# The pinned versions live in tests/e2e/kubebin/go.mod and tests/e2e/etcdbin/go.mod; go.sum is
# committed, so a build needs only the Go module proxy and a local Go >= the modules' go lines.
# Only the directory goes to stdout; progress goes to stderr.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
binaries=(etcd kube-apiserver kube-scheduler kube-controller-manager)

log() { echo "build-control-plane: $*" >&2; }

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
    for b in "${binaries[@]}"; do
        if [[ ! -x "$KUBEBUILDER_ASSETS/$b" ]]; then
            log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no executable $b"
            exit 1
        fi
    done
    echo "$KUBEBUILDER_ASSETS"
    exit 0
fi

# Read a module version from a go.mod, so the pin exists in exactly one place.
module_version() {
    awk -v m="$2" '$1 == "require" {$1 = ""; $0 = $0} $1 == m && $2 ~ /^v/ {print $2; exit}' "$1"
}
k8s=$(module_version "$root/tests/e2e/kubebin/go.mod" k8s.io/kubernetes)
etcd=$(module_version "$root/tests/e2e/etcdbin/go.mod" go.etcd.io/etcd/server/v3)
if [[ -z "$k8s" || -z "$etcd" ]]; then
    log "cannot read the pinned versions from tests/e2e/{kubebin,etcdbin}/go.mod"
    exit 1
fi
stamp="kubernetes=$k8s etcd=$etcd"

cache=${AMLDOCTOR_CACHE:-$HOME/.cache/amldoctor}/kube-bin
out="$cache/$k8s"

is_built() {
    [[ -f "$out/VERSIONS" && "$(cat "$out/VERSIONS")" == "$stamp" ]] || return 1
    for b in "${binaries[@]}"; do [[ -x "$out/$b" ]] || return 1; done
}

if is_built; then
    echo "$out"
    exit 0
fi

mkdir -p "$cache"
# Two test runs on one machine (a local run and CI) must not build into the same place at once.
exec 9>"$cache/.lock"
flock 9
if is_built; then
    echo "$out"
    exit 0
fi

if ! command -v go >/dev/null; then
    log "go is not installed; supply the binaries through KUBEBUILDER_ASSETS"
    exit 1
fi
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-trimpath

# Build into a scratch directory and rename it into place, so an interrupted build leaves nothing
# that looks complete.
work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

minor=$(echo "$k8s" | cut -d. -f2)
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$k8s -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ldflags+=" -X $p.gitTreeState=clean"
done

log "building kube-apiserver, kube-scheduler and kube-controller-manager $k8s"
log "(about 5 minutes on 2 cores with an empty Go build cache, seconds with a warm one)"
(cd "$root/tests/e2e/kubebin" && go build -ldflags "$ldflags" -o "$work/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kube-controller-manager)
log "building etcd $etcd"
(cd "$root/tests/e2e/etcdbin" && go build -ldflags "-s -w" -o "$work/etcd" .)

echo "$stamp" >"$work/VERSIONS"
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
log "built into $out"
echo "$out"
