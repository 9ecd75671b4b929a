// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * XDP on the node's uplinks, for traffic from outside the cluster (north-
 * south; not attached by the daemon yet). The same translation as tc
 * (lib/xlate.h over lib/ctx.h's XDP side), before the kernel allocates an
 * skb: service addresses to backends, replies back to the service address,
 * a RST for a SYN to a service without endpoints sent back with XDP_TX.
 */
#define SY_CTX_XDP
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xlate.h"

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int sy_xdp_ingress(struct xdp_md *ctx)
{
	int v = xlate_ingress(ctx);

	if (verdict_is_drop(v)) {
		verdict_count_drop(v);
		return XDP_DROP;
	}
	if (v == SY_VERDICT_TX)
		return XDP_TX;
	return XDP_PASS;
}
