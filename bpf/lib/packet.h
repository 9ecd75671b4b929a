/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Parsing an Ethernet/IPv4 TCP or UDP packet (tc or XDP) into offsets and the
 * flow's 5-tuple. Other packets (IPv6, ARP, ICMP, later fragments) are left
 * to their own handlers (icmp.h, frag.h). */
#ifndef SWITCHYARD_PACKET_H
#define SWITCHYARD_PACKET_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "ctx.h"

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

struct sy_packet {
	__u32 l3_off;
	__u32 l4_off;
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 tcp_flags; /* the TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10) */
	__u8 ihl_words;
	__u8 first_fragment; /* the first fragment of a datagram (more follow): the rest are matched by ip_id */
	__be16 ip_id;
};

#define SY_TCP_FIN 0x01
#define SY_TCP_SYN 0x02
#define SY_TCP_RST 0x04
#define SY_TCP_ACK 0x10

/* 0 when the packet is IPv4 TCP or UDP with its ports readable. */
static __always_inline int packet_parse(sy_ctx_t *ctx, struct sy_packet *p)
{
	void *data = ctx_data(ctx);
	void *data_end = ctx_data_end(ctx);
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__be16 *ports;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl < 5)
		return -1;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return -1;
	/* A later fragment carries no ports: it cannot be matched to a flow. */
	if (ip->frag_off & bpf_htons(IP_OFFSET))
		return -1;
	p->l3_off = sizeof(*eth);
	p->l4_off = sizeof(*eth) + ip->ihl * 4;
	p->ihl_words = ip->ihl;
	p->saddr = ip->saddr;
	p->daddr = ip->daddr;
	p->proto = ip->protocol;
	p->ip_id = ip->id;
	p->first_fragment = (ip->frag_off & bpf_htons(IP_MF)) != 0;
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
	return 0;
}

#endif /* SWITCHYARD_PACKET_H */
