#!/usr/bin/env bash
# Builds a tiny root filesystem from Debian's static busybox: the binary, its applet links, users and the usual empty directories.
#
# Usage: scripts/busybox-rootfs.sh DIR     (DIR must not exist or be empty; runs as any user)
# Users: root (0), nobody (65534) and app (1000:1000, home /home/app). Ownership is the caller's business:
# archive it with `tar --numeric-owner --owner=0 --group=0` or give owners per path (test/helpers/fixtures.ts does).
set -euo pipefail

die() { printf 'busybox-rootfs: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 DIR"
dir="$1"
busybox="${BUSYBOX:-/bin/busybox}"
[ -x "$busybox" ] || die "$busybox not found: install Debian's busybox-static"
# A dynamically linked busybox (Debian's 'busybox' package) would not run in an empty rootfs.
if LC_ALL=C ldd "$busybox" >/dev/null 2>&1; then
  die "$busybox is dynamically linked: install busybox-static instead of busybox"
fi
if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
  die "$dir is not empty"
fi

mkdir -p "$dir"
cd "$dir"
mkdir -p bin sbin usr/bin usr/sbin etc dev proc sys tmp var/tmp root home/app run
chmod 1777 tmp var/tmp
chmod 0700 root
cp "$busybox" bin/busybox
chmod 0755 bin/busybox

# --list-full names each applet with its usual directory (bin/sh, usr/bin/env, sbin/ip…); links are relative
# so the tree is correct wherever it is unpacked.
while IFS= read -r applet; do
  if [ -z "$applet" ] || [ "$applet" = bin/busybox ] || [ -e "$applet" ] || [ -L "$applet" ]; then continue; fi
  up=""
  rest="$applet"
  while [ "${rest#*/}" != "$rest" ]; do up="../$up"; rest="${rest#*/}"; done
  ln -s "${up}bin/busybox" "$applet"
done < <("$busybox" --list-full)

cat >etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >etc/group <<'EOF'
root:x:0:
app:x:1000:
nobody:x:65534:
nogroup:x:65534:
EOF
# Empty files the runtime bind-mounts over; present so a read-only rootfs still has the mount points.
: >etc/hosts
: >etc/resolv.conf
echo busybox >etc/hostname
chmod 0644 etc/passwd etc/group etc/hosts etc/resolv.conf etc/hostname
