/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Routing a translated packet ourselves. A packet that now leaves from one of
 * the node's own addresses (source-NATed to it, or the reply of a NodePort)
 * cannot go back to the stack at ingress: the kernel drops a received packet
 * whose source is a local address (a martian). So the program looks the
 * route up (bpf_fib_lookup, from the packet's ingress interface) and sends
 * it out itself: at tc with bpf_redirect_neigh, which resolves the next hop's
 * MAC as the stack would; at XDP with XDP_TX when the route leaves by the
 * interface the packet came in on, the neighbour is known and the interface
 * is a physical NIC (sy_uplinks), else handed to the tc program on the same
 * interface (xdp_meta below), which redirects it.
 */
#ifndef SWITCHYARD_FIB_H
#define SWITCHYARD_FIB_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "maps.h"
#include "packet.h"
#include "verdict.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/*
 * What the XDP program tells the tc program behind it, in the packet's
 * metadata (bpf_xdp_adjust_meta; the skb carries it to tc ingress): this
 * packet was seen (and translated, where it had to be) by XDP, so tc must
 * not translate it again; and whether it still needs routing (fib.h).
 */
enum sy_xdp_meta {
	SY_XDP_META_SEEN = 0x53590001,     /* "SY", 1: done; tc passes it on */
	SY_XDP_META_REDIRECT = 0x53590002, /* "SY", 2: translated, route it (bpf_redirect_neigh) */
};

static __always_inline int fib_lookup(sy_ctx_t *ctx, const struct sy_packet *p, struct bpf_fib_lookup *fib)
{
	fib->l4_protocol = p->proto;
	fib->sport = p->sport;
	fib->dport = p->dport;
	if (p->v6) {
		fib->family = AF_INET6;
		__builtin_memcpy(fib->ipv6_src, p->saddr.w, sizeof(fib->ipv6_src));
		__builtin_memcpy(fib->ipv6_dst, p->daddr.w, sizeof(fib->ipv6_dst));
	} else {
		fib->family = AF_INET;
		fib->ipv4_src = addr_v4(&p->saddr);
		fib->ipv4_dst = addr_v4(&p->daddr);
	}
	fib->ifindex = ctx->ingress_ifindex;
	return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

#ifdef SY_CTX_XDP

/* XDP_TX with the route's MACs when it leaves by the ingress interface and
 * that interface may (sy_uplinks); otherwise -1, and the caller hands the
 * packet to tc. */
static __noinline int fib_redirect(sy_ctx_t *ctx, const struct sy_packet *p)
{
	struct bpf_fib_lookup fib = {};
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	struct ethhdr *eth = data;
	__u32 ifindex = ctx->ingress_ifindex;
	struct sy_uplink *uplink = bpf_map_lookup_elem(&sy_uplinks, &ifindex);

	if (!uplink || !(uplink->flags & SY_UPLINK_F_XDP_TX))
		return -1;
	if (fib_lookup(ctx, p, &fib) != BPF_FIB_LKUP_RET_SUCCESS || fib.ifindex != ifindex)
		return -1;
	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	return SY_VERDICT_TX;
}

#else /* tc */

/* SY_VERDICT_ROUTED (the kernel resolves the next hop and sends it out of
 * the route's interface), or -reason. */
static __noinline int fib_redirect(sy_ctx_t *ctx, const struct sy_packet *p)
{
	struct bpf_fib_lookup fib = {};
	int rc = fib_lookup(ctx, p, &fib);

	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return SY_DROP(SY_DROP_NO_ROUTE);
	if (bpf_redirect_neigh(fib.ifindex, NULL, 0, 0) != TC_ACT_REDIRECT)
		return SY_DROP(SY_DROP_NO_ROUTE);
	return SY_VERDICT_ROUTED;
}

/* The XDP program's word on this packet (enum sy_xdp_meta), or 0. */
static __always_inline __u32 xdp_meta(const struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	__u32 *meta = (void *)(long)skb->data_meta;

	if ((void *)(meta + 1) > data)
		return 0;
	return *meta;
}

#endif /* SY_CTX_XDP */

#endif /* SWITCHYARD_FIB_H */
