#!/usr/bin/env bash
# Builds (once) the helm CLI from the Go module proxy into the cache and prints its path.
#   HELM_VERSION (default below), BMO_CACHE_DIR (default ~/.cache/bedrock-model-operator)
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${BMO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bedrock-model-operator}"
OUT="$CACHE_ROOT/helm/$HELM_VERSION"
if [[ -x "$OUT/helm" ]] && "$OUT/helm" version --short >/dev/null 2>&1; then echo "$OUT/helm"; exit 0; fi
mkdir -p "$OUT"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOBIN="$OUT"
echo "build-helm: building helm $HELM_VERSION from the Go module proxy" >&2
go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
echo "$OUT/helm"
