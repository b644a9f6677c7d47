#!/usr/bin/env bash
# Benchmark: pull of a Debian minbase image (debootstrap, ~200 MB unpacked) from a loopback registry into an
# empty store — lodger side by side with rootless podman and with `curl | gunzip | tar -x` of the same blob.
# Targets: lodger ≤ 0.33× podman and ≤ 1.1× the curl pipeline. LODGER_BASELINE=DIR adds another built
# checkout (e.g. before a change) to the same rounds.
#
# Usage (as an unprivileged user with a subuid range): bench/pull.sh [ROUNDS]
# Needs /var/tmp/lodger-fixtures/debootstrap.tar.gz (sudo bash scripts/build-debootstrap-fixture.sh).
# On ext4 without a journal, leave a few minutes between two runs of this script (see below): its
# cleanup frees some 100k inodes, and new files near them are slow to create for up to 6 minutes.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-3}
[ "$(id -u)" != 0 ] || { echo "run as an unprivileged user" >&2; exit 1; }
tarball=/var/tmp/lodger-fixtures/debootstrap.tar.gz
[ -f "$tarball" ] || { echo "missing $tarball: sudo bash scripts/build-debootstrap-fixture.sh" >&2; exit 1; }
unset NODE_EXTRA_CA_CERTS
work=$(mktemp -d /var/tmp/lodger-bench-pull.XXXXXX)
wipe() { unshare --map-root-user --map-auto rm -rf "$@" 2>/dev/null || rm -rf "$@"; }
cleanup() { [ -z "${regpid:-}" ] || kill "$regpid" 2>/dev/null || true; wipe "$work"; }
trap cleanup EXIT

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat > "$work/registry.yml" <<YML
version: 0.1
storage: { filesystem: { rootdirectory: $work/registry } }
http: { addr: 127.0.0.1:$port }
log: { level: error }
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
regpid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

lodger="$repo/bin/lodger"
ref="127.0.0.1:$port/bench/debian:bookworm"
LODGER_ROOT="$work/seed" "$lodger" import "$tarball" bench-debian >/dev/null
LODGER_ROOT="$work/seed" "$lodger" tag bench-debian "$ref"
LODGER_ROOT="$work/seed" "$lodger" push -q "$ref" >/dev/null
digest=$(LODGER_ROOT="$work/seed" "$lodger" inspect -f '{{index .RootFS.Layers 0}}' bench-debian)
blob=$(curl -fs "http://127.0.0.1:$port/v2/bench/debian/manifests/bookworm" -H 'Accept: application/vnd.oci.image.manifest.v1+json' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).layers[0].digest))')
echo "image: $(du -h "$tarball" | cut -f1) gzip blob $blob (diff_id $digest)"

# Between runs each contender's tree is moved aside, not deleted: ext4 without a journal (as on some
# VMs) skips the inodes freed in the last minutes when it allocates new ones (recently_deleted() in
# fs/ext4/ialloc.c), which made every run after an `rm -rf` of 6.8k files pay seconds of kernel time
# for the one before it. Everything is removed at exit. `sync` first, so no run pays for writing back
# the previous one's data.
# aside THEN DIR…: the prepare command that moves each DIR into the trash, runs THEN, and syncs.
aside() { local then=$1; shift; echo "sh -c 'mkdir -p $work/trash; for d in $*; do [ ! -e \$d ] || mv \$d \$(mktemp -d $work/trash/XXXXXX)/; done; $then sync'"; }
cmds=(--command-name lodger --prepare "$(aside "" "$work/l")" "env LODGER_ROOT=$work/l $lodger pull -q $ref")
if [ -n "${LODGER_BASELINE:-}" ]; then
  # Another built checkout (e.g. before a change), in the same rounds: before/after from one run.
  cmds+=(--command-name baseline --prepare "$(aside "" "$work/b")" "env LODGER_ROOT=$work/b $LODGER_BASELINE/bin/lodger pull -q $ref")
fi
cmds+=(--command-name curl-gunzip-tar --prepare "$(aside "mkdir -p $work/c;" "$work/c")" "sh -c 'curl -fs http://127.0.0.1:$port/v2/bench/debian/blobs/$blob | gunzip | tar -x -C $work/c'")
if command -v podman >/dev/null; then
  p="podman --root $work/p --runroot $work/pr --storage-driver overlay"
  cmds+=(--command-name podman --prepare "$(aside "" "$work/p" "$work/pr")" "$p pull -q --tls-verify=false $ref")
fi
# Rounds of one run of each, after an untimed one: hyperfine's own --runs would time all of one
# contender before the next, so whatever the machine was doing just before (see above) would weigh on
# the first one only.
hyperfine -N --runs 1 --style none "${cmds[@]}" >/dev/null
for i in $(seq "$runs"); do hyperfine -N --runs 1 --export-json "$work/pull-$i.json" --style none "${cmds[@]}" >/dev/null; done
node -e '
const fs = require("fs");
const times = {};
for (const f of process.argv.slice(1)) {
  for (const x of JSON.parse(fs.readFileSync(f, "utf8")).results) (times[x.command] ??= []).push(...x.times);
}
const mean = (a) => a.reduce((s, x) => s + x, 0) / a.length;
const median = (a) => { const b = [...a].sort((x, y) => x - y); return b.length % 2 ? b[(b.length - 1) / 2] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2; };
const sd = (a) => Math.sqrt(a.reduce((s, x) => s + (x - mean(a)) ** 2, 0) / Math.max(1, a.length - 1));
console.log(`pull of the debootstrap image, ${process.argv.length - 1} rounds:`);
for (const [k, a] of Object.entries(times)) console.log(`  ${k.padEnd(16)} mean ${mean(a).toFixed(2).padStart(5)} s ± ${sd(a).toFixed(2)}, median ${median(a).toFixed(2)} s, min ${Math.min(...a).toFixed(2)}, max ${Math.max(...a).toFixed(2)}  (${a.map((x) => x.toFixed(2)).join(" ")})`);
// Both: on a shared VM a round now and then runs slow for everyone that uses both cores; the median
// shows what a round usually takes, the mean what they took all told.
for (const [what, f] of [["mean", mean], ["median", median]]) {
  const by = Object.fromEntries(Object.entries(times).map(([k, a]) => [k, f(a)]));
  const parts = [];
  if (by.podman) parts.push(`lodger/podman = ${(by.lodger / by.podman).toFixed(3)} (target ≤ 0.33)`);
  parts.push(`lodger/curl-pipeline = ${(by.lodger / by["curl-gunzip-tar"]).toFixed(3)} (target ≤ 1.1)`);
  if (by.baseline) parts.push(`lodger/baseline = ${(by.lodger / by.baseline).toFixed(3)}`);
  console.log(`by ${what}: ${parts.join(", ")}`);
}
' "$work"/pull-*.json
