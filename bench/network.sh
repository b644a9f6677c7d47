#!/usr/bin/env bash
# Benchmark: iperf3 throughput through each userspace network backend, host→container through a published
# port (-p) and container→host (to the host's loopback via the backend's gateway), side by side with
# rootless podman on slirp4netns. iperf3 (Debian) is bind-mounted with its libraries into a busybox image.
#
# Usage (as an unprivileged user with a subuid range): bench/network.sh [SECONDS]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
secs=${1:-3}
[ "$(id -u)" != 0 ] || { echo "run as an unprivileged user" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "iperf3 is needed (apt install iperf3)" >&2; exit 1; }
unset NODE_EXTRA_CA_CERTS
work=$(mktemp -d /var/tmp/lodger-bench-net.XXXXXX)
export LODGER_ROOT="$work/store"
lodger="$repo/bin/lodger"
podman="podman --root $work/podman --runroot $work/podman-run --runtime runc --cgroup-manager cgroupfs --events-backend none"
cleanup() {
  "$lodger" rm -f $("$lodger" ps -aq --no-trunc) >/dev/null 2>&1 || true
  $podman rm -af >/dev/null 2>&1 || true; $podman rmi -af >/dev/null 2>&1 || true
  [ -z "${hostsrv:-}" ] || kill "$hostsrv" 2>/dev/null || true
  unshare --map-root-user --map-auto rm -rf "$work" 2>/dev/null || rm -rf "$work"
}
trap cleanup EXIT

bash "$repo/scripts/busybox-rootfs.sh" "$work/rootfs" >/dev/null
tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/busybox.tar" .
"$lodger" import "$work/busybox.tar" bench-busybox >/dev/null
mounts=(-v /usr/bin/iperf3:/usr/bin/iperf3:ro -v /lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:ro -v /lib64:/lib64:ro)

gbits() { node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log((j.end.sum_received.bits_per_second/1e9).toFixed(2))'; }
port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# Container → host: a server on the host's loopback, reached through the backend's gateway.
hp=$(port)
iperf3 -s -B 127.0.0.1 -p "$hp" >/dev/null 2>&1 &
hostsrv=$!
sleep 0.3

declare -A result
run_pair() { # name, tool, network option, gateway address seen from the container
  local name=$1 tool=$2 netopt=$3 gw=$4 p id
  p=$(port)
  if [ "$tool" = lodger ]; then
    id=$("$lodger" run -d --network "$netopt" -p "127.0.0.1:$p:5201" "${mounts[@]}" bench-busybox iperf3 -s)
  else
    id=$($podman run -d --network "$netopt" -p "127.0.0.1:$p:5201" "${mounts[@]}" bench-busybox iperf3 -s)
  fi
  sleep 0.5
  result[$name,in]=$(iperf3 -c 127.0.0.1 -p "$p" -t "$secs" -J | gbits)
  if [ "$tool" = lodger ]; then
    result[$name,out]=$("$lodger" run --rm --network "$netopt" "${mounts[@]}" bench-busybox iperf3 -c "$gw" -p "$hp" -t "$secs" -J | gbits)
    "$lodger" rm -f "$id" >/dev/null
  else
    result[$name,out]=$($podman run --rm --network "$netopt" "${mounts[@]}" bench-busybox iperf3 -c "$gw" -p "$hp" -t "$secs" -J | gbits)
    $podman rm -f "$id" >/dev/null
  fi
}

run_pair "lodger pasta" lodger "pasta:--map-gw" "$(ip -4 route show default | awk '{print $3; exit}')"
run_pair "lodger slirp4netns" lodger "slirp4netns:allow_host_loopback=true" 10.0.2.2
if command -v podman >/dev/null; then
  $podman import "$work/busybox.tar" bench-busybox >/dev/null 2>&1
  run_pair "podman slirp4netns" podman "slirp4netns:allow_host_loopback=true" 10.0.2.2
fi
echo "iperf3, ${secs} s each, Gbit/s (host→container through -p / container→host):"
for n in "lodger pasta" "lodger slirp4netns" "podman slirp4netns"; do
  [ -n "${result[$n,in]:-}" ] && printf '  %-20s %6s / %6s\n' "$n" "${result[$n,in]}" "${result[$n,out]}"
done
