#!/usr/bin/env bash
# Puts what the daemon needs at run time into PREFIX, and nothing to build or
# test with: Node 24's binary, the compiled control plane, the addon, the BPF
# objects and the production npm dependencies, with bin/switchyard to start it.
# The Dockerfile's build stage runs it into the image's /opt/switchyard; the
# deploy tests run it too, and start the daemon from what it installed.
#
#   scripts/install.sh PREFIX     PREFIX must be absent or empty; run setup.sh first
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SWITCHYARD_ROOT"
use_node24

prefix=${1:?usage: scripts/install.sh PREFIX}
[ -f dist/control/main.js ] && [ -f build/Release/switchyard.node ] || die "nothing is built: run scripts/setup.sh first"
[ ! -e "$prefix" ] || [ -z "$(ls -A "$prefix")" ] || die "$prefix is not empty"
mkdir -p "$prefix/bin" "$prefix/dist" "$prefix/build/Release" "$prefix/build/bpf"

# The layout the daemon expects of an install root (control/config/install.ts,
# control/native/addon.ts): package.json at the top, the addon under
# build/Release, the BPF objects under build/bpf (not the tests' objects).
cp package.json package-lock.json "$prefix/"
cp -R dist/control "$prefix/dist/"
cp build/Release/switchyard.node "$prefix/build/Release/"
cp build/bpf/*.bpf.o "$prefix/build/bpf/"

# The dependencies npm ci installed, less the development ones: no download.
cp -R node_modules "$prefix/"
(cd "$prefix" && npm prune --omit=dev --ignore-scripts --no-audit --no-fund --silent)
find "$prefix/node_modules" -mindepth 1 -maxdepth 1 -type d -empty -delete   # scopes prune emptied

cp "$NODE_HOME/bin/node" "$prefix/bin/node"
cat > "$prefix/bin/switchyard" <<'SH'
#!/bin/sh
# switchyard, on the Node 24 beside this script.
bin=$(dirname "$(readlink -f "$0")")
exec "$bin/node" "$bin/../dist/control/main.js" "$@"
SH
chmod 755 "$prefix/bin/switchyard"
log "install: $prefix ($(du -sh "$prefix" | cut -f1))"
