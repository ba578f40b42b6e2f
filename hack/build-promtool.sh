#!/usr/bin/env bash
# Builds (once) Prometheus' promtool from the Go module proxy into the cache and prints its path: the tests
# run the shipped alerts (deploy/monitoring) through `promtool test rules`.
#   PROMETHEUS_VERSION (default below), BMO_CACHE_DIR (default ~/.cache/bedrock-model-operator)
set -euo pipefail
PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"  # Go module version of Prometheus 3.x
CACHE_ROOT="${BMO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bedrock-model-operator}"
OUT="$CACHE_ROOT/promtool/$PROMETHEUS_VERSION"
if [[ -x "$OUT/promtool" ]] && "$OUT/promtool" --version >/dev/null 2>&1; then echo "$OUT/promtool"; exit 0; fi
mkdir -p "$OUT"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOBIN="$OUT"
echo "build-promtool: building promtool $PROMETHEUS_VERSION from the Go module proxy" >&2
go install -trimpath -ldflags "-s -w" "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION" >&2
echo "$OUT/promtool"
