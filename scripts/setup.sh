#!/usr/bin/env bash
# Installs everything kiln needs on a fresh Debian 12 machine, as root, idempotently:
# the container machinery (runc, conmon, CNI plugins, iptables), busybox-static for the local base
# image, a CNCF Distribution registry and skopeo for the tests, then the npm dependencies and the build,
# and links /usr/local/bin/kiln to it.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(runc crun conmon containernetworking-plugins iptables iproute2 tini busybox-static docker-registry skopeo openssl zstd xz-utils bzip2 pigz tar)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
# `kiln` on PATH, as Docker users expect to type it (a link to this checkout's build).
ln -sfn "$PWD/bin/kiln.cjs" /usr/local/bin/kiln
echo "setup: done ($(runc --version | head -1), $(crun --version | head -1), conmon $(conmon --version | head -1 | awk '{print $3}'), node $(node -v))"
