#!/usr/bin/env bash
# Installs the Debian packages of the named groups (scripts/packages.sh) that
# are missing; a second run finds them and changes nothing.
#
#   scripts/apt-install.sh build runtime test    what setup.sh installs
#   scripts/apt-install.sh --clean runtime       the image's runtime stage: and drop apt's lists after
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/packages.sh"

clean=0
[ "${1:-}" = --clean ] && { clean=1; shift; }
[ $# -gt 0 ] || die "usage: scripts/apt-install.sh [--clean] build|runtime|test|bootstrap..."

wanted=()
for group in "$@"; do
  case "$group" in
    build) wanted+=("${BUILD_PACKAGES[@]}") ;;
    runtime) wanted+=("${RUNTIME_PACKAGES[@]}") ;;
    test) wanted+=("${TEST_PACKAGES[@]}") ;;
    bootstrap) wanted+=("${BOOTSTRAP_PACKAGES[@]}") ;;
    *) die "unknown package group '$group' (build, runtime, test, bootstrap)" ;;
  esac
done

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "debian packages ($*): present"
else
  [ "$(id -u)" = 0 ] || die "missing Debian packages (${missing[*]}); run this script as root"
  log "debian packages ($*): installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# An image keeps no package lists: they are large and stale by the next build.
[ $clean = 1 ] && { apt-get clean; rm -rf /var/lib/apt/lists/*; }
exit 0
