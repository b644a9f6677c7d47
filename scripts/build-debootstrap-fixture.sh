#!/usr/bin/env bash
# Builds, as root and once, the Debian test fixture: a minbase bookworm tree packed as a world-readable tar.gz.
#
# Usage: sudo scripts/build-debootstrap-fixture.sh [OUT]   (default /var/tmp/lodger-fixtures/debootstrap.tar.gz)
# Does nothing if OUT exists. debootstrap needs root (it chroots and creates root-owned files), which the
# test user lacks; test/helpers/fixtures.ts uses the tarball, whose numeric owners survive for `lodger import`.
# /dev, /proc and /sys are packed empty: images carry no device nodes, and an unprivileged import cannot make them.
set -euo pipefail

out="${1:-/var/tmp/lodger-fixtures/debootstrap.tar.gz}"
mirror="${LODGER_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite=bookworm

if [ -s "$out" ]; then
  echo "debootstrap fixture present: $out"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "build-debootstrap-fixture: run as root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "build-debootstrap-fixture: install debootstrap" >&2; exit 1; }

outdir=$(dirname "$out")
install -d -m 0755 "$outdir"
work=$(mktemp -d "$outdir/.debootstrap.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT

start=$SECONDS
debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" >"$work/log" 2>&1 || {
  tail -n 30 "$work/log" >&2
  echo "build-debootstrap-fixture: debootstrap failed" >&2
  exit 1
}
# Downloaded package lists and .debs are not part of an image.
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
tar --numeric-owner -C "$work/rootfs" \
  --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
  -czf "$work/rootfs.tar.gz" .
chmod 0644 "$work/rootfs.tar.gz"
mv -f "$work/rootfs.tar.gz" "$out"
echo "debootstrap fixture built in $((SECONDS - start)) s: $out ($(du -h "$out" | cut -f1))"
