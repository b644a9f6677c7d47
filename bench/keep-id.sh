#!/usr/bin/env bash
# Benchmark: what --userns=keep-id costs on the ~120 MB debootstrap image. keep-id's first run of an image is on
# fuse-overlayfs (which translates owners as it reads) and starts a background copy of the layers owned as
# keep-id needs (storage/shiftedLayers.ts); later runs are on kernel overlay over that copy.
#
#   start:   `run --rm IMAGE true` — a normal run; keep-id's first run (copies removed before each one);
#            keep-id's later runs; and how long the background copy took.
#   file I/O, timed inside the container (start-up excluded), as root inside (-u 0) so every contender
#            does the same work:
#              tree copy   cp -a /usr /tmp/usr2 && sync   (~6k files, ~100 MB)
#              small files 2,000 files of a few bytes written, then all of /usr/bin read
#              read image  every file under /usr read once
#            on: the default (kernel overlay, normal mapping); keep-id on its copies (kernel overlay);
#            keep-id on fuse-overlayfs (--storage-driver fuse-overlayfs: what every keep-id run was before
#            the copies); keep-id on vfs (a translating copy of the image per container).
# Contenders alternate within each round; each figure is median [min–max] of RUNS rounds.
#
# Usage (as an unprivileged user with a subuid range): bench/keep-id.sh [DEBOOTSTRAP.tar.gz] [RUNS]
#   LODGER_BASELINE=DIR  also times another built checkout's keep-id first and later runs (its own store)
# The tarball defaults to /var/tmp/lodger-fixtures/debootstrap.tar.gz (scripts/build-debootstrap-fixture.sh, as root).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tarball=${1:-/var/tmp/lodger-fixtures/debootstrap.tar.gz}
runs=${2:-5}
[ "$(id -u)" != 0 ] || { echo "run as an unprivileged user with a subuid range: keep-id is a rootless mapping" >&2; exit 1; }
[ -r "$tarball" ] || { echo "$tarball is missing: build it with 'sudo bash scripts/build-debootstrap-fixture.sh'" >&2; exit 1; }
command -v fuse-overlayfs >/dev/null || { echo "fuse-overlayfs is needed (apt install fuse-overlayfs)" >&2; exit 1; }
# Users do not have NODE_EXTRA_CA_CERTS; it adds ~90 ms to every node start on this workplace's machines.
unset NODE_EXTRA_CA_CERTS

work=$(mktemp -d /var/tmp/lodger-bench-keepid.XXXXXX)
userns_rm() { unshare --map-root-user --map-auto rm -rf "$@" 2>/dev/null || rm -rf "$@"; }
cleanup() { userns_rm "$work"; }
trap cleanup EXIT
export LODGER_ROOT="$work/store"
lodger="$repo/bin/lodger"
base="${LODGER_BASELINE:+$LODGER_BASELINE/bin/lodger}"

now() { date +%s%N; }
# ms CMD…: wall time of one run of CMD (its output discarded), in milliseconds.
ms() { local t0 t1; t0=$(now); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; t1=$(now); echo $(((t1 - t0) / 1000000)); }
# "median [min–max]" of the numbers given.
summary() { node -e 'const v=process.argv.slice(1).map(Number).sort((a,b)=>a-b);const m=v[Math.floor((v.length-1)/2)];console.log(`${m} [${v[0]}–${v[v.length-1]}]`)' -- "$@"; }
ratio() { node -e 'const m=(s)=>{const v=s.trim().split(/\s+/).map(Number).sort((a,b)=>a-b);return v[Math.floor((v.length-1)/2)]};console.log((m(process.argv[1])/m(process.argv[2])).toFixed(2))' -- "$1" "$2"; }

# Waits until no background copy of this store runs any more.
settle() { while pgrep -u "$(id -u)" -f "__shift-layers $1" >/dev/null; do sleep 0.2; done; }
copies_ready() { [ -n "$(find "$LODGER_ROOT/shifted" -mindepth 3 -maxdepth 3 -name shifted.json 2>/dev/null)" ]; }

"$lodger" import "$tarball" deb:bench >/dev/null
"$lodger" run --rm deb:bench true >/dev/null   # the storage-driver probe, once per store, out of the figures
if [ -n "$base" ]; then
  LODGER_ROOT="$work/base" "$base" import "$tarball" deb:bench >/dev/null
  LODGER_ROOT="$work/base" "$base" run --rm deb:bench true >/dev/null
fi

declare -A t
add() { t[$1]="${t[$1]:-} $2"; }

for ((i = 0; i < runs; i++)); do
  add plain "$(ms "$lodger" run --rm deb:bench true)"
  settle "$LODGER_ROOT"; userns_rm "$LODGER_ROOT/shifted"
  add first "$(ms "$lodger" run --rm --userns=keep-id deb:bench true)"
  t0=$(now); settle "$LODGER_ROOT"
  copies_ready || { echo "the background copy did not complete" >&2; exit 1; }
  add copy "$((($(now) - t0) / 1000000))"
  add later "$(ms "$lodger" run --rm --userns=keep-id deb:bench true)"
  if [ -n "$base" ]; then
    add base_plain "$(LODGER_ROOT="$work/base" ms "$base" run --rm deb:bench true)"
    add base_keepid "$(LODGER_ROOT="$work/base" ms "$base" run --rm --userns=keep-id deb:bench true)"
  fi
done
[ "$("$lodger" run --rm --userns=keep-id deb:bench sh -c 'grep " / / " /proc/self/mountinfo | sed "s/.* - //" | cut -d" " -f1')" = overlay ] ||
  { echo "keep-id does not run on kernel overlay after its copy" >&2; exit 1; }
# The copies' size, as their records say (their files are owned by subordinate ids: du could not enter them all).
copy_size=$(cat "$LODGER_ROOT"/shifted/*/*/shifted.json | node -e 'let s=0;for(const m of require("fs").readFileSync(0,"utf8").matchAll(/"bytes": (\d+)/g))s+=Number(m[1]);console.log(Math.round(s/1e6))')

# job NAME SCRIPT: the script's own time, in ms, printed by the container.
declare -A jobs=(
  [tree]='cp -a /usr /tmp/usr2 && sync'
  [small]='i=0; while [ $i -lt 2000 ]; do echo $i > /tmp/f$i; i=$((i+1)); done; cat /usr/bin/* >/dev/null 2>&1; sync'
  [read]='find /usr -xdev -type f -exec cat {} + >/dev/null'
)
declare -A how=(
  [default]=''
  [keepid]='--userns=keep-id -u 0'
  [fuse]='--userns=keep-id -u 0 --storage-driver fuse-overlayfs'
  [vfs]='--userns=keep-id -u 0 --storage-driver vfs'
)
order=(default keepid fuse vfs)
for ((i = 0; i < runs; i++)); do
  for j in tree small read; do
    for c in "${order[@]}"; do
      # shellcheck disable=SC2086
      v=$("$lodger" run --rm ${how[$c]} deb:bench sh -c "s=\$(date +%s%N); ${jobs[$j]}; e=\$(date +%s%N); echo \$(((e - s) / 1000000))" | tail -n 1)
      add "$c,$j" "$v"
    done
  done
done

echo "keep-id on the debootstrap image ($(du -sh --apparent-size "$tarball" | cut -f1) gzip), ms, median [min–max] of $runs:"
printf '  %-44s %s\n' "run --rm true, normal" "$(summary ${t[plain]})"
printf '  %-44s %s   (%s× normal; target ≤ 1.2)\n' "keep-id first run (fuse-overlayfs)" "$(summary ${t[first]})" "$(ratio "${t[first]}" "${t[plain]}")"
printf '  %-44s %s   (%s MB on disk)\n' "  background copy, after it" "$(summary ${t[copy]})" "$copy_size"
printf '  %-44s %s   (%s× normal)\n' "keep-id later runs (kernel overlay, copies)" "$(summary ${t[later]})" "$(ratio "${t[later]}" "${t[plain]}")"
if [ -n "$base" ]; then
  printf '  %-44s %s\n' "before: run --rm true, normal" "$(summary ${t[base_plain]})"
  printf '  %-44s %s   (%s× its normal)\n' "before: keep-id run (fuse-overlayfs)" "$(summary ${t[base_keepid]})" "$(ratio "${t[base_keepid]}" "${t[base_plain]}")"
fi
echo "file I/O inside the container, ms, median [min–max] of $runs (ratio to the default driver; target for keep-id ≤ 1.3):"
for j in tree small read; do
  printf '  %-12s' "$j"
  for c in "${order[@]}"; do printf '  %s %s (%s×)' "$c" "$(summary ${t[$c,$j]})" "$(ratio "${t[$c,$j]}" "${t[default,$j]}")"; done
  echo
done
