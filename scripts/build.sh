#!/usr/bin/env bash
# Builds what setup installed the tools for: BPF objects, the native addon and the
# TypeScript. Each step is incremental; nothing is rebuilt that is up to date.
#
#   scripts/build.sh                everything
#   scripts/build.sh --typescript   the TypeScript only: the Windows image's build stage
#                                   (deploy/windows/Dockerfile), which needs no addon, no BPF
#                                   objects and no load-test tool, and has no clang. The ABI file
#                                   is the checked-in one (CI's full build regenerates and diffs it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SWITCHYARD_ROOT"
use_node24

case "${1:-}" in
  '') ;;
  --typescript)
    tsc -p tsconfig.build.json || die "tsc failed"
    log "build: done (TypeScript only)"
    exit 0
    ;;
  *) die "usage: scripts/build.sh [--typescript]" ;;
esac

# The addon: rebuilt when a source is newer than the built module.
addon=build/Release/switchyard.node
if [ ! -f "$addon" ] || [ -n "$(find native binding.gyp -newer "$addon" -print -quit)" ]; then
  log "addon: building"
  node-gyp rebuild --silent --nodedir="$NODE_HOME" >/dev/null
else
  log "addon: up to date"
fi

# BPF objects: make compares timestamps (bpf/Makefile). After the addon:
# node-gyp rebuild starts by deleting build/, where the objects live too.
make -s -C bpf

# The load test's connection-rate tool (C: Node would be the bottleneck).
make -s -C bench

# TypeScript: tsc's own incremental build info decides.
status=0
tsc -p tsconfig.build.json || status=$?

# The TypeScript side of abi.h (control/proxiers/ebpf/abi.generated.ts), from
# the BTF of the objects just built (scripts/gen-abi.ts). It runs compiled, so
# after tsc, which emits even when it finds errors (as it will in code that
# uses a field abi.h no longer has); when it rewrites the file, tsc runs again
# and its verdict is the one that counts.
[ -f dist/scripts/gen-abi.js ] || die "tsc did not emit dist/scripts/gen-abi.js"
wrote=$(node dist/scripts/gen-abi.js)
if [ -n "$wrote" ]; then
  log "$wrote"
  status=0
  tsc -p tsconfig.build.json || status=$?
fi
[ "$status" -eq 0 ] || die "tsc failed"
log "build: done"
