// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * tc ingress on the node's pod-facing veths and uplinks. Pod traffic to a
 * ClusterIP is DNATed to a backend here, before the node routes it; replies
 * are reverse-NATed here too, whether the backend answered from a local pod
 * (its veth) or from another node (the uplink).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "xlate.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int sy_tc_ingress(struct __sk_buff *skb)
{
	int v = xlate_ingress(skb);

	if (verdict_is_drop(v)) {
		verdict_count_drop(v);
		return TC_ACT_SHOT;
	}
	if (v == SY_VERDICT_TX)
		return bpf_redirect(skb->ifindex, 0);
	return TC_ACT_OK;
}
