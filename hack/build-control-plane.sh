#!/usr/bin/env bash
# Builds (once) kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and etcd from the Go module proxy into a cache
# outside the repository, and prints the directory holding them. A second run reuses the cache.
#
#   KUBE_VERSION   k8s.io/kubernetes version (default below)
#   ETCD_VERSION   go.etcd.io/etcd/server/v3 version (default below)
#   BMO_CACHE_DIR  cache root (default ~/.cache/bedrock-model-operator)
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE_ROOT="${BMO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bedrock-model-operator}"
OUT="$CACHE_ROOT/control-plane/kube-$KUBE_VERSION-etcd-$ETCD_VERSION"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROXY="${GOPROXY:-https://proxy.golang.org}"; PROXY="${PROXY%%,*}"

log() { echo "build-control-plane: $*" >&2; }

have() { [[ -x "$OUT/$1" ]] && "$OUT/$1" --version >/dev/null 2>&1; }

KUBE_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet)
have_kube() { local c; for c in "${KUBE_CMDS[@]}"; do have "$c" || return 1; done; }

if have_kube && have etcd; then
  echo "$OUT"; exit 0
fi

mkdir -p "$OUT"
WORK="$CACHE_ROOT/control-plane/src"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
start=$(date +%s)

build_kube() {
  local dir="$WORK/kube-$KUBE_VERSION" minor patch
  rm -rf "$dir"; mkdir -p "$dir"; cp "$HERE/controlplane/kube/"* "$dir/"
  # k8s.io/kubernetes' go.mod replaces each staging module with ./staging/src/k8s.io/X, which a
  # consumer cannot use: map each one to the published k8s.io/X v0.<minor>.<patch> instead.
  IFS=. read -r _ minor patch <<<"${KUBE_VERSION#v}"
  local staging
  staging=$(curl -fsSL "$PROXY/k8s.io/kubernetes/@v/$KUBE_VERSION.mod" \
    | sed -nE 's#^[[:space:]]*(replace[[:space:]]+)?(k8s\.io/[^[:space:]]+)[[:space:]]+=>[[:space:]]+\./staging/.*#\2#p' | sort -u)
  [[ -n "$staging" ]] || { log "no staging replaces found in k8s.io/kubernetes $KUBE_VERSION.mod"; exit 1; }
  ( cd "$dir"
    go mod edit -require="k8s.io/kubernetes@$KUBE_VERSION"
    for m in $staging; do go mod edit -replace="$m=$m@v0.$minor.$patch"; done
    log "kube: $(wc -w <<<"$staging") staging modules replaced; resolving"
    go mod tidy
    local ld="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
    ld+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    ld+=" -X k8s.io/component-base/version.gitTreeState=clean"
    for cmd in "${KUBE_CMDS[@]}"; do
      log "building $cmd $KUBE_VERSION"
      go build -trimpath -ldflags "$ld" -o "$OUT/$cmd" "k8s.io/kubernetes/cmd/$cmd"
    done )
}

build_etcd() {
  local dir="$WORK/etcd-$ETCD_VERSION"
  rm -rf "$dir"; mkdir -p "$dir"; cp "$HERE/controlplane/etcd/"* "$dir/"
  ( cd "$dir"
    go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    go mod tidy
    log "building etcd $ETCD_VERSION"
    go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3 )
}

have etcd || build_etcd
have_kube || build_kube
log "built in $(( $(date +%s) - start ))s into $OUT ($(du -sh "$OUT" | cut -f1))"
echo "$OUT"
