#!/usr/bin/env bash
# Runs a command with the project's Node 24 first on PATH.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
use_node24
exec "$@"
