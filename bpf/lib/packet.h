/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Parsing an Ethernet/IPv4 or Ethernet/IPv6 TCP, UDP or SCTP packet (tc or
 * XDP) into offsets and the flow's 5-tuple, addresses as struct sy_addr (IPv4
 * IPv4-mapped, addr.h). Other packets (ARP, ICMP and ICMPv6, later
 * fragments) are left to their own handlers (icmp.h, frag.h).
 *
 * IPv6 extension headers: hop-by-hop options, routing and destination
 * options are skipped, up to SY_IPV6_MAX_EXT headers in all; a routing
 * header with segments left is refused (the destination is not yet the
 * packet's final one), and so is any other header (ESP, AH, mobility, no
 * next header): such packets pass untranslated. The fragment header is
 * handled as IPv4 fragments are: a first fragment is translated and
 * remembered (frag.h), a later one is matched by its identification; an
 * atomic fragment (offset 0, no more) is a whole datagram.
 *
 * SCTP's common header starts as TCP's and UDP's (source port, destination
 * port), so it is tracked and translated as they are; its checksum is a
 * CRC32c over the whole SCTP packet (sctp.h). A fragmented SCTP packet (not
 * atomic) is refused: the CRC's update needs the packet's full length, which
 * its first fragment does not tell (Linux's SCTP fragments into chunks
 * itself and sets DF; IP fragments of SCTP are rare). */
#ifndef SWITCHYARD_PACKET_H
#define SWITCHYARD_PACKET_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "addr.h"
#include "ctx.h"

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
/* The IPv6 fragment header's offset and M flag (RFC 8200 4.5), host order. */
#define IP6_MF 0x0001
#define IP6_OFFSET 0xfff8
/* Extension headers skipped before giving up (Cilium: 4). */
#define SY_IPV6_MAX_EXT 4
#define SY_IPV6_HDR_LEN 40

struct sy_packet {
	__u32 l3_off;
	__u32 l4_off;
	struct sy_addr saddr;
	struct sy_addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	union {
		__u8 tcp_flags;  /* TCP: the flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10) */
		__u8 sctp_chunk; /* SCTP: the first chunk's type (INIT 1, ABORT 6, SHUTDOWN COMPLETE 14) */
	};
	__u8 ihl_words;      /* IPv4: header length in words; IPv6: 0 */
	__u8 first_fragment; /* the first fragment of a datagram (more follow): the rest are matched by ip_id */
	__u8 v6;             /* IPv6 (else IPv4) */
	__u8 ext;            /* IPv6: extension headers between the fixed header and the L4 one */
	__u16 l4_len;        /* the transport header and payload, as the IP header says (SCTP's CRC covers it) */
	__be32 ip_id;        /* IPv4's identification, or the IPv6 fragment header's */
};

#define SY_TCP_FIN 0x01
#define SY_TCP_SYN 0x02
#define SY_TCP_RST 0x04
#define SY_TCP_ACK 0x10

/* SCTP chunk types (RFC 9260 3.2) and the common header's checksum offset. */
#define SY_SCTP_INIT 1
#define SY_SCTP_ABORT 6
#define SY_SCTP_SHUTDOWN_COMPLETE 14
#define SY_SCTP_CSUM_OFF 8
#define SY_SCTP_HDR_LEN 12

static __always_inline int packet_proto_has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

/* An IPv6 extension header's first 8 bytes (the fragment header whole). */
struct sy_ipv6_ext {
	__u8 next;
	__u8 len; /* fragment header: reserved */
	union {
		struct {
			__u8 type;
			__u8 segments_left;
		} rt;
		__be16 frag_off;
	};
	__be32 id; /* fragment header: identification */
};

/* The ports and TCP flags (SCTP: the first chunk's type) at p->l4_off; 0
 * when readable. */
static __always_inline int packet_parse_ports(sy_ctx_t *ctx, struct sy_packet *p)
{
	__be16 ports[2];

	if (ctx_load_bytes(ctx, p->l4_off, ports, sizeof(ports)) < 0)
		return -1;
	p->sport = ports[0];
	p->dport = ports[1];
	p->tcp_flags = 0;
	if (p->proto == IPPROTO_TCP && ctx_load_bytes(ctx, p->l4_off + 13, &p->tcp_flags, 1) < 0)
		return -1;
	if (p->proto == IPPROTO_SCTP && ctx_load_bytes(ctx, p->l4_off + SY_SCTP_HDR_LEN, &p->sctp_chunk, 1) < 0)
		return -1;
	return 0;
}

/* 0 when the packet is IPv6 TCP, UDP or SCTP, extension headers as above. */
static __noinline int packet_parse_v6(sy_ctx_t *ctx, struct sy_packet *p)
{
	struct ipv6hdr ip6;
	__u32 off = sizeof(struct ethhdr);
	__u8 next;

	if (ctx_load_bytes(ctx, off, &ip6, sizeof(ip6)) < 0 || ip6.version != 6)
		return -1;
	p->l3_off = off;
	__builtin_memcpy(&p->saddr, &ip6.saddr, sizeof(p->saddr));
	__builtin_memcpy(&p->daddr, &ip6.daddr, sizeof(p->daddr));
	/* IPv4-mapped addresses never appear on the wire (RFC 4291 2.5.5.2);
	 * here they are how IPv4 is keyed, so an IPv6 packet carrying one must
	 * not find an IPv4 service or flow. */
	if (addr_is_v4(&p->saddr) || addr_is_v4(&p->daddr))
		return -1;
	p->v6 = 1;
	p->ihl_words = 0;
	p->first_fragment = 0;
	p->ip_id = 0;
	next = ip6.nexthdr;
	off += sizeof(ip6);
#pragma unroll
	for (int i = 0; i < SY_IPV6_MAX_EXT; i++) {
		struct sy_ipv6_ext ext;

		if (packet_proto_has_ports(next))
			break;
		if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS &&
		    next != IPPROTO_FRAGMENT)
			return -1;
		if (ctx_load_bytes(ctx, off, &ext, sizeof(ext)) < 0)
			return -1;
		if (next == IPPROTO_FRAGMENT) {
			/* A later fragment carries no ports: frag.h's. */
			if (ext.frag_off & bpf_htons(IP6_OFFSET))
				return -1;
			p->first_fragment = (ext.frag_off & bpf_htons(IP6_MF)) != 0;
			p->ip_id = ext.id;
			off += 8;
		} else {
			if (next == IPPROTO_ROUTING && ext.rt.segments_left != 0)
				return -1;
			off += ((__u32)ext.len + 1) * 8;
		}
		next = ext.next;
	}
	if (!packet_proto_has_ports(next))
		return -1;
	if (next == IPPROTO_SCTP && p->first_fragment)
		return -1;
	p->proto = next;
	p->l4_off = off;
	p->ext = off != p->l3_off + SY_IPV6_HDR_LEN;
	/* Jumbograms (payload length 0, RFC 2675) are not translated. */
	if (bpf_ntohs(ip6.payload_len) < off - p->l3_off - SY_IPV6_HDR_LEN)
		return -1;
	p->l4_len = bpf_ntohs(ip6.payload_len) - (off - p->l3_off - SY_IPV6_HDR_LEN);
	return packet_parse_ports(ctx, p);
}

/* 0 when the packet is IPv4 or IPv6 TCP, UDP or SCTP with its ports readable. */
static __always_inline int packet_parse(sy_ctx_t *ctx, struct sy_packet *p)
{
	void *data = ctx_data(ctx);
	void *data_end = ctx_data_end(ctx);
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__be16 *ports;

	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return packet_parse_v6(ctx, p);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl < 5)
		return -1;
	if (!packet_proto_has_ports(ip->protocol))
		return -1;
	/* A later fragment carries no ports: it cannot be matched to a flow. */
	if (ip->frag_off & bpf_htons(IP_OFFSET))
		return -1;
	if (ip->protocol == IPPROTO_SCTP && (ip->frag_off & bpf_htons(IP_MF)))
		return -1;
	if (bpf_ntohs(ip->tot_len) < ip->ihl * 4)
		return -1;
	p->l3_off = sizeof(*eth);
	p->l4_off = sizeof(*eth) + ip->ihl * 4;
	p->ihl_words = ip->ihl;
	p->saddr = addr_from_v4(ip->saddr);
	p->daddr = addr_from_v4(ip->daddr);
	p->v6 = 0;
	p->ext = 0;
	p->proto = ip->protocol;
	p->ip_id = ip->id;
	p->first_fragment = (ip->frag_off & bpf_htons(IP_MF)) != 0;
	p->l4_len = bpf_ntohs(ip->tot_len) - ip->ihl * 4;
	ports = data + p->l4_off;
	if ((void *)(ports + 2) > data_end)
		return -1;
	p->sport = ports[0];
	p->dport = ports[1];
	p->tcp_flags = 0;
	if (p->proto == IPPROTO_TCP) {
		__u8 *flags = data + p->l4_off + 13;

		if ((void *)(flags + 1) > data_end)
			return -1;
		p->tcp_flags = *flags;
	}
	if (p->proto == IPPROTO_SCTP) {
		__u8 *chunk = data + p->l4_off + SY_SCTP_HDR_LEN;

		if ((void *)(chunk + 1) > data_end)
			return -1;
		p->sctp_chunk = *chunk;
	}
	return 0;
}

#endif /* SWITCHYARD_PACKET_H */
