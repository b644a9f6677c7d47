# Root-side host preparation shared by .ci/run and scripts/setup-host.sh: packages, users, subids, devices, cgroup delegation.
# shellcheck shell=bash
# Sourced, not run. Every function is idempotent, so running a script twice changes nothing the second time.

host_log() { printf '%s\n' "$*" >&2; }
host_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Package names from a list file: one per line, '#' starts a comment.
host_package_list() {
  sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1"
}

# apt-get update + install of every package in the list file. The mirror sometimes drops a connection,
# so each apt step is retried a few times before giving up. Packages whose Recommends must not come
# along are listed in NORECOMMENDS below: docker-compose recommends docker.io, whose dockerd and
# containerd would start as root-run daemons on the host (lodger's tests use the static client by path).
HOST_NORECOMMENDS=(docker-compose)
host_install_packages() {
  local list="$1" pkgs missing=() p try plain=() bare=()
  mapfile -t pkgs < <(host_package_list "$list")
  [ "${#pkgs[@]}" -gt 0 ] || host_die "no packages listed in $list"
  # Skipping apt entirely when everything is installed keeps a re-run fast and offline-safe.
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    host_log "all ${#pkgs[@]} packages from $list are installed"
    return 0
  fi
  host_log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  for try in 1 2 3; do
    apt-get update -q && break
    [ "$try" = 3 ] && host_die "apt-get update failed three times"
    sleep $((try * 5))
  done
  for p in "${missing[@]}"; do
    if [[ " ${HOST_NORECOMMENDS[*]} " == *" $p "* ]]; then bare+=("$p"); else plain+=("$p"); fi
  done
  for try in 1 2 3; do
    { [ "${#plain[@]}" -eq 0 ] || apt-get install -y -q "${plain[@]}"; } &&
      { [ "${#bare[@]}" -eq 0 ] || apt-get install -y -q --no-install-recommends "${bare[@]}"; } && return 0
    [ "$try" = 3 ] && host_die "apt-get install failed three times: ${missing[*]}"
    sleep $((try * 5))
  done
}

# Ensures a user with this uid exists (with a home directory); never renumbers an existing user.
# Debian's useradd would add a subuid range on its own; -K ..._COUNT=0 stops that so subids stay ours to decide.
host_ensure_user() {
  local name="$1" uid="$2" have
  if have=$(id -u "$name" 2>/dev/null); then
    [ "$have" = "$uid" ] || host_die "user $name exists with uid $have, expected $uid"
  else
    getent passwd "$uid" >/dev/null && host_die "uid $uid is taken by $(getent passwd "$uid" | cut -d: -f1)"
    useradd --uid "$uid" --user-group --create-home --shell /bin/bash \
      -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$name"
    host_log "created user $name ($uid)"
  fi
  local home
  home=$(getent passwd "$name" | cut -d: -f6)
  if [ ! -d "$home" ]; then
    install -d -m 0755 -o "$name" -g "$(id -g "$name")" "$home"
  fi
}

# Makes NAME's entries in /etc/subuid and /etc/subgid exactly START:COUNT ("none" removes them).
host_set_subids() {
  local name="$1" range="$2" f uid
  uid=$(id -u "$name")
  for f in /etc/subuid /etc/subgid; do
    [ -e "$f" ] || install -m 0644 /dev/null "$f"
    if [ "$range" = none ]; then
      # Entries may name the user or its numeric uid (shadow accepts both).
      if grep -qE "^($name|$uid):" "$f"; then
        sed -i -E "/^($name|$uid):/d" "$f"
        host_log "removed $name's entries from $f"
      fi
    elif ! grep -qx "$name:$range" "$f" || [ "$(grep -cE "^($name|$uid):" "$f")" != 1 ]; then
      sed -i -E "/^($name|$uid):/d" "$f"
      printf '%s:%s\n' "$name" "$range" >>"$f"
      host_log "set $f entry $name:$range"
    fi
  done
}

# Adds a subuid/subgid range for NAME only if it has none, after the highest range in use.
host_add_subids_if_missing() {
  local name="$1" count="${2:-65536}" uid f start=100000 end
  uid=$(id -u "$name")
  if grep -qE "^($name|$uid):" /etc/subuid 2>/dev/null && grep -qE "^($name|$uid):" /etc/subgid 2>/dev/null; then
    host_log "$name already has subuid and subgid ranges"
    return 0
  fi
  for f in /etc/subuid /etc/subgid; do
    [ -e "$f" ] || continue
    end=$(awk -F: 'NF == 3 { e = $2 + $3; if (e > m) m = e } END { print m + 0 }' "$f")
    [ "$end" -gt "$start" ] && start=$end
  done
  host_set_subids "$name" "$start:$count"
}

# /dev/fuse and /dev/net/tun are 0600 on a fresh machine of this kind; a normal distro has them 0666,
# and fuse-overlayfs, squashfuse, slirp4netns and pasta need them as an unprivileged user.
host_open_devices() {
  [ -e /dev/fuse ] || mknod -m 0666 /dev/fuse c 10 229
  if [ ! -e /dev/net/tun ]; then
    mkdir -p /dev/net
    mknod -m 0666 /dev/net/tun c 10 200
  fi
  chmod 0666 /dev/fuse /dev/net/tun
}

# Warns when the kernel forbids unprivileged user namespaces; changing that sysctl is the admin's decision, not ours.
host_check_userns() {
  local f=/proc/sys/kernel/unprivileged_userns_clone
  if [ -r "$f" ] && [ "$(cat "$f")" = 0 ]; then
    host_log "warning: $f is 0: lodger needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)"
  fi
  if [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 1)" = 0 ]; then
    host_log "warning: user.max_user_namespaces is 0: lodger needs user namespaces"
  fi
}

# The mount point of the cgroup2 hierarchy: /sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid ones.
# The filesystem type follows the " - " separator in mountinfo, after a variable number of optional fields.
host_cgroup2_mount() {
  awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo
}

# Enables every controller a cgroup offers in its own subtree_control, so its children get them.
# A controller the kernel refuses (e.g. one still bound to a v1 hierarchy) is reported and left out.
host_enable_controllers() {
  local cg="$1" c ctrls
  read -r -a ctrls <"$cg/cgroup.controllers" || true
  for c in "${ctrls[@]}"; do
    grep -qw "$c" "$cg/cgroup.subtree_control" && continue
    echo "+$c" >"$cg/cgroup.subtree_control" 2>/dev/null || host_log "note: controller $c cannot be enabled in $cg"
  done
}

# Delegates <cgroup2>/lodger.delegate/USER to USER the way systemd's Delegate=yes does: controllers enabled
# from the root down to its parent, the subtree chowned, and a leaf "session" for the user's processes
# (a cgroup with controllers enabled for its children may not hold processes itself). Prints the path.
host_delegate_cgroup() {
  local user="$1" mnt base dir
  mnt=$(host_cgroup2_mount)
  [ -n "$mnt" ] || { host_log "no cgroup2 mount found: cgroup tests cannot run"; return 1; }
  base="$mnt/lodger.delegate"
  dir="$base/$user"
  host_enable_controllers "$mnt"
  mkdir -p "$base" || return 1
  host_enable_controllers "$base"
  mkdir -p "$dir/session" || return 1
  chown -R "$user:$(id -g "$user")" "$dir" || return 1
  printf '%s\n' "$dir"
}

# Moves a process into a cgroup (root may move any process anywhere).
host_move_to_cgroup() {
  echo "$2" >"$1/cgroup.procs"
}

# Starts a systemd user manager (with its session bus) for USER, as a login would on a systemd host, so
# the tests can exercise lodger's delegated-scope route. On a host booted with systemd, that is
# user@UID.service (lingering). Elsewhere (CI's machine: PID 1 is not systemd) the manager runs in
# CGROUP/user-manager, inside the user's delegated subtree, where it may move the user's own processes
# (cgroup-v2.rst "Delegation Containment"). `systemd --user` refuses to start unless sd_booted(3) says
# the system runs systemd, which it reads from /run/systemd/system: that marker exists only while the
# manager starts, then goes, so nothing else on the host (apt's maintainer scripts) mistakes the host
# for a systemd one.
host_start_user_manager() {
  local user="$1" cgroup="$2" uid runtime manager marker_made=false i
  uid=$(id -u "$user")
  runtime="/run/user/$uid"
  [ -x /lib/systemd/systemd ] || { host_log "systemd is not installed: no user manager"; return 1; }
  if [ -S "$runtime/systemd/private" ] && [ -S "$runtime/bus" ] && pgrep -u "$user" -f 'systemd --user' >/dev/null; then
    host_log "the user manager of $user is running already"
    printf '%s\n' "$runtime"
    return 0
  fi
  if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
    loginctl enable-linger "$user" && systemctl start "user@$uid.service" || return 1
  else
    mkdir -p "$runtime" && chown "$user:$(id -g "$user")" "$runtime" && chmod 0700 "$runtime" || return 1
    # Sockets left by a manager that is gone would make the wait below end before the new one listens.
    rm -rf "$runtime/systemd" "$runtime/bus"
    manager="$cgroup/user-manager"
    mkdir -p "$manager" && chown -R "$user:$(id -g "$user")" "$manager" || return 1
    if [ ! -d /run/systemd/system ]; then mkdir -p /run/systemd/system && marker_made=true; fi
    setsid sh -c 'echo $$ > "$1/cgroup.procs" && exec runuser -u "$2" -- env -i HOME="$(getent passwd "$2" | cut -d: -f6)" \
      USER="$2" LOGNAME="$2" XDG_RUNTIME_DIR="$3" PATH=/usr/local/bin:/usr/bin:/bin /lib/systemd/systemd --user' \
      sh "$manager" "$user" "$runtime" </dev/null >/var/log/lodger-user-manager.log 2>&1 &
  fi
  # A first start on a fresh machine runs generators and loads every user unit: give it 30 s.
  for i in $(seq 300); do
    [ -S "$runtime/systemd/private" ] && [ -S "$runtime/bus" ] && break
    sleep 0.1
  done
  ! $marker_made || rmdir /run/systemd/system
  [ -S "$runtime/bus" ] || { host_log "the user manager of $user did not start: see /var/log/lodger-user-manager.log"; return 1; }
  printf '%s\n' "$runtime"
}

# A read-only image store owned by OWNER, not by the test user — what an admin shares on a cluster
# (docs/HPC.md "Additional read-only image stores"): the busybox image of scripts/busybox-rootfs.sh as
# sharedbb:1, imported by running the built lodger as OWNER, then made world-readable and not writable
# by anyone else (chmod a+rX,go-w). test/integration/hpc-stores.test.ts reads it as an additional store.
# Needs the built lodger in REPO (bin/, dist/, build/Release/). OWNER runs a copy of it from a private temp
# directory, because REPO may sit where OWNER cannot enter (CI's clone is in root's 0700 temp dir).
# Idempotent: a store made by the same lodger from the same busybox and script (recorded in DIR.stamp) is
# kept as it is; a rebuilt lodger makes it again, so the way it is made is exercised with every change.
host_shared_store() {
  local repo="$1" owner="$2" dir="$3" key kit f ok
  for f in bin/lodger dist/lodger.js build/Release/lodger-helper build/Release/lodger_native.node; do
    [ -e "$repo/$f" ] || { host_log "lodger is not built ($repo/$f is missing): no shared store"; return 1; }
  done
  key=$({ sha256sum /bin/busybox "$repo/scripts/busybox-rootfs.sh" "$repo/bin/lodger" "$repo/dist/lodger.js" \
    "$repo/build/Release/lodger-helper" "$repo/build/Release/lodger_native.node" | cut -d' ' -f1; echo "$owner"; } | sha256sum | cut -c1-16)
  if [ -s "$dir/images.json" ] && grep -q 'localhost/sharedbb:1' "$dir/images.json" && [ "$(cat "$dir.stamp" 2>/dev/null)" = "$key" ]; then
    host_log "shared store $dir is in place (owner $(stat -c %U "$dir"))"
    return 0
  fi
  kit=$(mktemp -d /tmp/lodger-shared-kit.XXXXXX)
  mkdir -p "$kit/bin" "$kit/dist" "$kit/build/Release" "$kit/work"
  # lodger as installed: bin/lodger (which its store workers are started through), the bundle, the native parts.
  cp "$repo/bin/lodger" "$kit/bin/"
  cp "$repo/dist/lodger.js" "$kit/dist/"
  cp "$repo/build/Release/lodger-helper" "$repo/build/Release/lodger_native.node" "$kit/build/Release/"
  cp "$repo/scripts/busybox-rootfs.sh" "$kit/"
  chown "$owner:$(id -g "$owner")" "$kit/work"
  chmod -R a+rX "$kit"
  rm -rf --one-file-system "$dir.new"
  install -d -m 0755 -o "$owner" -g "$(id -g "$owner")" "$dir.new"
  # As OWNER: no XDG_RUNTIME_DIR, as in a batch job (runtime state goes to a private dir in /tmp).
  ok=true
  # shellcheck disable=SC2016  # expanded by the inner bash, from its arguments
  runuser -u "$owner" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$(getent passwd "$owner" | cut -d: -f6)" \
      LODGER_ROOT="$dir.new" bash -c '
        set -e
        cd "$1/work"
        bash "$1/busybox-rootfs.sh" rootfs >/dev/null
        tar --numeric-owner --owner=0 --group=0 -C rootfs -cf bb.tar .
        "$2" "$1/bin/lodger" import bb.tar sharedbb:1 >/dev/null' sh "$kit" "$(command -v node)" || ok=false
  rm -rf --one-file-system "$kit"
  if ! $ok; then
    host_log "lodger import as $owner failed: no shared store"
    rm -rf --one-file-system "$dir.new"
    return 1
  fi
  chmod -R a+rX,go-w "$dir.new"
  rm -rf --one-file-system "$dir"
  mv "$dir.new" "$dir"
  printf '%s\n' "$key" >"$dir.stamp"
  host_log "shared store $dir populated as $owner"
}

# CDI specs in the default directories (container-device-interface SPEC.md: /etc/cdi for static specs,
# /var/run/cdi for generated ones, the later directory winning for a device both define) for
# test/integration/hpc-devices.test.ts: kind lodger.test/dev, whose "devices" are ordinary host nodes
# (/dev/null, /dev/zero, /dev/full — what a GPU's spec does with /dev/nvidia0), with env, a read-only bind
# mount, and a device ("zero") that /var/run/cdi redefines. JSON in one directory and YAML in the other,
# as nvidia-ctk writes either. Idempotent: the files are rewritten with the same contents.
host_install_cdi_specs() {
  local data=/usr/local/share/lodger-test-cdi
  install -d -m 0755 /etc/cdi /var/run/cdi "$data" || return 1
  printf 'lodger test CDI driver files\n' >"$data/driver.txt"
  chmod 0644 "$data/driver.txt"
  cat >/etc/cdi/lodger-test.json <<JSON
{
  "cdiVersion": "0.6.0",
  "kind": "lodger.test/dev",
  "containerEdits": {
    "env": ["LODGER_CDI_SPEC=etc"],
    "mounts": [{ "hostPath": "$data", "containerPath": "/opt/lodger-cdi", "options": ["ro", "nosuid", "nodev", "bind"] }]
  },
  "devices": [
    { "name": "null", "containerEdits": { "deviceNodes": [{ "path": "/dev/lodger-test/null", "hostPath": "/dev/null" }], "env": ["LODGER_CDI_NULL=etc"] } },
    { "name": "zero", "containerEdits": { "deviceNodes": [{ "path": "/dev/lodger-test/zero", "hostPath": "/dev/zero" }], "env": ["LODGER_CDI_ZERO=etc"] } }
  ]
}
JSON
  cat >/var/run/cdi/lodger-test.yaml <<'YAML'
# Redefines lodger.test/dev=zero (as /dev/full): /var/run/cdi takes precedence over /etc/cdi.
cdiVersion: "0.6.0"
kind: lodger.test/dev
devices:
- name: zero
  containerEdits:
    deviceNodes:
    - path: /dev/lodger-test/zero
      hostPath: /dev/full
    env:
    - LODGER_CDI_ZERO=run
- name: full
  containerEdits:
    deviceNodes:
    - path: /dev/lodger-test/full
      hostPath: /dev/full
YAML
  chmod 0644 /etc/cdi/lodger-test.json /var/run/cdi/lodger-test.yaml
  host_log "CDI test specs: /etc/cdi/lodger-test.json, /var/run/cdi/lodger-test.yaml"
}
