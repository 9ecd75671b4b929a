/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * IPv4 fragments of translated datagrams. Only the first fragment carries
 * the ports, so it alone finds the service and the flow; its translation
 * (the addresses it left with) is recorded under the datagram's identity
 * (source, destination, protocol, IP id, as received), and each later
 * fragment gets the same addresses, its IP checksum fixed (it carries no
 * transport header; the first fragment's transport checksum, fixed there,
 * covers the whole datagram).
 *
 * A later fragment that arrives before its first one (reordered), or after
 * its record left the LRU, is not known: it passes untouched, as any packet
 * that is not ours must (most fragments a node forwards are not service
 * traffic, and nothing in a later fragment says which), and the datagram
 * then fails to reassemble at the backend. Cilium has the same limit
 * (cilium/cilium#25709); Calico reassembles in BPF instead.
 */
#ifndef SWITCHYARD_FRAG_H
#define SWITCHYARD_FRAG_H

#include <stddef.h>
#include <linux/ip.h>
#include "maps.h"
#include "packet.h"
#include "verdict.h"

/* After a first fragment was translated from (saddr, daddr) as received. */
static __always_inline void frag_remember(const struct sy_packet *p, __be32 saddr, __be32 daddr, int verdict)
{
	struct sy_frag_key key = { .saddr = saddr, .daddr = daddr, .id = p->ip_id, .proto = p->proto };
	struct sy_frag val = {
		.saddr = p->saddr,
		.daddr = p->daddr,
		.flags = verdict == SY_VERDICT_REDIRECT ? SY_FRAG_F_ROUTED : 0,
	};

	if (p->first_fragment && (p->saddr != saddr || p->daddr != daddr))
		bpf_map_update_elem(&sy_frags, &key, &val, BPF_ANY);
}

static __always_inline int frag_set_addr(sy_ctx_t *ctx, __u32 l3_off, __u32 field, __be32 old, __be32 addr)
{
	if (old == addr)
		return 0;
	if (ctx_l3_csum_replace(ctx, l3_off + offsetof(struct iphdr, check), old, addr, sizeof(addr)) < 0)
		return -1;
	return ctx_store_bytes(ctx, l3_off + field, &addr, sizeof(addr));
}

/* A later fragment: the addresses its first fragment left with. *p is filled
 * for fib.h (no ports). Anything else passes untouched. */
static __always_inline int xlate_later_fragment(sy_ctx_t *ctx, struct sy_packet *p)
{
	struct sy_frag_key key = {};
	struct ethhdr eth;
	struct iphdr ip;
	struct sy_frag *f;

	if (ctx_load_bytes(ctx, 0, &eth, sizeof(eth)) < 0 || eth.h_proto != bpf_htons(ETH_P_IP))
		return SY_VERDICT_PASS;
	if (ctx_load_bytes(ctx, sizeof(eth), &ip, sizeof(ip)) < 0 || !(ip.frag_off & bpf_htons(IP_OFFSET)))
		return SY_VERDICT_PASS;
	if (ip.protocol != IPPROTO_TCP && ip.protocol != IPPROTO_UDP)
		return SY_VERDICT_PASS;
	key.saddr = ip.saddr;
	key.daddr = ip.daddr;
	key.id = ip.id;
	key.proto = ip.protocol;
	f = bpf_map_lookup_elem(&sy_frags, &key);
	if (!f)
		return SY_VERDICT_PASS;
	if (frag_set_addr(ctx, sizeof(eth), offsetof(struct iphdr, saddr), ip.saddr, f->saddr) < 0 ||
	    frag_set_addr(ctx, sizeof(eth), offsetof(struct iphdr, daddr), ip.daddr, f->daddr) < 0)
		return SY_DROP(SY_DROP_NAT_FAILED);
	p->l3_off = sizeof(eth);
	p->saddr = f->saddr;
	p->daddr = f->daddr;
	p->sport = 0;
	p->dport = 0;
	p->proto = ip.protocol;
	return (f->flags & SY_FRAG_F_ROUTED) ? SY_VERDICT_REDIRECT : SY_VERDICT_PASS;
}

#endif /* SWITCHYARD_FRAG_H */
