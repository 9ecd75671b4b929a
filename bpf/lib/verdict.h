/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * What the shared code decides about a packet, independent of the hook: pass
 * it on, send it back out of the interface it came in on, or drop it for a
 * reason (enum sy_drop_reason, abi.h). Helpers return an int: a verdict (0 or
 * more) or -reason. Only the entry programs turn that into TC_ACT_* or XDP_*,
 * and they count every drop in sy_drops by its reason.
 */
#ifndef SWITCHYARD_VERDICT_H
#define SWITCHYARD_VERDICT_H

#include "maps.h"

enum sy_verdict {
	SY_VERDICT_PASS = 0, /* on to the stack, changed or not */
	SY_VERDICT_TX = 1,   /* back out of the ingress interface (a RST for a refused SYN) */
	SY_VERDICT_REDIRECT =
	        2, /* translated to leave from a node address: routed by the program (fib.h), not the stack */
	SY_VERDICT_ROUTED = 3, /* routed: tc's bpf_redirect_neigh has it (TC_ACT_REDIRECT) */
	/* xlate.h's own, never an entry program's: a new flow to a service
	 * without endpoints, to refuse (reject.h). Returned up a level so the
	 * refusal runs beside the new-flow path, not inside it: the BPF stack
	 * of one call chain is 512 bytes. */
	SY_VERDICT_REJECT = 4,
};

#define SY_DROP(reason) (-(int)(reason))

static __always_inline int verdict_is_drop(int v)
{
	return v < 0;
}

/* Counts a drop by its reason: per CPU, so no atomics on the packet path. */
static __always_inline void verdict_count_drop(int v)
{
	__u32 reason = (__u32)-v;
	__u64 *count = bpf_map_lookup_elem(&sy_drops, &reason);

	if (count)
		*count += 1;
}

#endif /* SWITCHYARD_VERDICT_H */
