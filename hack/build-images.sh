#!/usr/bin/env bash
# Builds the local node's images without a registry, once per content, into a cache outside the
# repository, and prints one `name=value` line per result:
#   pause=<docker archive>        localhost/pause:local, the pod sandbox image (a static Go program)
#   base=<image name>             localhost/bmo-base:bookworm-<hash>, a root filesystem from Debian's packages
#   operator=<docker archive>     the project's own Dockerfile built FROM that base
#   operator_image=<image name>   localhost/bedrock-model-operator:dev-<content hash>
# Each is rebuilt only when its inputs change: a hash of them is in its file or tag name. One build at a time
# (a lock), and every archive is written beside its final name and renamed, so none is ever half-written.
#
#   BMO_CACHE_DIR  cache root (default ~/.cache/bedrock-model-operator)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CACHE_ROOT="${BMO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bedrock-model-operator}"
OUT="$CACHE_ROOT/images"
SUITE=bookworm
BASE_PACKAGES=python3,python3-venv,ca-certificates
mkdir -p "$OUT"
log() { echo "build-images: $*" >&2; }
exec 9>"$OUT/.lock"
flock 9  # two sessions (or a session and a dev stack) never build into one store at once
hash_of() { sha256sum | cut -c1-12; }
BASE_IMAGE="localhost/bmo-base:$SUITE-$(echo "$SUITE $BASE_PACKAGES" | cat - "${BASH_SOURCE[0]}" | hash_of)"
# buildah keeps its own store under the cache (vfs: no overlay-on-overlay surprises), builds with chroot
# isolation (no user namespaces or network set-up needed) and never touches /var/lib/containers.
BUILDAH=(buildah --root "$OUT/storage" --runroot "$OUT/run" --storage-driver vfs)
has_image() { "${BUILDAH[@]}" inspect --type image "$1" >/dev/null 2>&1; }
timed() { local t0=$SECONDS; "$@"; log "$1 ${2:-}: $((SECONDS - t0)) s"; }

# -- the pod sandbox -------------------------------------------------------------------------------
PAUSE_TAR="$OUT/pause-$(cat "$HERE/node/pause/"* | hash_of).tar"
build_pause() {
  local dir; dir=$(mktemp -d)
  (cd "$HERE/node/pause" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local \
    go build -trimpath -ldflags "-s -w" -o "$dir/pause" .)
  local c; c=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" copy "$c" "$dir/pause" /pause >/dev/null
  "${BUILDAH[@]}" config --entrypoint '["/pause"]' --user 65535:65535 "$c"
  "${BUILDAH[@]}" commit --quiet "$c" localhost/pause:local >/dev/null
  "${BUILDAH[@]}" rm "$c" >/dev/null
  rm -rf "$dir" "$PAUSE_TAR.part"
  "${BUILDAH[@]}" push --quiet localhost/pause:local "docker-archive:$PAUSE_TAR.part:localhost/pause:local"
  mv "$PAUSE_TAR.part" "$PAUSE_TAR"
  find "$OUT" -maxdepth 1 -name 'pause*.tar' ! -path "$PAUSE_TAR" -delete
}
[[ -s "$PAUSE_TAR" ]] || timed build_pause

# -- the base: Debian's python3 (3.11 in bookworm), nothing else --------------------------------------
build_base() {
  local tar="$OUT/base-$SUITE.tar"
  mmdebstrap --quiet --variant=minbase --include="$BASE_PACKAGES" --format=tar \
    --aptopt='Acquire::Retries "3"' "$SUITE" "$tar.part" >&2
  mv "$tar.part" "$tar"
  local c; c=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" add "$c" "$tar" / >/dev/null
  "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd '["python3"]' "$c"
  "${BUILDAH[@]}" commit --quiet "$c" "$BASE_IMAGE" >/dev/null
  "${BUILDAH[@]}" rm "$c" >/dev/null
  rm -f "$tar"
  "${BUILDAH[@]}" images --format '{{.Name}}:{{.Tag}}' | grep '^localhost/bmo-base:' | grep -vx "$BASE_IMAGE" \
    | xargs -r "${BUILDAH[@]}" rmi >/dev/null 2>&1 || true
}
has_image "$BASE_IMAGE" || timed build_base

# -- the project's Dockerfile, FROM that base ---------------------------------------------------------
# what the Dockerfile copies (keep in step with its COPY lines) and the base's image id name the image
inputs=(Dockerfile .dockerignore pyproject.toml uv.lock README.md devtools/pyproject.toml)
hash=$(cd "$REPO" && { sha256sum "${inputs[@]}"; find controller -type f ! -path '*/__pycache__/*' -print0 \
  | sort -z | xargs -0 sha256sum; "${BUILDAH[@]}" inspect --type image --format '{{.FromImageID}}' \
  "$BASE_IMAGE"; } | hash_of)
OPERATOR_IMAGE="localhost/bedrock-model-operator:dev-$hash"
OPERATOR_TAR="$OUT/bedrock-model-operator-$hash.tar"
build_operator() {
  # RUN steps reach PyPI through this machine's TLS set-up: its CA bundle, and pip and uv told to use it
  # (a user's own `docker build` needs none of these volumes)
  local ca="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$OUT/pip.conf"
  printf 'native-tls = true\n' >"$OUT/uv.toml"
  mkdir -p "$OUT/uv-cache"
  # uv's download cache is kept between builds (a code change does not fetch every wheel again)
  "${BUILDAH[@]}" bud --quiet --isolation chroot --layers=false \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --volume "$ca:/etc/ssl/certs/ca-certificates.crt:ro" \
    --volume "$OUT/pip.conf:/etc/pip.conf:ro" --volume "$OUT/uv.toml:/etc/uv/uv.toml:ro" \
    --volume "$OUT/uv-cache:/root/.cache/uv" \
    --tag "$OPERATOR_IMAGE" -f "$REPO/Dockerfile" "$REPO" >&2
  rm -f "$OPERATOR_TAR.part"
  "${BUILDAH[@]}" push --quiet "$OPERATOR_IMAGE" "docker-archive:$OPERATOR_TAR.part:$OPERATOR_IMAGE"
  mv "$OPERATOR_TAR.part" "$OPERATOR_TAR"
  find "$OUT" -maxdepth 1 -name 'bedrock-model-operator-*.tar' ! -path "$OPERATOR_TAR" -delete
  # older dev images go: one per content is enough
  "${BUILDAH[@]}" images --format '{{.Name}}:{{.Tag}}' | grep '^localhost/bedrock-model-operator:' \
    | grep -vx "$OPERATOR_IMAGE" | xargs -r "${BUILDAH[@]}" rmi >/dev/null 2>&1 || true
}
[[ -s "$OPERATOR_TAR" ]] || timed build_operator

echo "pause=$PAUSE_TAR"
echo "base=$BASE_IMAGE"
echo "operator=$OPERATOR_TAR"
echo "operator_image=$OPERATOR_IMAGE"
