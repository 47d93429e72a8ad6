#!/usr/bin/env bash
# The main job: start skiffd (if it is not running), make the busybox image offline from Debian's
# busybox-static, and run a container from it through the skiff CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
SOCK=${SKIFF_SOCK:-/run/skiff/skiff.sock}
export SKIFF_HOST="unix://$SOCK"

if ! skiff version >/dev/null 2>&1; then
  mkdir -p /var/log/skiff
  echo "[demo] starting skiffd on $SOCK (log /var/log/skiff/skiffd.log)" >&2
  setsid nohup skiffd -H "$SKIFF_HOST" >/var/log/skiff/skiffd.log 2>&1 </dev/null &
  for _ in $(seq 100); do skiff version >/dev/null 2>&1 && break; sleep 0.1; done
  skiff version >/dev/null || { tail -20 /var/log/skiff/skiffd.log >&2; exit 1; }
fi

if ! skiff image inspect busybox:latest >/dev/null 2>&1; then
  echo "[demo] making busybox:latest from /bin/busybox" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work"/rootfs/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,sys,dev,root,home,var/www}
  cp /bin/busybox "$work/rootfs/bin/busybox"
  chroot "$work/rootfs" /bin/busybox --install -s
  chmod 1777 "$work/rootfs/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$work/rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$work/rootfs/etc/group"
  tar -C "$work/rootfs" -cf "$work/busybox.tar" .
  skiff import -c 'CMD ["sh"]' "$work/busybox.tar" busybox:latest >/dev/null
fi

echo "[demo] skiff run --rm busybox echo hello from a skiff container" >&2
skiff run --rm busybox echo "hello from a skiff container"
skiff ps -a
