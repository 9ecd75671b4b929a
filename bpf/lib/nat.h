/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Rewriting an address and port of a parsed packet with its checksums: the
 * IPv4 header checksum and the L4 checksum are updated incrementally,
 * pseudo-header included (ctx.h: the kernel's helpers at tc, RFC 1624 in C at
 * XDP). IPv6 has no header checksum: a 16-byte address changes the TCP/UDP
 * checksum through its pseudo-header only, by the difference bpf_csum_diff
 * computes. SCTP has no pseudo-header: an address rewrite leaves its CRC32c
 * alone, a port rewrite updates it (sctp.h). */
#ifndef SWITCHYARD_NAT_H
#define SWITCHYARD_NAT_H

#include <stddef.h>
#include "packet.h"
#include "sctp.h"

enum nat_side { NAT_SOURCE, NAT_DEST };

static __always_inline __u32 nat_l4_csum_off(const struct sy_packet *p)
{
	if (p->proto == IPPROTO_SCTP)
		return p->l4_off + SY_SCTP_CSUM_OFF;
	return p->l4_off + (p->proto == IPPROTO_TCP ? offsetof(struct tcphdr, check) : offsetof(struct udphdr, check));
}

/* An IPv6 address of the packet's header (saddr or daddr at `field`) changed,
 * the L4 checksum at csum_off with it (`csum_flags`: BPF_F_PSEUDO_HDR and
 * the like, size bits 0). 0 or a negative errno. */
static __always_inline int nat_store_addr6(sy_ctx_t *ctx, __u32 addr_off, __u32 csum_off, const struct sy_addr *old,
                                           const struct sy_addr *addr, __u64 csum_flags)
{
	__s64 diff = bpf_csum_diff((__be32 *)old->w, sizeof(*old), (__be32 *)addr->w, sizeof(*addr), 0);
	int ret;

	if (diff < 0)
		return (int)diff;
	ret = ctx_l4_csum_replace(ctx, csum_off, 0, (__u32)diff, csum_flags);
	if (ret < 0)
		return ret;
	return ctx_store_bytes(ctx, addr_off, (void *)addr->w, sizeof(*addr));
}

/* An SCTP packet's address: the IPv4 header checksum fixed, nothing else
 * (no pseudo-header); an IPv6 address kept in a CHECKSUM_COMPLETE skb's
 * csum, which no checksum field offsets. */
static __always_inline int nat_store_addr_sctp(sy_ctx_t *ctx, const struct sy_packet *p, enum nat_side side,
                                               const struct sy_addr *old, const struct sy_addr *addr)
{
	if (p->v6) {
		__u32 off = p->l3_off +
		            (side == NAT_DEST ? offsetof(struct ipv6hdr, daddr) : offsetof(struct ipv6hdr, saddr));

		return ctx_store_bytes_rcsum(ctx, off, (void *)addr->w, sizeof(*addr));
	} else {
		__u32 off =
		        p->l3_off + (side == NAT_DEST ? offsetof(struct iphdr, daddr) : offsetof(struct iphdr, saddr));
		__be32 from = addr_v4(old), to = addr_v4(addr);
		int ret = ctx_l3_csum_replace(ctx, p->l3_off + offsetof(struct iphdr, check), from, to, sizeof(to));

		if (ret < 0)
			return ret;
		return ctx_store_bytes(ctx, off, &to, sizeof(to));
	}
}

/* Rewrites the source or destination address and port; 0 or a negative errno. */
static __always_inline int nat_rewrite(sy_ctx_t *ctx, struct sy_packet *p, enum nat_side side,
                                       const struct sy_addr *addr, __be16 port)
{
	__u32 port_off = p->l4_off + (side == NAT_DEST ? 2 : 0); /* TCP, UDP, SCTP: source, then dest */
	__u32 csum_off = nat_l4_csum_off(p);
	/* UDP: a zero checksum means "none" (IPv4; invalid over IPv6, where
	 * the receiver drops it either way); keep it so, and never write 0. */
	__u64 mangled = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	struct sy_addr *old_addr = side == NAT_DEST ? &p->daddr : &p->saddr;
	__be16 old_port = side == NAT_DEST ? p->dport : p->sport;
	int ret;

	if (!addr_eq(old_addr, addr)) {
		if (p->proto == IPPROTO_SCTP) {
			ret = nat_store_addr_sctp(ctx, p, side, old_addr, addr);
		} else if (p->v6) {
			__u32 addr_off = p->l3_off + (side == NAT_DEST ? offsetof(struct ipv6hdr, daddr) :
			                                                 offsetof(struct ipv6hdr, saddr));

			ret = nat_store_addr6(ctx, addr_off, csum_off, old_addr, addr, BPF_F_PSEUDO_HDR | mangled);
		} else {
			__u32 addr_off = p->l3_off + (side == NAT_DEST ? offsetof(struct iphdr, daddr) :
			                                                 offsetof(struct iphdr, saddr));
			__be32 from = addr_v4(old_addr), to = addr_v4(addr);

			ret = ctx_l4_csum_replace(ctx, csum_off, from, to, BPF_F_PSEUDO_HDR | mangled | sizeof(to));
			if (ret < 0)
				return ret;
			ret = ctx_l3_csum_replace(ctx, p->l3_off + offsetof(struct iphdr, check), from, to, sizeof(to));
			if (ret < 0)
				return ret;
			ret = ctx_store_bytes(ctx, addr_off, &to, sizeof(to));
		}
		if (ret < 0)
			return ret;
	}
	if (old_port != port && p->proto == IPPROTO_SCTP) {
		ret = sctp_csum_port_replace(ctx, p->l4_off, p->l4_len, side == NAT_DEST, old_port ^ port);
		if (ret < 0)
			return ret;
		ret = ctx_store_bytes_rcsum(ctx, port_off, &port, sizeof(port));
		if (ret < 0)
			return ret;
	} else if (old_port != port) {
		ret = ctx_l4_csum_replace(ctx, csum_off, old_port, port, mangled | sizeof(port));
		if (ret < 0)
			return ret;
		ret = ctx_store_bytes(ctx, port_off, &port, sizeof(port));
		if (ret < 0)
			return ret;
	}
	if (side == NAT_DEST) {
		p->daddr = *addr;
		p->dport = port;
	} else {
		p->saddr = *addr;
		p->sport = port;
	}
	return 0;
}

#endif /* SWITCHYARD_NAT_H */
