// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * tc ingress on the node's pod-facing veths and uplinks. Pod traffic to a
 * ClusterIP is DNATed to a backend here, before the node routes it; replies
 * are reverse-NATed here too, whether the backend answered from a local pod
 * (its veth) or from another node (the uplink). On an uplink with XDP, the
 * XDP program has done that already and says so in the packet's metadata:
 * then this program only routes what XDP could not send itself.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "xlate.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int sy_tc_ingress(struct __sk_buff *skb)
{
	struct sy_packet p;
	__u32 meta = xdp_meta(skb);
	int v;

	if (meta == SY_XDP_META_SEEN)
		return TC_ACT_OK;
	if (meta == SY_XDP_META_REDIRECT) {
		if (packet_parse(skb, &p) < 0)
			return TC_ACT_OK;
		v = fib_redirect(skb, &p);
	} else {
		v = xlate_ingress(skb, &p);
		if (v == SY_VERDICT_REDIRECT)
			v = fib_redirect(skb, &p);
	}
	if (verdict_is_drop(v)) {
		verdict_count_drop(v);
		return TC_ACT_SHOT;
	}
	if (v == SY_VERDICT_TX)
		return bpf_redirect(skb->ifindex, 0);
	return v == SY_VERDICT_ROUTED ? TC_ACT_REDIRECT : TC_ACT_OK;
}
