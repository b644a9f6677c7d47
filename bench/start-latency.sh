#!/usr/bin/env bash
# Benchmark: wall time of `lodger run --rm IMAGE true` side by side with podman (rootless, --runtime runc),
# bwrap and ch-run on the same busybox rootfs, in one hyperfine run; prints each mean and its ratio to podman.
#
# Usage (as an unprivileged user with a subuid range): bench/start-latency.sh [RUNS]
# LODGER_BASELINE=DIR adds another built checkout of lodger (e.g. the commit before a change) to the same
# run, with a store of its own: before/after figures from one run, on one machine's minute.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-30}
[ "$(id -u)" != 0 ] || { echo "run as an unprivileged user: lodger and rootless podman are what is measured" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt install hyperfine)" >&2; exit 1; }
# Users do not have NODE_EXTRA_CA_CERTS; it adds ~90 ms to every node start on this workplace's machines.
unset NODE_EXTRA_CA_CERTS

work=$(mktemp -d /var/tmp/lodger-bench.XXXXXX)
cleanup() {
  podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay rmi -af >/dev/null 2>&1 || true
  unshare --map-root-user --map-auto rm -rf "$work" 2>/dev/null || rm -rf "$work"
}
trap cleanup EXIT

bash "$repo/scripts/busybox-rootfs.sh" "$work/rootfs" >/dev/null
tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/busybox.tar" .

export LODGER_ROOT="$work/lodger"
lodger="$repo/bin/lodger"
"$lodger" import "$work/busybox.tar" bench-busybox >/dev/null
"$lodger" run --rm bench-busybox true   # probes the storage driver once, as a user's first run would

# Both tools twice: without a network (--network none), and with each one's default userspace network
# (lodger: slirp4netns, else pasta; podman 4: slirp4netns) — ratios compare like with like.
cmds=(--command-name lodger-none "$lodger run --rm --network none bench-busybox true")
cmds+=(--command-name lodger-net "$lodger run --rm bench-busybox true")
if [ -n "${LODGER_BASELINE:-}" ]; then
  base="env LODGER_ROOT=$work/lodger-base $LODGER_BASELINE/bin/lodger"
  $base import "$work/busybox.tar" bench-busybox >/dev/null
  $base run --rm bench-busybox true
  cmds+=(--command-name base-none "$base run --rm --network none bench-busybox true")
  cmds+=(--command-name base-net "$base run --rm bench-busybox true")
fi
if command -v podman >/dev/null; then
  podman="podman --root $work/podman --runroot $work/podman-run --storage-driver overlay --runtime runc --cgroup-manager cgroupfs --events-backend none"
  $podman import "$work/busybox.tar" bench-busybox >/dev/null
  cmds+=(--command-name podman-none "$podman run --rm --network none bench-busybox true")
  cmds+=(--command-name podman-net "$podman run --rm bench-busybox true")
fi
if command -v bwrap >/dev/null; then
  cmds+=(--command-name bwrap "bwrap --unshare-all --bind $work/rootfs / --proc /proc --dev /dev true")
fi
if command -v ch-run >/dev/null; then
  cmds+=(--command-name ch-run "ch-run $work/rootfs -- true")
fi

hyperfine --warmup 3 --runs "$runs" --export-json "$work/result.json" "${cmds[@]}" >&2
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
const med = (t) => { const s = [...t].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const ms = (v) => (v * 1000).toFixed(1).padStart(7);
const by = Object.fromEntries(r.map((x) => [x.command, med(x.times)]));
console.log("start latency over " + r[0].times.length + " runs (ms):        mean   median      min      max");
for (const x of r) console.log(`  ${x.command.padEnd(12)}              ${ms(x.mean)}  ${ms(med(x.times))}  ${ms(x.min)}  ${ms(x.max)}`);
for (const m of ["none", "net"]) {
  const what = m === "none" ? "--network none" : "default network";
  if (by["podman-" + m]) console.log(`lodger/podman (${what}, medians) = ${(by["lodger-" + m] / by["podman-" + m]).toFixed(3)}`);
  if (by["base-" + m]) console.log(`lodger/baseline (${what}, medians) = ${(by["lodger-" + m] / by["base-" + m]).toFixed(3)}`);
}
' "$work/result.json"
