#!/usr/bin/env bash
# Installs (once) what the local node needs from Debian's packages: containerd and runc (the container
# runtime kubelet talks to), the CNI loopback plugin, and buildah + mmdebstrap (images are built here: no
# registry is reachable). Needs root and apt; a second run only checks. Prints nothing on success.
set -euo pipefail
PACKAGES=(containerd runc containernetworking-plugins buildah mmdebstrap)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "install-node-runtime: missing Debian packages ${missing[*]}; install them as root (apt-get install)" >&2
  exit 1
fi
echo "install-node-runtime: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
  || { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
