/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Fragments of translated datagrams, IPv4 and IPv6. Only the first fragment
 * carries the ports, so it alone finds the service and the flow; its
 * translation (the addresses it left with) is recorded under the datagram's
 * identity (source, destination, protocol, identification, as received), and
 * each later fragment gets the same addresses: IPv4 with its header checksum
 * fixed; IPv6 has none, and its fragment header's identification is 32 bits.
 * A later fragment carries no transport header; the first fragment's
 * transport checksum, fixed there, covers the whole datagram.
 *
 * A later fragment that arrives before its first one (reordered), or after
 * its record left the LRU, is not known: it passes untouched, as any packet
 * that is not ours must (most fragments a node forwards are not service
 * traffic, and nothing in a later fragment says which), and the datagram
 * then fails to reassemble at the backend. Cilium has the same limit
 * (cilium/cilium#25709); Calico reassembles in BPF instead. An IPv6 later
 * fragment is found only when the fragment header follows the fixed header
 * directly or after one hop-by-hop or destination options header.
 */
#ifndef SWITCHYARD_FRAG_H
#define SWITCHYARD_FRAG_H

#include <stddef.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include "maps.h"
#include "packet.h"
#include "verdict.h"

/* After a first fragment was translated from (saddr, daddr) as received.
 * A call of its own: its key and value would not fit the entry program's
 * stack beside the rest (and only first fragments get here). */
static __noinline void __frag_remember(const struct sy_packet *p, const struct sy_addr *saddr,
                                       const struct sy_addr *daddr, int verdict)
{
	struct sy_frag_key key = { .saddr = *saddr, .daddr = *daddr, .id = p->ip_id, .proto = p->proto };
	struct sy_frag val = {
		.saddr = p->saddr,
		.daddr = p->daddr,
		.flags = verdict == SY_VERDICT_REDIRECT ? SY_FRAG_F_ROUTED : 0,
	};

	if (!addr_eq(&p->saddr, saddr) || !addr_eq(&p->daddr, daddr))
		bpf_map_update_elem(&sy_frags_v2, &key, &val, BPF_ANY);
}

static __always_inline void frag_remember(const struct sy_packet *p, const struct sy_addr *saddr,
                                          const struct sy_addr *daddr, int verdict)
{
	if (p->first_fragment)
		__frag_remember(p, saddr, daddr, verdict);
}

static __always_inline int frag_set_addr(sy_ctx_t *ctx, __u32 l3_off, __u32 field, __be32 old, __be32 addr)
{
	if (old == addr)
		return 0;
	if (ctx_l3_csum_replace(ctx, l3_off + offsetof(struct iphdr, check), old, addr, sizeof(addr)) < 0)
		return -1;
	return ctx_store_bytes(ctx, l3_off + field, &addr, sizeof(addr));
}

/* The key of an IPv6 later fragment (0), or -1: not one. */
static __always_inline int frag_key_v6(sy_ctx_t *ctx, struct sy_frag_key *key)
{
	struct ipv6hdr ip6;
	struct sy_ipv6_ext ext;
	__u32 off = sizeof(struct ethhdr) + sizeof(ip6);
	__u8 next;

	if (ctx_load_bytes(ctx, sizeof(struct ethhdr), &ip6, sizeof(ip6)) < 0)
		return -1;
	next = ip6.nexthdr;
	if (next == IPPROTO_HOPOPTS || next == IPPROTO_DSTOPTS) {
		if (ctx_load_bytes(ctx, off, &ext, sizeof(ext)) < 0)
			return -1;
		next = ext.next;
		off += ((__u32)ext.len + 1) * 8;
	}
	if (next != IPPROTO_FRAGMENT || ctx_load_bytes(ctx, off, &ext, sizeof(ext)) < 0)
		return -1;
	if (!(ext.frag_off & bpf_htons(IP6_OFFSET)) || (ext.next != IPPROTO_TCP && ext.next != IPPROTO_UDP))
		return -1;
	__builtin_memcpy(&key->saddr, &ip6.saddr, sizeof(key->saddr));
	__builtin_memcpy(&key->daddr, &ip6.daddr, sizeof(key->daddr));
	key->id = ext.id;
	key->proto = ext.next;
	return 0;
}

/* A later fragment: the addresses its first fragment left with. *p is filled
 * for fib.h (no ports). Anything else passes untouched. */
static __noinline int xlate_later_fragment(sy_ctx_t *ctx, struct sy_packet *p)
{
	struct sy_frag_key key = {};
	struct ethhdr eth;
	struct iphdr ip;
	struct sy_frag *f;
	__u32 l3 = sizeof(eth);

	if (ctx_load_bytes(ctx, 0, &eth, sizeof(eth)) < 0)
		return SY_VERDICT_PASS;
	if (eth.h_proto == bpf_htons(ETH_P_IPV6)) {
		if (frag_key_v6(ctx, &key) < 0)
			return SY_VERDICT_PASS;
		f = bpf_map_lookup_elem(&sy_frags_v2, &key);
		if (!f)
			return SY_VERDICT_PASS;
		if ((!addr_eq(&key.saddr, &f->saddr) &&
		     ctx_store_bytes(ctx, l3 + offsetof(struct ipv6hdr, saddr), f->saddr.w, sizeof(f->saddr)) < 0) ||
		    (!addr_eq(&key.daddr, &f->daddr) &&
		     ctx_store_bytes(ctx, l3 + offsetof(struct ipv6hdr, daddr), f->daddr.w, sizeof(f->daddr)) < 0))
			return SY_DROP(SY_DROP_NAT_FAILED);
		p->v6 = 1;
	} else {
		if (eth.h_proto != bpf_htons(ETH_P_IP))
			return SY_VERDICT_PASS;
		if (ctx_load_bytes(ctx, l3, &ip, sizeof(ip)) < 0 || !(ip.frag_off & bpf_htons(IP_OFFSET)))
			return SY_VERDICT_PASS;
		if (ip.protocol != IPPROTO_TCP && ip.protocol != IPPROTO_UDP)
			return SY_VERDICT_PASS;
		key.saddr = addr_from_v4(ip.saddr);
		key.daddr = addr_from_v4(ip.daddr);
		key.id = ip.id;
		key.proto = ip.protocol;
		f = bpf_map_lookup_elem(&sy_frags_v2, &key);
		if (!f)
			return SY_VERDICT_PASS;
		if (frag_set_addr(ctx, l3, offsetof(struct iphdr, saddr), ip.saddr, addr_v4(&f->saddr)) < 0 ||
		    frag_set_addr(ctx, l3, offsetof(struct iphdr, daddr), ip.daddr, addr_v4(&f->daddr)) < 0)
			return SY_DROP(SY_DROP_NAT_FAILED);
		p->v6 = 0;
	}
	p->l3_off = l3;
	p->saddr = f->saddr;
	p->daddr = f->daddr;
	p->sport = 0;
	p->dport = 0;
	p->proto = key.proto;
	return (f->flags & SY_FRAG_F_ROUTED) ? SY_VERDICT_REDIRECT : SY_VERDICT_PASS;
}

#endif /* SWITCHYARD_FRAG_H */
