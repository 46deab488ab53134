#!/usr/bin/env bash
# Makes rootfs.tar: a minimal busybox root filesystem from Debian's busybox-static (one static
# binary plus its applet links, /etc/passwd and /etc/group), the local stand-in for Docker Hub's
# busybox so that builds and tests need no network. Usage: make-rootfs.sh OUT.tar
set -euo pipefail
out=$(realpath -m "${1:-rootfs.tar}")
bb=/bin/busybox
[ -x "$bb" ] || { echo "busybox-static is not installed (run scripts/setup.sh)" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
r=$work/root
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,var/tmp,home,dev,proc,sys}
cp "$bb" "$r/bin/busybox"
# Applet links, as busybox --install -s would make them; skip `busybox` itself (it would loop).
"$bb" --list-full | while read -r p; do
  [ "$(basename "$p")" = busybox ] && continue
  mkdir -p "$r/$(dirname "$p")"; ln -sf /bin/busybox "$r/$p"
done
cat > "$r/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$r/etc/group" <<'G'
root:x:0:
daemon:x:1:
bin:x:2:
www-data:x:33:
users:x:100:
nogroup:x:65534:
G
chmod 1777 "$r/tmp" "$r/var/tmp"; chmod 700 "$r/root"
# Fixed owner and mtime: the same busybox gives the same tar, hence the same image ID.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2024-01-01 00:00:00Z' -C "$r" -cf "$out" .
