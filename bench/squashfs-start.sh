#!/usr/bin/env bash
# Benchmark: wall time of `lodger run --rm IMAGE true` for the debootstrap image unpacked in the store vs the same image as one squashfs file (squashfuse_ll), in one hyperfine run; prints both means and their ratio.
#
# Usage (as an unprivileged user with a subuid range): bench/squashfs-start.sh [RUNS]
# Needs the debootstrap fixture (sudo bash scripts/build-debootstrap-fixture.sh), squashfs-tools, squashfuse, hyperfine.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-30}
tarball=${LODGER_DEBOOTSTRAP_TARBALL:-/var/tmp/lodger-fixtures/debootstrap.tar.gz}
[ "$(id -u)" != 0 ] || { echo "run as an unprivileged user: rootless start is what is measured" >&2; exit 1; }
for t in hyperfine mksquashfs squashfuse_ll; do
  command -v "$t" >/dev/null || { echo "$t is needed (apt install hyperfine squashfs-tools squashfuse)" >&2; exit 1; }
done
[ -r "$tarball" ] || { echo "$tarball is missing: sudo bash scripts/build-debootstrap-fixture.sh" >&2; exit 1; }
# Users do not have NODE_EXTRA_CA_CERTS; it adds ~90 ms to every node start on this workplace's machines.
unset NODE_EXTRA_CA_CERTS

work=$(mktemp -d /var/tmp/lodger-bench-sqfs.XXXXXX)
cleanup() { unshare --map-root-user --map-auto rm -rf "$work" 2>/dev/null || rm -rf "$work"; }
trap cleanup EXIT

export LODGER_ROOT="$work/lodger"
lodger="$repo/bin/lodger"
"$lodger" import "$tarball" bench-debian >/dev/null
"$lodger" save --format squashfs -o "$work/debian.sqfs" bench-debian
echo "debian.sqfs: $(du -h "$work/debian.sqfs" | cut -f1) (store layer: $(du -sh "$LODGER_ROOT/layers" 2>/dev/null | cut -f1))" >&2
# First runs probe the storage driver, as a user's first run would.
"$lodger" run --rm bench-debian true
"$lodger" run --rm "$work/debian.sqfs" true

hyperfine --warmup 3 --runs "$runs" --export-json "$work/result.json" \
  --command-name unpacked "$lodger run --rm bench-debian true" \
  --command-name squashfs "$lodger run --rm $work/debian.sqfs true" >&2
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
const by = Object.fromEntries(r.map((x) => [x.command, x]));
console.log("lodger run --rm debian true, mean of " + r[0].times.length + " runs:");
for (const x of r) console.log(`  ${x.command.padEnd(9)} ${(x.mean * 1000).toFixed(1).padStart(7)} ms ± ${(x.stddev * 1000).toFixed(1)}`);
console.log(`squashfs/unpacked = ${(by.squashfs.mean / by.unpacked.mean).toFixed(3)}`);
' "$work/result.json"
