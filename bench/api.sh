#!/usr/bin/env bash
# Benchmark: the Docker API through `lodger system service` side by side with `podman system service`, in
# one run: `docker run --rm IMAGE true` (hyperfine) and a Testcontainers start-and-stop (node, timed
# in-process); prints min/median/max of each and lodger/podman ratios (target ≤ 0.5).
#
# Usage (as an unprivileged user with a subuid range, after npm ci): bench/api.sh [RUNS]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-15}
docker=/usr/local/bin/docker
[ "$(id -u)" != 0 ] || { echo "run as an unprivileged user: lodger and rootless podman are what is measured" >&2; exit 1; }
for t in hyperfine podman "$docker"; do command -v "$t" >/dev/null || { echo "$t is needed" >&2; exit 1; }; done
[ -d "$repo/node_modules/testcontainers" ] || { echo "testcontainers is needed: npm ci in $repo" >&2; exit 1; }
# Users do not have NODE_EXTRA_CA_CERTS; it adds ~90 ms to every node start on this workplace's machines.
unset NODE_EXTRA_CA_CERTS

work=$(mktemp -d /var/tmp/lodger-bench-api.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  podman --root "$work/podman" --runroot "$work/podman-run" rm -af >/dev/null 2>&1 || true
  podman --root "$work/podman" --runroot "$work/podman-run" rmi -af >/dev/null 2>&1 || true
  unshare --map-root-user --map-auto rm -rf "$work" 2>/dev/null || rm -rf "$work"
}
trap cleanup EXIT

bash "$repo/scripts/busybox-rootfs.sh" "$work/rootfs" >/dev/null
tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/busybox.tar" .

# lodger: its own store and runtime dir, the service on a socket there.
export LODGER_ROOT="$work/lodger"
mkdir -m 0700 "$work/lodger-run"
XDG_RUNTIME_DIR="$work/lodger-run" "$repo/bin/lodger" import "$work/busybox.tar" bench-busybox >/dev/null
XDG_RUNTIME_DIR="$work/lodger-run" "$repo/bin/lodger" system service --time 0 "unix://$work/lodger-run/lodger.sock" 2>"$work/lodger.log" &
pids+=($!)

# podman: its own store, auth file and containers.conf (DESIGN-NOTES.md: runc, and nofile/nproc limits runc accepts here).
cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
echo '{}' >"$work/auth.json"
export CONTAINERS_CONF="$work/containers.conf" REGISTRY_AUTH_FILE="$work/auth.json"
podman="podman --root $work/podman --runroot $work/podman-run --storage-driver overlay"
$podman import "$work/busybox.tar" bench-busybox >/dev/null
$podman system service --time 0 "unix://$work/podman.sock" 2>"$work/podman.log" &
pids+=($!)

for s in lodger-run/lodger.sock podman.sock; do
  for _ in $(seq 100); do [ -S "$work/$s" ] && break; sleep 0.1; done
  [ -S "$work/$s" ] || { echo "no socket $work/$s" >&2; cat "$work"/*.log >&2; exit 1; }
done
lodger_host="unix://$work/lodger-run/lodger.sock"
podman_host="unix://$work/podman.sock"
export DOCKER_CONFIG="$work/docker-config"
mkdir -p "$DOCKER_CONFIG"
# One run each first: both services load what a run needs, the docker CLI negotiates its version.
DOCKER_HOST=$lodger_host $docker run --rm bench-busybox true
DOCKER_HOST=$podman_host $docker run --rm bench-busybox true

hyperfine --warmup 2 --runs "$runs" --export-json "$work/run.json" \
  --command-name lodger "DOCKER_HOST=$lodger_host $docker run --rm bench-busybox true" \
  --command-name podman "DOCKER_HOST=$podman_host $docker run --rm bench-busybox true" >&2

# Testcontainers: a GenericContainer started (running, its command exec'd) and stopped, RUNS times per
# service, interleaved so that both see the same machine; timed inside one node process per service.
cat >"$work/tc.cjs" <<'JS'
const { GenericContainer } = require(process.argv[2] + '/node_modules/testcontainers');
(async () => {
  const hosts = { lodger: process.argv[3], podman: process.argv[4] };
  const runs = Number(process.argv[5]);
  const times = { lodger: [], podman: [] };
  for (let i = -1; i < runs; i++) {
    for (const [name, host] of Object.entries(hosts)) {
      process.env.DOCKER_HOST = host;
      const t0 = process.hrtime.bigint();
      const c = await new GenericContainer('bench-busybox').withCommand(['sleep', '60']).withPullPolicy({ shouldPull: () => false }).start();
      await c.stop({ timeout: 0 });
      if (i >= 0) times[name].push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }
  console.log(JSON.stringify(times));
})().catch((e) => { console.error(e); process.exit(1); });
JS
TESTCONTAINERS_RYUK_DISABLED=true node "$work/tc.cjs" "$repo" "$lodger_host" "$podman_host" "$runs" >"$work/tc.json"

node -e '
const fs = require("fs");
const stats = (a) => { const s = [...a].sort((x, y) => x - y); return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] }; };
const ms = (x) => (x * 1000).toFixed(0).padStart(6) + " ms";
const run = Object.fromEntries(JSON.parse(fs.readFileSync(process.argv[1], "utf8")).results.map((r) => [r.command, stats(r.times)]));
const tc = Object.fromEntries(Object.entries(JSON.parse(fs.readFileSync(process.argv[2], "utf8"))).map(([k, v]) => [k, stats(v)]));
for (const [title, r] of [["docker run --rm bench-busybox true", run], ["testcontainers start+stop", tc]]) {
  console.log(title + " (min / median / max):");
  for (const k of ["lodger", "podman"]) console.log(`  ${k.padEnd(7)} ${ms(r[k].min)} ${ms(r[k].median)} ${ms(r[k].max)}`);
  console.log(`  lodger/podman (median) = ${(r.lodger.median / r.podman.median).toFixed(3)} (target ≤ 0.5)`);
}
' "$work/run.json" "$work/tc.json"
