#!/usr/bin/env bash
# The root part of the README quick start: installs lodger's packages, opens /dev/fuse and /dev/net/tun, and gives a user a subuid range.
#
# Usage: sudo scripts/setup-host.sh [--user NAME]
#   --user NAME   also add a 65536-id subuid/subgid range for NAME if it has none (after the highest range in use)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib/host.sh
. "$here/lib/host.sh"

user=""
while [ $# -gt 0 ]; do
  case "$1" in
    --user) [ $# -ge 2 ] || host_die "--user needs a user name"; user="$2"; shift 2 ;;
    --user=*) user="${1#--user=}"; shift ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) host_die "unknown argument: $1 (see --help)" ;;
  esac
done

[ "$(id -u)" = 0 ] || host_die "run as root (sudo $0 $*): it installs packages and changes /etc/subuid"
if [ -n "$user" ]; then
  id -u "$user" >/dev/null 2>&1 || host_die "no such user: $user"
fi

host_install_packages "$here/packages.txt"
host_open_devices
host_check_userns
[ -z "$user" ] || host_add_subids_if_missing "$user"

echo "host ready: now, as your normal user, run scripts/quickstart.sh"
