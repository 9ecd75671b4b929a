#!/usr/bin/env bash
# The linters and formatters: Biome for the TypeScript (biome.jsonc), clang-format
# for the C of bpf/ and test/bpf/ (.clang-format: kernel style) and the C++ of
# native/ (native/.clang-format). Fails on any finding.
#
#   scripts/lint.sh            lint rules and format check (npm run lint; CI)
#   scripts/lint.sh rules      lint rules only (Biome's; clang-format has none)
#   scripts/lint.sh format     format check only, both languages
#   scripts/lint.sh --write    rewrite every file in the house style (npm run format)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SWITCHYARD_ROOT"
use_node24

biome=node_modules/.bin/biome
[ -x "$biome" ] || die "no $biome: run scripts/setup.sh (npm ci)"
command -v clang-format >/dev/null || die "no clang-format: run scripts/setup.sh (Debian package clang-format)"

# Every C and C++ source we write; nothing under bpf/ or native/ is generated
# or vendored (the build writes to build/, libbpf's headers come from the system).
c_sources() { find bpf test/bpf test/native native -type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) | LC_ALL=C sort; }

status=0
case "${1:-all}" in
  all)
    "$biome" check --error-on-warnings --no-errors-on-unmatched . || status=1
    c_sources | xargs clang-format --dry-run -Werror || status=1
    ;;
  rules)
    "$biome" lint --error-on-warnings --no-errors-on-unmatched . || status=1
    ;;
  format)
    "$biome" format --no-errors-on-unmatched . || status=1
    c_sources | xargs clang-format --dry-run -Werror || status=1
    ;;
  --write)
    "$biome" format --write --no-errors-on-unmatched . || status=1
    c_sources | xargs clang-format -i || status=1
    ;;
  *) die "usage: scripts/lint.sh [rules|format|--write]" ;;
esac
exit $status
