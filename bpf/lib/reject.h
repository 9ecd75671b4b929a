/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Refusing traffic to a service without endpoints, as kube-proxy's REJECT
 * does, sent back out of the interface it came in on: a TCP SYN is turned into
 * a RST|ACK in place, so the client's connect() fails at once with
 * ECONNREFUSED instead of retrying SYNs for a minute; a UDP datagram is
 * answered with ICMP port unreachable (what REJECT sends by default), so the
 * client's next recv() fails with ECONNREFUSED instead of waiting. An SCTP
 * INIT is answered as the datagram (REJECT's default for any protocol but
 * TCP); its error quotes the INIT chunk's initiate tag, by which Linux's SCTP
 * finds the association an INIT's error is about (its verification tag is
 * 0), so the association sees the error as a soft one: connect() goes on
 * retrying INIT, as it does behind kube-proxy's iptables. */
#ifndef SWITCHYARD_REJECT_H
#define SWITCHYARD_REJECT_H

#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include "packet.h"
#include "verdict.h"

struct pseudo_hdr {
	__be32 saddr;
	__be32 daddr;
	__u8 zero;
	__u8 proto;
	__be16 len;
};

/* SY_VERDICT_TX with the packet turned into the RST, or a drop: the packet is
 * not a plain SYN we can answer (no backend: nothing to refuse), its headers
 * are cut short (malformed), or writing the RST failed. */
static __always_inline int reject_tcp_syn6(sy_ctx_t *ctx, const struct sy_packet *p);

static __noinline int reject_tcp_syn(sy_ctx_t *ctx, const struct sy_packet *p)
{
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
	struct pseudo_hdr ph;
	__u8 tmp[ETH_ALEN];
	__u32 seq;
	__s64 sum;

	if (p->v6)
		return reject_tcp_syn6(ctx, p);
	if (!(p->tcp_flags & SY_TCP_SYN) || (p->tcp_flags & (SY_TCP_ACK | SY_TCP_RST)) || p->ihl_words != 5)
		return SY_DROP(SY_DROP_NO_BACKEND);
	if (ctx_load_bytes(ctx, 0, &eth, sizeof(eth)) < 0 || ctx_load_bytes(ctx, p->l3_off, &ip, sizeof(ip)) < 0 ||
	    ctx_load_bytes(ctx, p->l4_off, &tcp, sizeof(tcp)) < 0)
		return SY_DROP(SY_DROP_MALFORMED);
	/* Drop options and payload: a RST is 40 bytes of IP. */
	if (ctx_change_tail(ctx, p->l4_off + sizeof(tcp)) < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);

	__builtin_memcpy(tmp, eth.h_dest, ETH_ALEN);
	__builtin_memcpy(eth.h_dest, eth.h_source, ETH_ALEN);
	__builtin_memcpy(eth.h_source, tmp, ETH_ALEN);

	ip.daddr = addr_v4(&p->saddr);
	ip.saddr = addr_v4(&p->daddr);
	ip.tot_len = bpf_htons(sizeof(ip) + sizeof(tcp));
	ip.ttl = 64;
	ip.id = 0;
	ip.frag_off = bpf_htons(0x4000); /* DF */
	ip.check = 0;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&ip, sizeof(ip), 0);
	if (sum < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);
	ip.check = csum_fold(sum);

	seq = bpf_ntohl(tcp.seq);
	__builtin_memset(&tcp, 0, sizeof(tcp));
	tcp.source = p->dport;
	tcp.dest = p->sport;
	tcp.ack_seq = bpf_htonl(seq + 1); /* the SYN takes one sequence number */
	tcp.doff = 5;
	tcp.rst = 1;
	tcp.ack = 1;
	ph = (struct pseudo_hdr){
		.saddr = ip.saddr, .daddr = ip.daddr, .proto = IPPROTO_TCP, .len = bpf_htons(sizeof(tcp))
	};
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	if (sum < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&tcp, sizeof(tcp), sum);
	if (sum < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);
	tcp.check = csum_fold(sum);

	if (ctx_store_bytes(ctx, 0, &eth, sizeof(eth)) < 0 || ctx_store_bytes(ctx, p->l3_off, &ip, sizeof(ip)) < 0 ||
	    ctx_store_bytes(ctx, p->l4_off, &tcp, sizeof(tcp)) < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);
	return SY_VERDICT_TX;
}

/* RFC 792's destination unreachable, code port unreachable. (linux/icmp.h
 * pulls in libc headers a BPF target does not have.) */
#define SY_ICMP_DEST_UNREACH 3
#define SY_ICMP_PORT_UNREACH 3

struct sy_icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 unused;
};

/* The transport bytes an ICMP error quotes: RFC 792's 8 (UDP's whole header);
 * for SCTP 20, up to the INIT chunk's initiate tag (sctp_err_lookup() ignores
 * an error about an INIT that does not quote it). */
#define SY_REJECT_QUOTE_UDP 8
#define SY_REJECT_QUOTE_SCTP 20

static __always_inline __u32 reject_quote_len(const struct sy_packet *p)
{
	return p->proto == IPPROTO_SCTP ? SY_REJECT_QUOTE_SCTP : SY_REJECT_QUOTE_UDP;
}

/* An ICMP error's body: its header, then the offending datagram's IP header
 * and its first transport bytes (reject_quote_len() of l4). */
struct icmp_unreach {
	struct sy_icmphdr icmp;
	struct iphdr inner;
	__u8 l4[SY_REJECT_QUOTE_SCTP];
} __attribute__((packed));
#define SY_ICMP_UNREACH_HDRS (sizeof(struct sy_icmphdr) + sizeof(struct iphdr))

/* SY_VERDICT_TX with the datagram (or SCTP INIT) turned into ICMP destination unreachable,
 * port unreachable, from the service address to the client; or a drop: IP
 * options (not answered, as the RST path), headers cut short, or the rewrite
 * failed. The datagram's payload is cut, its headers kept as the ICMP body. */
static __always_inline int reject_udp6(sy_ctx_t *ctx, const struct sy_packet *p);

static __noinline int reject_udp(sy_ctx_t *ctx, const struct sy_packet *p)
{
	struct ethhdr eth;
	struct iphdr ip;
	struct icmp_unreach msg = {};
	__u32 quote = reject_quote_len(p);
	__u8 tmp[ETH_ALEN];
	__s64 sum;

	if (p->v6)
		return reject_udp6(ctx, p);
	if (p->ihl_words != 5)
		return SY_DROP(SY_DROP_NO_BACKEND);
	if (ctx_load_bytes(ctx, 0, &eth, sizeof(eth)) < 0 ||
	    ctx_load_bytes(ctx, p->l3_off, &msg.inner, sizeof(msg.inner)) < 0 ||
	    ctx_load_bytes(ctx, p->l4_off, &msg.l4, quote) < 0)
		return SY_DROP(SY_DROP_MALFORMED);
	/* Headers only, then room in front for the new IP and ICMP headers. */
	if (ctx_change_tail(ctx, p->l4_off + quote) < 0 ||
	    ctx_change_head(ctx, sizeof(struct iphdr) + sizeof(struct sy_icmphdr)) < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);

	__builtin_memcpy(tmp, eth.h_dest, ETH_ALEN);
	__builtin_memcpy(eth.h_dest, eth.h_source, ETH_ALEN);
	__builtin_memcpy(eth.h_source, tmp, ETH_ALEN);

	ip = (struct iphdr){
		.version = 4,
		.ihl = 5,
		.tos = 0xc0, /* internetwork control, as the kernel's ICMP errors */
		.tot_len = bpf_htons(sizeof(ip) + SY_ICMP_UNREACH_HDRS + quote),
		.ttl = 64,
		.protocol = IPPROTO_ICMP,
		.saddr = addr_v4(&p->daddr),
		.daddr = addr_v4(&p->saddr),
	};
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&ip, sizeof(ip), 0);
	if (sum < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);
	ip.check = csum_fold(sum);

	msg.icmp.type = SY_ICMP_DEST_UNREACH;
	msg.icmp.code = SY_ICMP_PORT_UNREACH;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&msg, SY_ICMP_UNREACH_HDRS + quote, 0);
	if (sum < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);
	msg.icmp.checksum = csum_fold(sum);

	if (ctx_store_bytes(ctx, 0, &eth, sizeof(eth)) < 0 || ctx_store_bytes(ctx, p->l3_off, &ip, sizeof(ip)) < 0 ||
	    ctx_store_bytes(ctx, p->l3_off + sizeof(ip), &msg, SY_ICMP_UNREACH_HDRS + quote) < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);
	return SY_VERDICT_TX;
}

/* ---- IPv6: the same answers, with the IPv6 pseudo-header (RFC 8200 8.1) ---- */

struct pseudo_hdr6 {
	struct sy_addr saddr;
	struct sy_addr daddr;
	__be32 len;
	__u8 zero[3];
	__u8 next;
};

/* The one's complement sum of an IPv6 pseudo-header and `len` bytes of body
 * (a multiple of 4) at `body`, folded: the TCP or ICMPv6 checksum (0..65535),
 * or -1. */
static __always_inline int reject_csum6(const struct sy_addr *saddr, const struct sy_addr *daddr, __u8 next, void *body,
                                        __u32 len)
{
	struct pseudo_hdr6 ph = { .saddr = *saddr, .daddr = *daddr, .len = bpf_htonl(len), .next = next };
	__s64 sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);

	if (sum < 0)
		return -1;
	sum = bpf_csum_diff(NULL, 0, body, len, sum);
	if (sum < 0)
		return -1;
	return csum_fold(sum);
}

static __always_inline void reject_swap_macs(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
}

/* The RST|ACK for an IPv6 SYN, as reject_tcp_syn(); a SYN behind extension
 * headers is not answered (as IPv4 options are not): dropped, no_backend. */
static __always_inline int reject_tcp_syn6(sy_ctx_t *ctx, const struct sy_packet *p)
{
	struct ethhdr eth;
	struct ipv6hdr ip6;
	struct tcphdr tcp;
	__u32 seq;
	int csum;

	if (!(p->tcp_flags & SY_TCP_SYN) || (p->tcp_flags & (SY_TCP_ACK | SY_TCP_RST)) || p->ext)
		return SY_DROP(SY_DROP_NO_BACKEND);
	if (ctx_load_bytes(ctx, 0, &eth, sizeof(eth)) < 0 || ctx_load_bytes(ctx, p->l3_off, &ip6, sizeof(ip6)) < 0 ||
	    ctx_load_bytes(ctx, p->l4_off, &tcp, sizeof(tcp)) < 0)
		return SY_DROP(SY_DROP_MALFORMED);
	if (ctx_change_tail(ctx, p->l4_off + sizeof(tcp)) < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);
	reject_swap_macs(&eth);

	__builtin_memcpy(&ip6.saddr, &p->daddr, sizeof(ip6.saddr));
	__builtin_memcpy(&ip6.daddr, &p->saddr, sizeof(ip6.daddr));
	ip6.payload_len = bpf_htons(sizeof(tcp));
	ip6.nexthdr = IPPROTO_TCP;
	ip6.hop_limit = 64;

	seq = bpf_ntohl(tcp.seq);
	__builtin_memset(&tcp, 0, sizeof(tcp));
	tcp.source = p->dport;
	tcp.dest = p->sport;
	tcp.ack_seq = bpf_htonl(seq + 1);
	tcp.doff = 5;
	tcp.rst = 1;
	tcp.ack = 1;
	csum = reject_csum6(&p->daddr, &p->saddr, IPPROTO_TCP, &tcp, sizeof(tcp));
	if (csum < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);
	tcp.check = (__sum16)csum;

	if (ctx_store_bytes(ctx, 0, &eth, sizeof(eth)) < 0 || ctx_store_bytes(ctx, p->l3_off, &ip6, sizeof(ip6)) < 0 ||
	    ctx_store_bytes(ctx, p->l4_off, &tcp, sizeof(tcp)) < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);
	return SY_VERDICT_TX;
}

#define SY_ICMP6_DEST_UNREACH 1
#define SY_ICMP6_PORT_UNREACH 4

/* ICMPv6 destination unreachable's body (RFC 4443 3.1): its header, then as
 * much of the datagram as fits; here its IPv6 header and the transport bytes
 * an ICMP error quotes (reject_quote_len()). */
struct icmp6_unreach {
	struct sy_icmphdr icmp;
	struct ipv6hdr inner;
	__u8 l4[SY_REJECT_QUOTE_SCTP];
} __attribute__((packed));
#define SY_ICMP6_UNREACH_HDRS (sizeof(struct sy_icmphdr) + sizeof(struct ipv6hdr))

/* ICMPv6 port unreachable for a UDP datagram or SCTP INIT, as reject_udp(); one behind
 * extension headers is not answered (dropped, no_backend). */
static __always_inline int reject_udp6(sy_ctx_t *ctx, const struct sy_packet *p)
{
	struct ethhdr eth;
	struct ipv6hdr ip6;
	struct icmp6_unreach msg = {};
	__u32 quote = reject_quote_len(p);
	int csum;

	if (p->ext)
		return SY_DROP(SY_DROP_NO_BACKEND);
	if (ctx_load_bytes(ctx, 0, &eth, sizeof(eth)) < 0 ||
	    ctx_load_bytes(ctx, p->l3_off, &msg.inner, sizeof(msg.inner)) < 0 ||
	    ctx_load_bytes(ctx, p->l4_off, &msg.l4, quote) < 0)
		return SY_DROP(SY_DROP_MALFORMED);
	if (ctx_change_tail(ctx, p->l4_off + quote) < 0 ||
	    ctx_change_head(ctx, sizeof(struct ipv6hdr) + sizeof(struct sy_icmphdr)) < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);
	reject_swap_macs(&eth);

	__builtin_memset(&ip6, 0, sizeof(ip6));
	ip6.version = 6;
	ip6.priority = 0xc; /* traffic class 0xc0, as the kernel's ICMP errors */
	ip6.payload_len = bpf_htons(SY_ICMP6_UNREACH_HDRS + quote);
	ip6.nexthdr = IPPROTO_ICMPV6;
	ip6.hop_limit = 64;
	__builtin_memcpy(&ip6.saddr, &p->daddr, sizeof(ip6.saddr));
	__builtin_memcpy(&ip6.daddr, &p->saddr, sizeof(ip6.daddr));

	msg.icmp.type = SY_ICMP6_DEST_UNREACH;
	msg.icmp.code = SY_ICMP6_PORT_UNREACH;
	csum = reject_csum6(&p->daddr, &p->saddr, IPPROTO_ICMPV6, &msg, SY_ICMP6_UNREACH_HDRS + quote);
	if (csum < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);
	msg.icmp.checksum = (__sum16)csum;

	if (ctx_store_bytes(ctx, 0, &eth, sizeof(eth)) < 0 || ctx_store_bytes(ctx, p->l3_off, &ip6, sizeof(ip6)) < 0 ||
	    ctx_store_bytes(ctx, p->l3_off + sizeof(ip6), &msg, SY_ICMP6_UNREACH_HDRS + quote) < 0)
		return SY_DROP(SY_DROP_REJECT_FAILED);
	return SY_VERDICT_TX;
}

#endif /* SWITCHYARD_REJECT_H */
