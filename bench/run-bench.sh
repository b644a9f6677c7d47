#!/usr/bin/env bash
# Runs every benchmark in bench/ one after the other (each prints its own ratios).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for b in "$here"/start-latency.sh "$here"/pull.sh "$here"/ps-scale.sh "$here"/network.sh "$here"/container-cost.sh; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b"
done
