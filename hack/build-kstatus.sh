#!/usr/bin/env bash
# Builds (once) kstatus-verdict (hack/kstatus: the real sigs.k8s.io/cli-utils kstatus library, as Flux's
# health checks use it) from the Go module proxy into the cache and prints its path.
#   BMO_CACHE_DIR (default ~/.cache/bedrock-model-operator)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${BMO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bedrock-model-operator}"
KEY="$(cat "$HERE/kstatus/go.mod" "$HERE/kstatus/go.sum" "$HERE/kstatus/main.go" | sha256sum | cut -c1-16)"
OUT="$CACHE_ROOT/kstatus/$KEY"
if [[ -x "$OUT/kstatus-verdict" ]]; then echo "$OUT/kstatus-verdict"; exit 0; fi
mkdir -p "$OUT"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
echo "build-kstatus: building kstatus-verdict (sigs.k8s.io/cli-utils) from the Go module proxy" >&2
(cd "$HERE/kstatus" && go build -trimpath -ldflags "-s -w" -o "$OUT/kstatus-verdict.tmp" . >&2)
mv "$OUT/kstatus-verdict.tmp" "$OUT/kstatus-verdict"
echo "$OUT/kstatus-verdict"
