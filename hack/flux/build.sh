#!/usr/bin/env bash
# Builds (once) Flux's source-controller and kustomize-controller (v1.7.3, the newest whose dependencies the
# Go module proxy serves) and a small git server (fluxcd/pkg/gittestserver) into the cache, copies the two
# controllers' CRDs beside them, and prints the folder. Used by tests/cluster/test_flux_e2e.py and
# `bedrock-model-operator dev --flux`. The controllers need Go 1.27 (GOTOOLCHAIN=go1.27.3, fetched from
# the module proxy); a first build takes several minutes on 2 cores.
#   FLUX_VERSION (default below), BMO_CACHE_DIR (default ~/.cache/bedrock-model-operator)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FLUX_VERSION="${FLUX_VERSION:-v1.7.3}"
CACHE_ROOT="${BMO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bedrock-model-operator}"
KEY="$(cat "$HERE/build.sh" "$HERE/gitserver/go.mod" "$HERE/gitserver/go.sum" "$HERE/gitserver/main.go" | sha256sum | cut -c1-12)"
OUT="$CACHE_ROOT/flux/$FLUX_VERSION-$KEY"
if [[ -x "$OUT/kustomize-controller" && -x "$OUT/source-controller" && -x "$OUT/gitserver" ]]; then
  echo "$OUT"; exit 0
fi
mkdir -p "$OUT/crds"
export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=mod"
WORK="$(mktemp -d)"
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
for ctrl in source-controller kustomize-controller; do
  if [[ -x "$OUT/$ctrl" ]]; then continue; fi
  echo "build-flux: building $ctrl $FLUX_VERSION from the Go module proxy" >&2
  dir="$(GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "github.com/fluxcd/$ctrl@$FLUX_VERSION" | jq -r .Dir)"
  cp -r "$dir" "$WORK/$ctrl"
  chmod -R u+w "$WORK/$ctrl"
  (
    cd "$WORK/$ctrl"
    GOTOOLCHAIN=go1.27.3 go mod edit -dropreplace "github.com/fluxcd/$ctrl/api"
    GOTOOLCHAIN=go1.27.3 go build -trimpath -ldflags "-s -w" -o "$OUT/$ctrl.tmp" . >&2
  )
  cp "$WORK/$ctrl"/config/crd/bases/*.yaml "$OUT/crds/"
  mv "$OUT/$ctrl.tmp" "$OUT/$ctrl"
done
if [[ ! -x "$OUT/gitserver" ]]; then
  echo "build-flux: building the git server (fluxcd/pkg/gittestserver)" >&2
  (cd "$HERE/gitserver" && GOTOOLCHAIN=local go build -trimpath -ldflags "-s -w" -o "$OUT/gitserver.tmp" . >&2)
  mv "$OUT/gitserver.tmp" "$OUT/gitserver"
fi
echo "$OUT"
