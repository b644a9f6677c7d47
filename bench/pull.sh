#!/usr/bin/env bash
# Benchmark: pull of a Debian minbase image (debootstrap, ~200 MB unpacked) from a loopback registry into an
# empty store — lodger side by side with rootless podman and with `curl | gunzip | tar -x` of the same blob.
# Targets: lodger ≤ 0.33× podman and ≤ 1.1× the curl pipeline.
#
# Usage (as an unprivileged user with a subuid range): bench/pull.sh [RUNS]
# Needs /var/tmp/lodger-fixtures/debootstrap.tar.gz (sudo bash scripts/build-debootstrap-fixture.sh).
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

cmds=(--command-name lodger --prepare true "env LODGER_ROOT=$work/l $lodger pull -q $ref")
cmds+=(--command-name curl-gunzip-tar --prepare "sh -c 'rm -rf $work/c; mkdir -p $work/c'" "sh -c 'curl -fs http://127.0.0.1:$port/v2/bench/debian/blobs/$blob | gunzip | tar -x -C $work/c'")
if command -v podman >/dev/null; then
  p="podman --root $work/p --runroot $work/pr --storage-driver overlay"
  cmds+=(--command-name podman --prepare "sh -c '$p rmi -af >/dev/null 2>&1; true'" "$p pull -q --tls-verify=false $ref")
fi
# lodger's layers hold subuid-owned files: clear them between runs from inside a user namespace.
cmds[3]="unshare --map-root-user --map-auto rm -rf $work/l"
hyperfine -N --runs "$runs" --export-json "$work/pull.json" "${cmds[@]}" >&2
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
const by = Object.fromEntries(r.map((x) => [x.command, x.mean]));
console.log(`pull of the debootstrap image, mean of ${r[0].times.length} runs:`);
for (const x of r) console.log(`  ${x.command.padEnd(16)} ${x.mean.toFixed(2).padStart(6)} s ± ${x.stddev.toFixed(2)}`);
if (by.podman) console.log(`lodger/podman = ${(by.lodger / by.podman).toFixed(3)} (target ≤ 0.33)`);
console.log(`lodger/curl-pipeline = ${(by.lodger / by["curl-gunzip-tar"]).toFixed(3)} (target ≤ 1.1)`);
' "$work/pull.json"
