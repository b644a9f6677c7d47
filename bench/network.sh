#!/usr/bin/env bash
# Benchmark: iperf3 throughput through each userspace network backend, host→container through a published
# port (-p) and container→host (to the host's loopback via the backend's gateway), side by side with
# rootless podman on slirp4netns and with pasta run by hand (no lodger: pasta's own ceiling on this
# machine). iperf3 (Debian) is bind-mounted with its libraries into a busybox image. Each figure is the
# median of RUNS runs, with the lowest and highest in brackets (pasta's tap path varies from run to run).
#
# Usage (as an unprivileged user with a subuid range): bench/network.sh [SECONDS] [RUNS]
#   LODGER_BASELINE=DIR   also measure another built checkout's default network (host→container), runs
#                         alternating with this checkout's default: before/after of a change of default
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
secs=${1:-3}
runs=${2:-3}
[ "$(id -u)" != 0 ] || { echo "run as an unprivileged user" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "iperf3 is needed (apt install iperf3)" >&2; exit 1; }
unset NODE_EXTRA_CA_CERTS
work=$(mktemp -d /var/tmp/lodger-bench-net.XXXXXX)
export LODGER_ROOT="$work/store"
lodger="$repo/bin/lodger"
podman="podman --root $work/podman --runroot $work/podman-run --runtime runc --cgroup-manager cgroupfs --events-backend none"
cleanup() {
  "$lodger" rm -f $("$lodger" ps -aq --no-trunc) >/dev/null 2>&1 || true
  [ -z "${LODGER_BASELINE:-}" ] || LODGER_ROOT="$work/store-before" "$LODGER_BASELINE/bin/lodger" rm -f $(LODGER_ROOT="$work/store-before" "$LODGER_BASELINE/bin/lodger" ps -aq --no-trunc) >/dev/null 2>&1 || true
  $podman rm -af >/dev/null 2>&1 || true; $podman rmi -af >/dev/null 2>&1 || true
  [ -z "${hostsrv:-}" ] || kill "$hostsrv" 2>/dev/null || true
  unshare --map-root-user --map-auto rm -rf "$work" 2>/dev/null || rm -rf "$work"
}
trap cleanup EXIT

bash "$repo/scripts/busybox-rootfs.sh" "$work/rootfs" >/dev/null
tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/busybox.tar" .
"$lodger" import "$work/busybox.tar" bench-busybox >/dev/null
mounts=(-v /usr/bin/iperf3:/usr/bin/iperf3:ro -v /lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:ro -v /lib64:/lib64:ro)

gbits() { node -e 'const t=require("fs").readFileSync(0,"utf8");try{const j=JSON.parse(t);console.log((j.end.sum_received.bits_per_second/1e9).toFixed(2))}catch{console.log("fail")}'; }
port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
# "median [min–max]" of the numbers given (a failed run counts as 0).
summary() { node -e 'const v=process.argv.slice(1).map((x)=>Number(x)||0).sort((a,b)=>a-b);const m=v[Math.floor((v.length-1)/2)];console.log(v.length>1?`${m.toFixed(2)} [${v[0].toFixed(2)}–${v[v.length-1].toFixed(2)}]`:m.toFixed(2))' "$@"; }

# Container → host: a server on the host's loopback, reached through the backend's gateway.
hp=$(port)
iperf3 -s -B 127.0.0.1 -p "$hp" >/dev/null 2>&1 &
hostsrv=$!
sleep 0.3
gw=$(ip -4 route show default | awk '{print $3; exit}')

declare -A result
run_pair() { # name, tool, network option, gateway address seen from the container
  local name=$1 tool=$2 netopt=$3 to=$4 p id i ins=() outs=()
  for ((i = 0; i < runs; i++)); do
    p=$(port)
    if [ "$tool" = lodger ]; then
      id=$("$lodger" run -d --network "$netopt" -p "127.0.0.1:$p:5201" "${mounts[@]}" bench-busybox iperf3 -s)
    else
      id=$($podman run -d --network "$netopt" -p "127.0.0.1:$p:5201" "${mounts[@]}" bench-busybox iperf3 -s)
    fi
    sleep 0.5
    ins+=("$(iperf3 -c 127.0.0.1 -p "$p" -t "$secs" -J | gbits)")
    if [ "$tool" = lodger ]; then
      outs+=("$("$lodger" run --rm --network "$netopt" "${mounts[@]}" bench-busybox iperf3 -c "$to" -p "$hp" -t "$secs" -J | gbits)")
      "$lodger" rm -f "$id" >/dev/null
    else
      outs+=("$($podman run --rm --network "$netopt" "${mounts[@]}" bench-busybox iperf3 -c "$to" -p "$hp" -t "$secs" -J | gbits)")
      $podman rm -f "$id" >/dev/null
    fi
  done
  result[$name,in]=$(summary "${ins[@]}")
  result[$name,out]=$(summary "${outs[@]}")
}

# pasta by hand, as lodger starts it but without lodger's tuning of the gateway route: its own ceiling.
run_bare_pasta() {
  local name="pasta by hand" p i ins=() outs=()
  for ((i = 0; i < runs; i++)); do
    p=$(port)
    pasta --config-net -q -f -t "127.0.0.1/$p:5201" -u none -T none -U none -- iperf3 -s -1 >/dev/null 2>&1 &
    local bare=$!
    sleep 0.5
    ins+=("$(iperf3 -c 127.0.0.1 -p "$p" -t "$secs" -J | gbits)")
    wait "$bare" 2>/dev/null || true
    outs+=("$(pasta --config-net -q -f -t none -u none -T none -U none -- iperf3 -c "$gw" -p "$hp" -t "$secs" -J 2>/dev/null | gbits)")
  done
  result[$name,in]=$(summary "${ins[@]}")
  result[$name,out]=$(summary "${outs[@]}")
}

# Each checkout's default network (no --network), host→container only: the default cannot reach the
# host's loopback. With LODGER_BASELINE the two alternate run by run, each in a store of its own.
run_defaults() {
  local names=("lodger default") bins=("$lodger") roots=("$LODGER_ROOT") i k p id
  if [ -n "${LODGER_BASELINE:-}" ]; then
    names+=("before: default"); bins+=("$LODGER_BASELINE/bin/lodger"); roots+=("$work/store-before")
    LODGER_ROOT="$work/store-before" "$LODGER_BASELINE/bin/lodger" import "$work/busybox.tar" bench-busybox >/dev/null
  fi
  declare -A got
  for ((i = 0; i < runs; i++)); do
    for k in "${!names[@]}"; do
      p=$(port)
      id=$(LODGER_ROOT="${roots[$k]}" "${bins[$k]}" run -d -p "127.0.0.1:$p:5201" "${mounts[@]}" bench-busybox iperf3 -s)
      sleep 0.5
      got[$k]+=" $(iperf3 -c 127.0.0.1 -p "$p" -t "$secs" -J | gbits)"
      LODGER_ROOT="${roots[$k]}" "${bins[$k]}" rm -f "$id" >/dev/null
    done
  done
  for k in "${!names[@]}"; do
    result[${names[$k]},in]=$(summary ${got[$k]})
    result[${names[$k]},out]="-"
  done
}

run_defaults
run_pair "lodger pasta" lodger "pasta:--map-gw" "$gw"
command -v pasta >/dev/null && run_bare_pasta
run_pair "lodger slirp4netns" lodger "slirp4netns:allow_host_loopback=true" 10.0.2.2
if command -v podman >/dev/null; then
  $podman import "$work/busybox.tar" bench-busybox >/dev/null 2>&1
  run_pair "podman slirp4netns" podman "slirp4netns:allow_host_loopback=true" 10.0.2.2
fi
echo "iperf3, ${secs} s each, Gbit/s, median [min–max] of $runs (host→container through -p / container→host):"
for n in "before: default" "lodger default" "lodger pasta" "pasta by hand" "lodger slirp4netns" "podman slirp4netns"; do
  [ -n "${result[$n,in]:-}" ] && printf '  %-20s %-20s / %s\n' "$n" "${result[$n,in]}" "${result[$n,out]}"
done
