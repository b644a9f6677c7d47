#!/usr/bin/env bash
# Benchmark: 50 detached containers at once — how long `lodger ps` takes over them (target < 0.3 s), and
# each native monitor's resident memory (target ≤ 2 MiB; conmon measured here: 2.4 MiB).
#
# Usage (as an unprivileged user with a subuid range): bench/ps-scale.sh [COUNT]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
count=${1:-50}
[ "$(id -u)" != 0 ] || { echo "run as an unprivileged user" >&2; exit 1; }
unset NODE_EXTRA_CA_CERTS
work=$(mktemp -d /var/tmp/lodger-bench-ps.XXXXXX)
export LODGER_ROOT="$work/store"
lodger="$repo/bin/lodger"
cleanup() {
  "$lodger" rm -f $("$lodger" ps -aq --no-trunc) >/dev/null 2>&1 || true
  unshare --map-root-user --map-auto rm -rf "$work" 2>/dev/null || rm -rf "$work"
}
trap cleanup EXIT

bash "$repo/scripts/busybox-rootfs.sh" "$work/rootfs" >/dev/null
tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/busybox.tar" .
"$lodger" import "$work/busybox.tar" bench-busybox >/dev/null

start=$(date +%s.%N)
for i in $(seq 1 "$count"); do "$lodger" run -d --name "b$i" bench-busybox sleep 600 >/dev/null; done
end=$(date +%s.%N)
running=$("$lodger" ps -q | wc -l)
echo "started $count detached containers in $(echo "$end - $start" | bc) s; running: $running"

hyperfine -N --warmup 2 --runs 20 --export-json "$work/ps.json" "$lodger ps" >&2
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results[0];
console.log(`lodger ps over ${process.argv[2]} containers: mean ${(r.mean * 1000).toFixed(1)} ms, max ${(r.max * 1000).toFixed(1)} ms (target < 300 ms)`);
' "$work/ps.json" "$running"

rss=$(for pid in $(pgrep -u "$(id -u)" -x lodger-helper); do awk '/VmRSS/ { print $2 }' "/proc/$pid/status"; done | sort -n)
n=$(echo "$rss" | grep -c . || true)
echo "monitors: $n, RSS KiB min $(echo "$rss" | head -1) median $(echo "$rss" | sed -n "$(( (n + 1) / 2 ))p") max $(echo "$rss" | tail -1) (target ≤ 2048)"
