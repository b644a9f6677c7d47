#!/usr/bin/env bash
# Benchmark: `lodger build` side by side with `podman build` (Debian's podman 4.3 / buildah 1.28), same
# Dockerfile, same context, one run: (a) a cold build of FROM busybox + COPY + 3 RUN (no cache); (b) the
# fully cached rebuild; (c) a rebuild after changing the file the last COPY reads; and a bare `lodger
# images` for scale. Each figure is min / median / max wall time of RUNS runs; the ratio is lodger's
# median over podman's. Podman gets its own store, runroot and an empty auth file in a temp dir.
#
# Usage (as an unprivileged user with a subuid range): bench/build.sh [RUNS]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-5}
[ "$(id -u)" != 0 ] || { echo "run as an unprivileged user" >&2; exit 1; }
command -v podman >/dev/null || { echo "podman is needed (apt install podman)" >&2; exit 1; }
unset NODE_EXTRA_CA_CERTS
work=$(mktemp -d /var/tmp/lodger-bench-build.XXXXXX)
export LODGER_ROOT="$work/store"
lodger="$repo/bin/lodger"
echo '{}' >"$work/auth.json"
podman=(podman --root "$work/podman" --runroot "$work/podman-run" --runtime runc --cgroup-manager cgroupfs --events-backend none)
cleanup() {
  "${podman[@]}" rmi -af >/dev/null 2>&1 || true
  unshare --map-root-user --map-auto rm -rf "$work" 2>/dev/null || rm -rf "$work"
}
trap cleanup EXIT

bash "$repo/scripts/busybox-rootfs.sh" "$work/rootfs" >/dev/null
tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/busybox.tar" .
"$lodger" import "$work/busybox.tar" busybox >/dev/null
"${podman[@]}" import "$work/busybox.tar" localhost/busybox >/dev/null

ctx="$work/ctx"
mkdir -p "$ctx/src"
for i in $(seq 1 50); do head -c 20000 /dev/urandom | base64 >"$ctx/src/file$i.txt"; done
echo v1 >"$ctx/last.txt"
cat >"$ctx/Dockerfile" <<'EOF'
FROM localhost/busybox
COPY src /app/src
RUN mkdir -p /app/out && cat /app/src/*.txt | wc -c > /app/out/size
RUN adduser -D -u 1000 bob 2>/dev/null || echo 'bob:x:1000:1000::/home/bob:/bin/sh' >> /etc/passwd; mkdir -p /home/bob && chown 1000:1000 /home/bob
COPY last.txt /app/last.txt
RUN cat /app/last.txt > /app/out/last && rm -rf /app/src/file1.txt
EOF

ms() { date +%s%N; }
# "min / median / max" in seconds of the numbers (ns) given.
summary() { node -e 'const v=process.argv.slice(1).map(Number).sort((a,b)=>a-b);const f=(x)=>(x/1e9).toFixed(3);console.log(`${f(v[0])} / ${f(v[Math.floor((v.length-1)/2)])} / ${f(v[v.length-1])}`)' "$@"; }
median() { node -e 'const v=process.argv.slice(1).map(Number).sort((a,b)=>a-b);console.log(v[Math.floor((v.length-1)/2)])' "$@"; }

declare -A t
time_it() { # key, command…
  local key=$1; shift
  local s e
  s=$(ms); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@" >&2 || true; exit 1; }; e=$(ms)
  t[$key]="${t[$key]:-} $((e - s))"
}

lb() { "$lodger" build "$@" -t bench:lodger "$ctx"; }
pb() { "${podman[@]}" build --authfile "$work/auth.json" --layers --pull=never "$@" -t bench:podman "$ctx"; }

for ((i = 0; i < runs; i++)); do
  echo "v$i-a" >"$ctx/last.txt"
  time_it lodger-cold lb --no-cache
  time_it podman-cold pb --no-cache
  time_it lodger-cached lb
  time_it podman-cached pb
  echo "v$i-b" >"$ctx/last.txt"
  time_it lodger-last lb
  time_it podman-last pb
  time_it lodger-images "$lodger" images
done

printf '%-34s %-26s %-26s %s\n' "case (s: min / median / max)" "lodger" "podman build" "ratio"
for c in cold cached last; do
  lm=$(median ${t[lodger-$c]}); pm=$(median ${t[podman-$c]})
  ratio=$(node -e "console.log(($lm/$pm).toFixed(2))")
  case $c in cold) name="(a) cold, --no-cache";; cached) name="(b) fully cached";; last) name="(c) last COPY's file changed";; esac
  printf '%-34s %-26s %-26s %s\n' "$name" "$(summary ${t[lodger-$c]})" "$(summary ${t[podman-$c]})" "$ratio"
done
printf '%-34s %-26s\n' "lodger images (for scale)" "$(summary ${t[lodger-images]})"
