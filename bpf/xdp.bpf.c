// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * XDP on the node's uplinks, for traffic from outside the cluster (north-
 * south) and replies from other nodes. The same translation as tc
 * (lib/xlate.h over lib/ctx.h's XDP side), before the kernel allocates an
 * skb: service addresses to backends, source NAT, replies back to the service
 * address, a RST or ICMP error for a service without endpoints sent back
 * with XDP_TX, and a source-NATed packet whose route leaves by the same
 * interface sent back out with XDP_TX too.
 *
 * The tc program stays attached behind it: every packet this program passes
 * carries a word in its metadata (fib.h, enum sy_xdp_meta) so tc does not
 * translate it twice, and routes those XDP could not. A driver without XDP
 * metadata gets nothing translated here: tc does it all.
 */
#define SY_CTX_XDP
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xlate.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline int xdp_set_meta(struct xdp_md *ctx, __u32 word)
{
	__u32 *meta = (void *)(long)ctx->data_meta;

	if ((void *)(meta + 1) > (void *)(long)ctx->data)
		return -1;
	*meta = word;
	return 0;
}

SEC("xdp")
int sy_xdp_ingress(struct xdp_md *ctx)
{
	struct sy_packet p;
	int v;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(__u32)) < 0 || xdp_set_meta(ctx, SY_XDP_META_SEEN) < 0)
		return XDP_PASS; /* no metadata here: the tc program translates */
	v = xlate_ingress(ctx, &p);
	if (v == SY_VERDICT_REDIRECT) {
		v = fib_redirect(ctx, &p);
		if (v < 0)
			return xdp_set_meta(ctx, SY_XDP_META_REDIRECT) < 0 ? XDP_DROP : XDP_PASS;
	}
	if (verdict_is_drop(v)) {
		verdict_count_drop(v);
		return XDP_DROP;
	}
	if (v == SY_VERDICT_TX)
		return XDP_TX;
	return XDP_PASS;
}
