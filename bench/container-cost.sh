#!/usr/bin/env bash
# Benchmark: the memory a detached container costs in lodger's own processes — its monitor (lodger-helper),
# the monitor's helpers (fuse-overlayfs under keep-id when it is used) and its network backend (pasta or
# slirp4netns) — over N detached `sleep` containers per contender, all started in one run.
#
# Per container: RSS (VmRSS of /proc/PID/status) summed over those processes. RSS is the figure every
# process shows to its user: pasta makes itself non-dumpable, so its /proc/PID/smaps_rollup (and so its
# PSS) is readable by root only. RSS counts shared pages (libc, libslirp, glib) once per process and so
# overstates: PSS (smaps_rollup, shared pages divided among their users) is printed too, summed over the
# processes that let us read it, with how many did not. The container's own processes are not counted.
#
# Usage (as an unprivileged user with a subuid range): bench/container-cost.sh [N]
#   LODGER_BASELINE=DIR   also measure another built checkout's default (before/after in one run)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n=${1:-20}
[ "$(id -u)" != 0 ] || { echo "run as an unprivileged user with a subuid range" >&2; exit 1; }
unset NODE_EXTRA_CA_CERTS

work=$(mktemp -d /var/tmp/lodger-bench-cost.XXXXXX)
active=()
cleanup() {
  for r in "${active[@]}"; do
    LODGER_ROOT="$r" "$repo/bin/lodger" rm -f $(LODGER_ROOT="$r" "$repo/bin/lodger" ps -aq --no-trunc) >/dev/null 2>&1 || true
  done
  unshare --map-root-user --map-auto rm -rf "$work" 2>/dev/null || rm -rf "$work"
}
trap cleanup EXIT

bash "$repo/scripts/busybox-rootfs.sh" "$work/rootfs" >/dev/null
tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/busybox.tar" .

# The processes of container ID that are lodger's: the container's parent (its monitor) and the monitor's
# other descendants, and whatever names the container's runtime directory (pasta's --log-file, slirp4netns'
# --api-socket). Prints "rss_kib pss_kib|- comm" per process.
procs_of() {
  node - "$1" "$2" <<'EOF'
const fs = require('fs');
const [pid, id] = [Number(process.argv[2]), process.argv[3]];
const status = (p) => { try { return Object.fromEntries(fs.readFileSync(`/proc/${p}/status`, 'utf8').split('\n').map((l) => l.split(/:\s*/))); } catch { return null; } };
const all = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
const info = new Map();
for (const p of all) {
  const s = status(p);
  if (!s) continue;
  let cmd = '';
  try { cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8'); } catch { /* gone or hidden */ }
  info.set(p, { ppid: Number(s.PPid), name: s.Name, rss: parseInt(s.VmRSS || '0', 10), cmd });
}
const monitor = info.get(pid)?.ppid;
const children = (p) => [...info.entries()].filter(([, v]) => v.ppid === p).map(([k]) => k);
const under = (root, skip) => { const out = []; const todo = [root]; while (todo.length) { const p = todo.pop(); if (p === skip) continue; out.push(p); todo.push(...children(p)); } return out; };
const mine = new Set(monitor ? under(monitor, pid) : []);
const tag = `/c/${id.slice(0, 12)}/`;
for (const [p, v] of info) if (v.cmd.includes(tag)) mine.add(p);
for (const p of mine) {
  const v = info.get(p);
  let pss = '-';
  try { pss = /^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'))[1]; } catch { /* not ours to read */ }
  console.log(`${v.rss} ${pss} ${v.name}`);
}
EOF
}

# contender NAME LODGER RUN-ARGS…: N detached containers, then the per-container figures.
report=()
contender() {
  local name=$1 bin=$2; shift 2
  local root="$work/store-${#report[@]}"
  active+=("$root")
  export LODGER_ROOT="$root"
  "$bin" import "$work/busybox.tar" bb >/dev/null
  local ids=() i
  for ((i = 0; i < n; i++)); do ids+=("$("$bin" run -d "$@" bb sleep 3600)"); done
  sleep 2   # fuse-overlayfs and the backends settle
  local rss=() pss=() hidden=0 kinds="" pid prss ppss pname
  for id in "${ids[@]}"; do
    pid=$("$bin" inspect --format '{{.State.Pid}}' "$id")
    local r=0 s=0
    while read -r prss ppss pname; do
      r=$((r + prss))
      if [ "$ppss" = - ]; then hidden=$((hidden + 1)); else s=$((s + ppss)); fi
      case " $kinds " in *" $pname "*) ;; *) kinds="$kinds $pname" ;; esac
    done < <(procs_of "$pid" "$id")
    rss+=("$r"); pss+=("$s")
  done
  "$bin" rm -f "${ids[@]}" >/dev/null
  report+=("$(node -e '
const [name, kinds, hidden, n, ...v] = process.argv.slice(1);
const half = v.length / 2;
const st = (a) => { a = a.map(Number).sort((x, y) => x - y); const f = (k) => (k / 1024).toFixed(1); return `${f(a[Math.floor((a.length - 1) / 2)])} [${f(a[0])}–${f(a[a.length - 1])}]`; };
console.log(`  ${name.padEnd(34)} RSS ${st(v.slice(0, half)).padEnd(20)} PSS ${st(v.slice(half)).padEnd(20)}${hidden > 0 ? ` (${hidden} unreadable)` : ""}  ${kinds.trim()}`);
' -- "$name" "$kinds" "$hidden" "$n" "${rss[@]}" "${pss[@]}")")
}

if [ -n "${LODGER_BASELINE:-}" ]; then contender "before: default network" "$LODGER_BASELINE/bin/lodger"; fi
contender "default network" "$repo/bin/lodger"
contender "default network, -p 127.0.0.1::80" "$repo/bin/lodger" -p 127.0.0.1::80
contender "pasta" "$repo/bin/lodger" --network pasta
contender "pasta:-4,--no-icmp" "$repo/bin/lodger" --network pasta:-4,--no-icmp
contender "slirp4netns" "$repo/bin/lodger" --network slirp4netns
contender "--network none" "$repo/bin/lodger" --network none
contender "default network, --userns=keep-id" "$repo/bin/lodger" --userns=keep-id
echo "lodger's processes per detached container, MiB, median [min–max] of $n (target: RSS ≤ 8):"
printf '%s\n' "${report[@]}"
