// The entry programs through BPF_PROG_TEST_RUN with a context: the interface
// a packet arrives on (the programs look routes up from it) and, for XDP, the
// metadata the program put in front of the frame told apart from the frame
// (bpf_xdp_adjust_meta: the kernel returns both, and says in the context how
// long the metadata is).
import type { BpfProgram } from '../../control/bpf/index.js';

/** struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex. */
const XDP_MD_SIZE = 24;

export interface XdpRun {
  retval: number;
  /** The frame as the program left it. */
  data: Buffer;
  /** What it put in the metadata area (fib.h's word for the tc program), if anything. */
  meta: Buffer;
}

/** Runs `prog` on `frame`, as arriving on `ifindex` (0: loopback) in `netns` (a path; default this thread's). */
export function runXdp(prog: BpfProgram, frame: Buffer, opts: { ifindex?: number; netns?: string } = {}): XdpRun {
  const ctx = Buffer.alloc(XDP_MD_SIZE);
  ctx.writeUInt32LE(frame.length, 4); // data_end; data (the metadata's length) 0
  ctx.writeUInt32LE(opts.ifindex ?? 0, 12);
  const r = prog.testRun({ data: frame, ctx, ...(opts.netns ? { netns: opts.netns } : {}) });
  const metaLength = r.ctx ? r.ctx.readUInt32LE(0) : 0;
  return { retval: r.retval, data: r.data.subarray(metaLength), meta: r.data.subarray(0, metaLength) };
}

/**
 * struct __sk_buff: ingress_ifindex at 36, ifindex at 40. The buffer is
 * larger than any kernel's struct (192 bytes in 6.x): the kernel accepts a
 * zero tail, and refuses a context it cannot write back whole.
 */
const SKB_CTX_SIZE = 256;

/** Runs a tc program on `frame` as received on `ifindex` in `netns`. */
export function runTc(
  prog: BpfProgram,
  frame: Buffer,
  opts: { ifindex?: number; netns?: string } = {},
): { retval: number; data: Buffer } {
  const ctx = Buffer.alloc(SKB_CTX_SIZE);
  ctx.writeUInt32LE(opts.ifindex ?? 0, 36);
  ctx.writeUInt32LE(opts.ifindex ?? 0, 40);
  const r = prog.testRun({
    data: frame,
    ...(opts.ifindex ? { ctx } : {}),
    ...(opts.netns ? { netns: opts.netns } : {}),
  });
  return { retval: r.retval, data: r.data };
}
