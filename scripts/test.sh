#!/usr/bin/env bash
# The README's test command (npm test) runs this: set up the machine, then run the
# unit tests (no privileges) and the privileged tests (root, namespaces, real BPF).
#
#   scripts/test.sh              setup, unit, privileged
#   scripts/test.sh unit         unit tests only
#   scripts/test.sh privileged   privileged tests only
#   extra arguments go to vitest (e.g. a file filter)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SWITCHYARD_ROOT"

bash scripts/setup.sh
use_node24

which=${1:-all}; [ $# -gt 0 ] && shift
status=0
if [ "$which" = all ] || [ "$which" = unit ]; then
  log "unit tests"
  vitest run --project unit "$@" || status=1
fi
if [ "$which" = all ] || [ "$which" = privileged ]; then
  log "privileged tests"
  vitest run --project privileged "$@" || status=1
fi
exit $status
