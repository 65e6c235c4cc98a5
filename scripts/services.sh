#!/usr/bin/env bash
# Installs (first run), starts (idempotently), reports and stops the real services the tests need.
#
#   scripts/services.sh up     [service...]   install what is missing, start what is down, print start times
#   scripts/services.sh status [service...]   one line per service; exit 1 when any is down
#   scripts/services.sh down   [service...]   stop (data stays under .services/)
#
# Services, in start order: python (pyiceberg venv), redis, s3, iceberg-rest, kafka, schema-registry, postgres, mariadb,
# debezium.
# Each lives in scripts/services/<name>.sh and defines <name>_install, <name>_start, <name>_status, <name>_stop.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/services/lib.sh
source "$ROOT/scripts/services/lib.sh"

ALL=(python redis s3 iceberg-rest kafka schema-registry postgres mariadb debezium)
action="${1:-status}"; shift || true
if (($# > 0)); then selected=("$@"); else selected=("${ALL[@]}"); fi
for name in "${selected[@]}"; do
  [[ " ${ALL[*]} " == *" $name "* ]] || die "unknown service '$name' (known: ${ALL[*]})"
  # shellcheck source=/dev/null
  source "$ROOT/scripts/services/$name.sh"
done

case "$action" in
  up)
    total_start=$SECONDS
    for name in "${selected[@]}"; do
      t0=$(date +%s.%N)
      if "${name}_status" >/dev/null 2>&1; then
        state="already up"
      else
        "${name}_install"
        "${name}_start"
        "${name}_status" >/dev/null || die "$name failed to start; see $SERVICES_DIR/$name/*.log"
        state="started"
      fi
      t1=$(date +%s.%N)
      printf '[services] %-15s %-10s %6.1fs\n' "$name" "$state" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')"
    done
    printf '[services] all up in %ss\n' "$((SECONDS - total_start))"
    ;;
  status)
    rc=0
    for name in "${selected[@]}"; do
      if detail="$("${name}_status" 2>&1)"; then
        printf '%-15s up    %s\n' "$name" "$detail"
      else
        printf '%-15s down  %s\n' "$name" "$detail"; rc=1
      fi
    done
    exit $rc
    ;;
  down)
    for ((i=${#selected[@]}-1; i>=0; i--)); do "${selected[$i]}_stop"; done
    ;;
  *) die "unknown action '$action' (use up | status | down)" ;;
esac
