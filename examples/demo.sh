#!/usr/bin/env bash
# The README's demo: make the local busybox base image, build the example app, show its history,
# rebuild it (every step cached), and run it. Uses a demo state dir unless KILN_ROOT is set.
set -euo pipefail
cd "$(dirname "$0")/.."
export KILN_ROOT=${KILN_ROOT:-/var/lib/kiln}
kiln() { bin/kiln.cjs "$@"; }   # as users run it (its shebang, not `node bin/kiln.cjs`)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

echo "== busybox base image (FROM scratch + ADD rootfs.tar, from Debian's busybox-static)"
bash examples/busybox/make-rootfs.sh "$work/rootfs.tar"
kiln build -q -t busybox -f examples/busybox/Dockerfile "$work"

echo; echo "== kiln build -t app examples/app"
kiln build --progress=plain -t app examples/app
echo; echo "== kiln history app"
kiln history app
echo; echo "== kiln build again: every step cached"
kiln build --progress=plain -t app examples/app
echo; echo "== kiln run --rm app"
kiln run --rm app
