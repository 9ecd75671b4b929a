// How much slower than this machine the tests run: 1 here, 10 in the test VM
// (test/vm/run.sh sets SWITCHYARD_IN_VM), where qemu emulates every
// instruction (TCG): there a node process takes ~0.5 s to start instead of
// 0.03, the daemon 25-60 s to its first sync instead of 0.75 (~17 s of CPU,
// nearly all of it loading modules; the rest is a busy host's). SWITCHYARD_SLOW
// overrides it.
//
// Only waits that guard against a hang, or that cover a process starting,
// scale with it. A bound that is what a test asserts (refused within 1 s,
// dropped after 1.5 s) never does: the packet path stays far inside them
// (a refusal takes 40-100 ms in the VM, 3 ms here), so a test that fails on
// such a bound in the VM has found something.
const fromEnv = Number(process.env.SWITCHYARD_SLOW);
export const slow = fromEnv > 0 ? fromEnv : process.env.SWITCHYARD_IN_VM ? 10 : 1;

/** `ms` scaled by `slow`. */
export const scaled = (ms: number): number => Math.round(ms * slow);
