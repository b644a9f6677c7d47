#!/usr/bin/env bash
# Benchmark: what --userns=keep-id costs on the ~120 MB debootstrap image — its first run and later runs next to
# a normal run (no chown-copy of the image: fuse-overlayfs translates owners at mount time), plus a file-heavy job.
#
# Usage (as an unprivileged user with a subuid range): bench/keep-id.sh [DEBOOTSTRAP.tar.gz] [RUNS]
# The tarball defaults to /var/tmp/lodger-fixtures/debootstrap.tar.gz (scripts/build-debootstrap-fixture.sh, as root).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tarball=${1:-/var/tmp/lodger-fixtures/debootstrap.tar.gz}
runs=${2:-5}
[ "$(id -u)" != 0 ] || { echo "run as an unprivileged user with a subuid range: keep-id is a rootless mapping" >&2; exit 1; }
[ -r "$tarball" ] || { echo "$tarball is missing: build it with 'sudo bash scripts/build-debootstrap-fixture.sh'" >&2; exit 1; }
command -v fuse-overlayfs >/dev/null || { echo "fuse-overlayfs is needed (apt install fuse-overlayfs): keep-id uses it" >&2; exit 1; }
# Users do not have NODE_EXTRA_CA_CERTS; it adds ~90 ms to every node start on this workplace's machines.
unset NODE_EXTRA_CA_CERTS

work=$(mktemp -d /var/tmp/lodger-bench-keepid.XXXXXX)
cleanup() { unshare --map-root-user --map-auto rm -rf "$work" 2>/dev/null || rm -rf "$work"; }
trap cleanup EXIT
export LODGER_ROOT="$work/store"
lodger="$repo/bin/lodger"

now() { date +%s.%N; }
# secs CMD…: wall time of one run of CMD (its output discarded), in seconds.
secs() { local t0 t1; t0=$(now); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; t1=$(now); echo "$t1 - $t0" | bc -l; }
# mean N CMD…: mean wall time of N runs.
mean() { local n=$1 sum=0 t; shift; for _ in $(seq "$n"); do t=$(secs "$@"); sum=$(echo "$sum + $t" | bc -l); done; echo "$sum / $n" | bc -l; }
ms() { printf '%7.0f ms' "$(echo "$1 * 1000" | bc -l)"; }

t_import=$(secs "$lodger" import "$tarball" deb:bench)
"$lodger" run --rm deb:bench true >/dev/null   # the storage-driver probe, once per store, out of the figures

normal_first=$(secs "$lodger" run --rm deb:bench true)
keepid_first=$(secs "$lodger" run --rm --userns=keep-id deb:bench true)
normal_mean=$(mean "$runs" "$lodger" run --rm deb:bench true)
keepid_mean=$(mean "$runs" "$lodger" run --rm --userns=keep-id deb:bench true)
# File-heavy: read every file under /usr once (about 6k files), where fuse-overlayfs' per-call cost shows.
job='find /usr -xdev -type f -exec cat {} + >/dev/null'
normal_job=$(secs "$lodger" run --rm deb:bench sh -c "$job")
keepid_job=$(secs "$lodger" run --rm --userns=keep-id deb:bench sh -c "$job")

echo "keep-id on the debootstrap image ($(du -sh --apparent-size "$tarball" | cut -f1) gzip; import took $(ms "$t_import")):"
echo "  first run, normal (kernel overlay):        $(ms "$normal_first")"
echo "  first run, --userns=keep-id (fuse-overlayfs): $(ms "$keepid_first")   (extra: $(ms "$(echo "$keepid_first - $normal_first" | bc -l)"))"
echo "  later runs, mean of $runs, normal:           $(ms "$normal_mean")"
echo "  later runs, mean of $runs, keep-id:          $(ms "$keepid_mean")"
echo "  read all of /usr, normal:                  $(ms "$normal_job")"
echo "  read all of /usr, keep-id:                 $(ms "$keepid_job")"
