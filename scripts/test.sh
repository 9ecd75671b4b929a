#!/usr/bin/env bash
# The README's test command (npm test) runs this: set up the machine, then run the
# unit tests (no privileges), the privileged tests (root, namespaces, real BPF),
# and the BPF program tests again in VMs booting Debian's 6.1 and 6.12 kernels
# (test/vm), so our programs are known to pass older verifiers than this one.
#
#   scripts/test.sh              setup, lint, unit, privileged, vm
#   scripts/test.sh unit         lint, then the unit tests
#   scripts/test.sh lint         lint only (scripts/lint.sh: Biome, clang-format; under a second)
#   scripts/test.sh privileged   privileged tests only
#   scripts/test.sh vm           the VM tests only (SWITCHYARD_VM_KERNELS="6.1 6.12",
#                                then the ipvs mode's in SWITCHYARD_IPVS_VM_KERNEL=6.12)
#   extra arguments go to vitest (e.g. a file filter; for vm, files replace VM_TESTS)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SWITCHYARD_ROOT"

# What runs in each VM kernel. Every file pays ~12 s of node and vitest start-up
# under TCG plus its own tests at a tenth of the host's speed, so this is the
# smallest set that loads every BPF program we ship or test and drives each
# with packets or connections: tc-xlate and tc-xlate6 (tc.bpf.o's
# sy_tc_ingress through BPF_PROG_TEST_RUN, IPv4 and IPv6; both objects loaded
# and verified), xdp-xlate (xdp.bpf.o's
# sy_xdp_ingress, the same packet layer built for XDP), sock-xlate (sock.bpf.o's
# four cgroup hooks), programs (test/bpf/selftest.bpf.c on real tc, XDP and
# cgroup hooks), north-south (both entry programs with the route and socket
# lookups, NAT ports and XDP_TX, in a namespace shaped as a node; north-south6
# the same over IPv6 with ICMPv6), errors
# (test/bpf/reject.bpf.c: the verifier log of a refused program), the IPVS
# kernel check and the IPVS netlink client (real virtual
# servers, checked against ipvsadm, with traffic). The map tests
# (bpf/maps, dataplane/*) pass in both kernels too but add ~3 min per kernel:
# run them with `scripts/test.sh vm test/privileged/bpf test/privileged/dataplane`.
VM_TESTS=(
  test/privileged/bpf/tc-xlate.test.ts
  test/privileged/bpf/tc-xlate6.test.ts
  test/privileged/bpf/xdp-xlate.test.ts
  test/privileged/bpf/north-south.test.ts
  test/privileged/bpf/north-south6.test.ts
  test/privileged/bpf/sock-xlate.test.ts
  test/privileged/bpf/programs.test.ts
  test/privileged/bpf/errors.test.ts
  test/privileged/ipvs/kernel.test.ts
  test/privileged/ipvs/netlink.test.ts
)
read -ra VM_KERNELS <<< "${SWITCHYARD_VM_KERNELS:-6.1 6.12}"
# The ipvs mode, in one kernel (its behaviour is IPVS's, not a verifier's):
# the end-to-end suite in --proxy-mode=ipvs, both families, a slice of one
# case of each kind (~4 min under TCG; SWITCHYARD_E2E_FULL=1 runs all of it),
# the mode's own layout and IPVS behaviour (~4-5 min: three daemon restarts
# at ~25 s each, NodePorts and source ranges), and the ipset and kube-ipvs0
# helpers on a real dummy driver (this host's kernel has none). Left out of
# CI for time, each run on demand with test/vm/run.sh --kernel 6.12 --cpus 2
# --memory 3G -- bash scripts/with-node.sh vitest run --project privileged
# FILE: ipvs/dual-stack.test.ts (the two family proxiers side by side: one
# family's full sync and clean-up leave the other's virtual servers, sets,
# rules and addresses byte for byte; ~5 min), e2e/iptables-sctp.test.ts (the
# iptables mode's SCTP cases in both families; ~7 min) and
# bench/smoke-ipvs.test.ts (the load test's ipvs pipeline; ~3 min).
IPVS_VM_TESTS=(
  test/privileged/e2e/ipvs.test.ts
  test/privileged/ipvs/proxier.test.ts
  test/privileged/ipvs/ipset.test.ts
  test/privileged/ipvs/dummy.test.ts
)
IPVS_VM_KERNEL=${SWITCHYARD_IPVS_VM_KERNEL:-6.12}
# Each VM run's limit, with a wide margin over a quiet machine's time, for a
# CI machine twice as slow and busy: the BPF files take ~1.5 min per kernel
# here, the ipvs stage ~10 min (the e2e slice ~4 min, the proxier's own ~4-5;
# on a busy 2-CPU machine).
VM_TIMEOUT=${SWITCHYARD_VM_TIMEOUT:-1200}
IPVS_VM_TIMEOUT=${SWITCHYARD_IPVS_VM_TIMEOUT:-2700}

bash scripts/setup.sh
use_node24

which=${1:-all}; [ $# -gt 0 ] && shift
status=0
if [ "$which" = all ] || [ "$which" = unit ] || [ "$which" = lint ]; then
  log "lint (scripts/lint.sh)"
  bash scripts/lint.sh || status=1
fi
if [ "$which" = all ] || [ "$which" = unit ]; then
  log "unit tests"
  vitest run --project unit "$@" || status=1
fi
if [ "$which" = all ] || [ "$which" = privileged ]; then
  log "privileged tests"
  vitest run --project privileged "$@" || status=1
fi
if [ "$which" = all ] || [ "$which" = vm ]; then
  # `all` passes its vitest arguments to the host runs only.
  files=("${VM_TESTS[@]}")
  [ "$which" = vm ] && [ $# -gt 0 ] && files=("$@")
  for kernel in "${VM_KERNELS[@]}"; do
    log "privileged tests in a VM booting Debian's $kernel kernel: ${files[*]}"
    test/vm/run.sh --kernel "$kernel" --timeout "$VM_TIMEOUT" -- bash scripts/with-node.sh vitest run --project privileged "${files[@]}" || status=1
  done
  if [ "$which" = all ] || [ $# -eq 0 ]; then
    log "the ipvs mode in a VM booting Debian's $IPVS_VM_KERNEL kernel: ${IPVS_VM_TESTS[*]}"
    test/vm/run.sh --kernel "$IPVS_VM_KERNEL" --cpus 2 --memory 3G --timeout "$IPVS_VM_TIMEOUT" -- bash scripts/with-node.sh vitest run --project privileged "${IPVS_VM_TESTS[@]}" || status=1
  fi
fi
exit $status
