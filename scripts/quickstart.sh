#!/usr/bin/env bash
# The unprivileged part of the README quick start: puts `lodger` on your PATH with shell completion, imports a tiny busybox image and runs a container from it.
#
# Usage (as your normal user, after `sudo scripts/setup-host.sh --user $USER` and `npm ci`):
#   scripts/quickstart.sh
# Links ~/.local/bin/lodger to this checkout's bin/lodger (Debian's ~/.profile puts ~/.local/bin on the
# PATH of login shells) and writes bash completion to ~/.local/share/bash-completion/completions/lodger.
# Uses the store lodger uses by default (--root / $LODGER_ROOT / ~/.local/share/lodger).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lodger="$repo/bin/lodger"

die() { printf 'quickstart: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" != 0 ] || die "run this as your normal user, not root: lodger is rootless"
[ -f "$repo/dist/lodger.js" ] || die "lodger is not built: run \`npm ci\` (or \`npm run build\`) in $repo first"
me=$(id -un)
if ! grep -qE "^($me|$(id -u)):" /etc/subuid 2>/dev/null; then
  echo "note: $me has no range in /etc/subuid: containers get a single id (sudo scripts/setup-host.sh --user $me adds one)" >&2
fi

echo "==> ~/.local/bin/lodger -> $lodger"
bindir="$HOME/.local/bin"
mkdir -p "$bindir"
ln -sfn "$lodger" "$bindir/lodger"
completions="${XDG_DATA_HOME:-$HOME/.local/share}/bash-completion/completions"
mkdir -p "$completions"
"$lodger" completion bash >"$completions/lodger"
case ":$PATH:" in
  *":$bindir:"*) ;;
  *) echo "note: $bindir is not on your PATH yet: log in again (Debian's ~/.profile adds it), or: export PATH=\"$bindir:\$PATH\"" >&2 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "==> building a busybox rootfs from /bin/busybox"
bash "$repo/scripts/busybox-rootfs.sh" "$work/rootfs"
# Files in an image belong to root: the archive says so, whoever built it.
tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/busybox.tar" .

echo "==> lodger import busybox.tar busybox:latest"
"$lodger" import "$work/busybox.tar" busybox:latest

echo "==> lodger run --rm busybox sh -c 'id; hostname; cat /proc/self/uid_map'"
"$lodger" run --rm busybox sh -c 'id; hostname; cat /proc/self/uid_map'
