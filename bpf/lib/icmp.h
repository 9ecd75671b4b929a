/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * ICMP errors about a translated flow, translated back through the datagram
 * they quote, so path-MTU discovery (fragmentation needed) and unreachables
 * reach the socket that sent the packet, as netfilter's NAT does for them.
 *
 * An error arrives at the node about a packet it sent on: either one the
 * client sent, as it left translated (quoted: source the client or its NAT
 * address, destination the backend), or a backend's reply, as it left
 * translated (quoted: source the service address, destination the client).
 * The flow is found by the quoted tuple, swapped: its REPLY entry in the first
 * case, its ORIGINAL entry in the second. The quoted addresses and ports go
 * back to what that end sent, and the error is readdressed to it; the stack
 * then forwards it.
 *
 * Checksums: the quoted IP header's is fixed with each address, which leaves
 * the ICMP checksum unchanged by them (a valid IP header sums to all ones);
 * the quoted ports are fixed in the ICMP checksum; the outer destination in
 * the outer header's. The quoted TCP/UDP checksum (SCTP's CRC32c) is left
 * as it is: the receiving stack does not check it in an ICMP error (and a
 * TCP one is not quoted at all within the first 8 bytes). An SCTP error is
 * matched by its socket through the quoted verification tag, which NAT
 * never changes.
 */
#ifndef SWITCHYARD_ICMP_H
#define SWITCHYARD_ICMP_H

#include <stddef.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include "conntrack.h"
#include "nat.h"
#include "packet.h"
#include "verdict.h"

#define SY_ICMP_DEST_UNREACH 3
#define SY_ICMP_TIME_EXCEEDED 11

struct sy_icmp_error {
	__u32 l3_off;   /* outer IP header */
	__u32 icmp_off; /* outer ICMP header */
	__u32 inner_l3; /* the quoted IP header */
	__u32 inner_l4; /* the quoted ports */
	__be32 outer_daddr;
	__be32 saddr; /* quoted */
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
};

/* 0 when the packet is an ICMP error quoting a TCP, UDP or SCTP datagram. */
static __always_inline int icmp_parse_error(sy_ctx_t *ctx, struct sy_icmp_error *e)
{
	struct ethhdr eth;
	struct iphdr ip, inner;
	__u8 type;
	__be16 ports[2];

	if (ctx_load_bytes(ctx, 0, &eth, sizeof(eth)) < 0 || eth.h_proto != bpf_htons(ETH_P_IP))
		return -1;
	e->l3_off = sizeof(eth);
	if (ctx_load_bytes(ctx, e->l3_off, &ip, sizeof(ip)) < 0 || ip.ihl < 5 || ip.protocol != IPPROTO_ICMP)
		return -1;
	if (ip.frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return -1;
	e->icmp_off = e->l3_off + ip.ihl * 4;
	if (ctx_load_bytes(ctx, e->icmp_off, &type, sizeof(type)) < 0)
		return -1;
	if (type != SY_ICMP_DEST_UNREACH && type != SY_ICMP_TIME_EXCEEDED)
		return -1;
	e->inner_l3 = e->icmp_off + 8;
	if (ctx_load_bytes(ctx, e->inner_l3, &inner, sizeof(inner)) < 0 || inner.ihl < 5)
		return -1;
	if (!packet_proto_has_ports(inner.protocol))
		return -1;
	e->inner_l4 = e->inner_l3 + inner.ihl * 4;
	if (ctx_load_bytes(ctx, e->inner_l4, ports, sizeof(ports)) < 0)
		return -1;
	e->outer_daddr = ip.daddr;
	e->saddr = inner.saddr;
	e->daddr = inner.daddr;
	e->sport = ports[0];
	e->dport = ports[1];
	e->proto = inner.protocol;
	return 0;
}

/* A quoted address: stored with the quoted header's checksum fixed. */
static __always_inline int icmp_set_inner_addr(sy_ctx_t *ctx, const struct sy_icmp_error *e, __u32 field, __be32 old,
                                               __be32 addr)
{
	if (old == addr)
		return 0;
	if (ctx_l3_csum_replace(ctx, e->inner_l3 + offsetof(struct iphdr, check), old, addr, sizeof(addr)) < 0)
		return -1;
	return ctx_store_bytes(ctx, e->inner_l3 + field, &addr, sizeof(addr));
}

/* A quoted port: stored with the ICMP checksum fixed. */
static __always_inline int icmp_set_inner_port(sy_ctx_t *ctx, const struct sy_icmp_error *e, __u32 at, __be16 old,
                                               __be16 port)
{
	if (old == port)
		return 0;
	if (ctx_l4_csum_replace(ctx, e->icmp_off + 2, old, port, sizeof(port)) < 0)
		return -1;
	return ctx_store_bytes(ctx, e->inner_l4 + at, &port, sizeof(port));
}

/* Rewrites the quoted datagram to (src, dst) and sends the error to `to`. */
static __always_inline int icmp_readdress(sy_ctx_t *ctx, const struct sy_icmp_error *e, __be32 src, __be16 sport,
                                          __be32 dst, __be16 dport, __be32 to)
{
	if (icmp_set_inner_addr(ctx, e, offsetof(struct iphdr, saddr), e->saddr, src) < 0 ||
	    icmp_set_inner_addr(ctx, e, offsetof(struct iphdr, daddr), e->daddr, dst) < 0 ||
	    icmp_set_inner_port(ctx, e, 0, e->sport, sport) < 0 || icmp_set_inner_port(ctx, e, 2, e->dport, dport) < 0)
		return SY_DROP(SY_DROP_NAT_FAILED);
	if (to != e->outer_daddr) {
		if (ctx_l3_csum_replace(ctx, e->l3_off + offsetof(struct iphdr, check), e->outer_daddr, to,
		                        sizeof(to)) < 0 ||
		    ctx_store_bytes(ctx, e->l3_off + offsetof(struct iphdr, daddr), &to, sizeof(to)) < 0)
			return SY_DROP(SY_DROP_NAT_FAILED);
	}
	return SY_VERDICT_PASS;
}

/* ---- ICMPv6 (RFC 4443): destination unreachable, packet too big, time
 * exceeded, quoting the datagram as it left us. The same lookups as ICMP;
 * IPv6 has no header checksums, but the ICMPv6 checksum covers the quoted
 * bytes and the outer pseudo-header: every address and port rewritten is
 * fixed in it by its difference. Neighbour discovery, echo and every other
 * ICMPv6 message pass untouched. ---- */

#define SY_ICMP6_DEST_UNREACH_TYPE 1
#define SY_ICMP6_PKT_TOOBIG 2
#define SY_ICMP6_TIME_EXCEED 3

struct sy_icmp6_error {
	__u32 icmp_off; /* outer ICMPv6 header */
	__u32 inner_l3; /* the quoted IPv6 header */
	struct sy_addr outer_daddr;
	struct sy_addr saddr; /* quoted */
	struct sy_addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
};

/* 0 when the packet is an ICMPv6 error quoting a TCP, UDP or SCTP datagram (no
 * extension headers, outer or quoted). */
static __always_inline int icmp6_parse_error(sy_ctx_t *ctx, struct sy_icmp6_error *e)
{
	struct ipv6hdr ip6;
	__u8 type;
	__be16 ports[2];
	__u32 l3 = sizeof(struct ethhdr);

	if (ctx_load_bytes(ctx, l3, &ip6, sizeof(ip6)) < 0 || ip6.nexthdr != IPPROTO_ICMPV6)
		return -1;
	e->icmp_off = l3 + sizeof(ip6);
	__builtin_memcpy(&e->outer_daddr, &ip6.daddr, sizeof(e->outer_daddr));
	if (ctx_load_bytes(ctx, e->icmp_off, &type, sizeof(type)) < 0)
		return -1;
	if (type != SY_ICMP6_DEST_UNREACH_TYPE && type != SY_ICMP6_PKT_TOOBIG && type != SY_ICMP6_TIME_EXCEED)
		return -1;
	e->inner_l3 = e->icmp_off + 8;
	if (ctx_load_bytes(ctx, e->inner_l3, &ip6, sizeof(ip6)) < 0)
		return -1;
	if (!packet_proto_has_ports(ip6.nexthdr))
		return -1;
	if (ctx_load_bytes(ctx, e->inner_l3 + sizeof(ip6), ports, sizeof(ports)) < 0)
		return -1;
	__builtin_memcpy(&e->saddr, &ip6.saddr, sizeof(e->saddr));
	__builtin_memcpy(&e->daddr, &ip6.daddr, sizeof(e->daddr));
	e->sport = ports[0];
	e->dport = ports[1];
	e->proto = ip6.nexthdr;
	return 0;
}

/* A 16-byte address at `off` set to `addr`, the ICMPv6 checksum fixed by the
 * difference (`flags`: BPF_F_PSEUDO_HDR for the outer destination). */
static __always_inline int icmp6_set_addr(sy_ctx_t *ctx, const struct sy_icmp6_error *e, __u32 off,
                                          const struct sy_addr *old, const struct sy_addr *addr, __u64 flags)
{
	if (addr_eq(old, addr))
		return 0;
	return nat_store_addr6(ctx, off, e->icmp_off + 2, old, addr, flags);
}

static __always_inline int icmp6_set_port(sy_ctx_t *ctx, const struct sy_icmp6_error *e, __u32 at, __be16 old,
                                          __be16 port)
{
	if (old == port)
		return 0;
	if (ctx_l4_csum_replace(ctx, e->icmp_off + 2, old, port, sizeof(port)) < 0)
		return -1;
	return ctx_store_bytes(ctx, e->inner_l3 + sizeof(struct ipv6hdr) + at, &port, sizeof(port));
}

static __noinline int xlate_icmp6_error(sy_ctx_t *ctx)
{
	struct sy_icmp6_error e;
	struct sy_ct_key key = {};
	const struct sy_addr *src, *dst, *to;
	__be16 sport, dport;
	struct sy_ct_entry *ct;
	int snat;

	if (icmp6_parse_error(ctx, &e) < 0)
		return SY_VERDICT_PASS;
	key.saddr = e.daddr;
	key.daddr = e.saddr;
	key.sport = e.dport;
	key.dport = e.sport;
	key.proto = e.proto;
	key.dir = SY_CT_REPLY;
	ct = bpf_map_lookup_elem(&sy_conntrack_v3, &key);
	if (ct) {
		/* About a client's packet: back to client -> service, to the client. */
		snat = (ct->flags & (SY_CT_F_SNAT | SY_CT_F_HAIRPIN)) != 0;
		src = snat ? &ct->peer_addr : &e.saddr;
		sport = snat ? ct->peer_port : e.sport;
		dst = &ct->nat_addr;
		dport = ct->nat_port;
		to = src;
	} else {
		key.dir = SY_CT_ORIGINAL;
		ct = bpf_map_lookup_elem(&sy_conntrack_v3, &key);
		if (!ct)
			return SY_VERDICT_PASS;
		/* About a backend's reply: back to backend -> the source it saw, to the backend. */
		snat = (ct->flags & (SY_CT_F_SNAT | SY_CT_F_HAIRPIN)) != 0;
		src = &ct->nat_addr;
		sport = ct->nat_port;
		dst = snat ? &ct->peer_addr : &e.daddr;
		dport = snat ? ct->peer_port : e.dport;
		to = src;
	}
	if (icmp6_set_addr(ctx, &e, e.inner_l3 + offsetof(struct ipv6hdr, saddr), &e.saddr, src, 0) < 0 ||
	    icmp6_set_addr(ctx, &e, e.inner_l3 + offsetof(struct ipv6hdr, daddr), &e.daddr, dst, 0) < 0 ||
	    icmp6_set_port(ctx, &e, 0, e.sport, sport) < 0 || icmp6_set_port(ctx, &e, 2, e.dport, dport) < 0 ||
	    icmp6_set_addr(ctx, &e, sizeof(struct ethhdr) + offsetof(struct ipv6hdr, daddr), &e.outer_daddr, to,
	                   BPF_F_PSEUDO_HDR) < 0)
		return SY_DROP(SY_DROP_NAT_FAILED);
	return SY_VERDICT_PASS;
}

/* An ICMP error about a translated flow, translated back. */
static __noinline int xlate_icmp4_error(sy_ctx_t *ctx)
{
	struct sy_icmp_error e;
	struct sy_ct_key key = {};
	struct sy_ct_entry *ct;

	if (icmp_parse_error(ctx, &e) < 0)
		return SY_VERDICT_PASS;
	key.saddr = addr_from_v4(e.daddr);
	key.daddr = addr_from_v4(e.saddr);
	key.sport = e.dport;
	key.dport = e.sport;
	key.proto = e.proto;
	key.dir = SY_CT_REPLY;
	ct = bpf_map_lookup_elem(&sy_conntrack_v3, &key);
	if (ct) {
		/* About a packet of the client's, quoted as it left us: back to
		 * client -> service, and to the client. */
		__be32 client = (ct->flags & (SY_CT_F_SNAT | SY_CT_F_HAIRPIN)) ? addr_v4(&ct->peer_addr) : e.saddr;
		__be16 client_port = (ct->flags & (SY_CT_F_SNAT | SY_CT_F_HAIRPIN)) ? ct->peer_port : e.sport;

		return icmp_readdress(ctx, &e, client, client_port, addr_v4(&ct->nat_addr), ct->nat_port, client);
	}
	key.dir = SY_CT_ORIGINAL;
	ct = bpf_map_lookup_elem(&sy_conntrack_v3, &key);
	if (ct) {
		/* About a backend's reply, quoted as it left us: back to backend ->
		 * the source it saw (the client, or its NAT address), and to the backend. */
		__be32 peer = (ct->flags & (SY_CT_F_SNAT | SY_CT_F_HAIRPIN)) ? addr_v4(&ct->peer_addr) : e.daddr;
		__be16 peer_port = (ct->flags & (SY_CT_F_SNAT | SY_CT_F_HAIRPIN)) ? ct->peer_port : e.dport;

		return icmp_readdress(ctx, &e, addr_v4(&ct->nat_addr), ct->nat_port, peer, peer_port,
		                      addr_v4(&ct->nat_addr));
	}
	return SY_VERDICT_PASS;
}

/* An ICMP or ICMPv6 error about a translated flow, translated back; any other
 * packet (and an error about a flow we do not track) passes untouched. Each
 * family a call of its own, side by side (the BPF stack of one chain). */
static __always_inline int xlate_icmp_error(sy_ctx_t *ctx)
{
	__be16 proto;

	if (ctx_load_bytes(ctx, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto)) < 0)
		return SY_VERDICT_PASS;
	if (proto == bpf_htons(ETH_P_IPV6))
		return xlate_icmp6_error(ctx);
	return xlate_icmp4_error(ctx);
}

#endif /* SWITCHYARD_ICMP_H */
