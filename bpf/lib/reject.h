/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Refusing a TCP connection to a service without endpoints, as kube-proxy's
 * REJECT does: the SYN is turned into a RST|ACK in place and sent back out of
 * the interface it came in on, so the client's connect() fails at once with
 * ECONNREFUSED instead of retrying SYNs for a minute. */
#ifndef SWITCHYARD_REJECT_H
#define SWITCHYARD_REJECT_H

#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include "packet.h"

static __always_inline __u16 csum_fold(__u32 csum)
{
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	return (__u16)~csum;
}

struct pseudo_hdr {
	__be32 saddr;
	__be32 daddr;
	__u8 zero;
	__u8 proto;
	__be16 len;
};

/* Returns a tc verdict: a redirect carrying the RST, or SHOT when the packet
 * is not a plain SYN we can answer. */
static __always_inline int reject_tcp_syn(struct __sk_buff *skb, const struct sy_packet *p)
{
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
	struct pseudo_hdr ph;
	__u8 tmp[ETH_ALEN];
	__u32 seq;
	__s64 sum;

	if (!(p->tcp_flags & SY_TCP_SYN) || (p->tcp_flags & (SY_TCP_ACK | SY_TCP_RST)) || p->ihl_words != 5)
		return TC_ACT_SHOT;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0 ||
	    bpf_skb_load_bytes(skb, p->l3_off, &ip, sizeof(ip)) < 0 ||
	    bpf_skb_load_bytes(skb, p->l4_off, &tcp, sizeof(tcp)) < 0)
		return TC_ACT_SHOT;
	/* Drop options and payload: a RST is 40 bytes of IP. */
	if (bpf_skb_change_tail(skb, p->l4_off + sizeof(tcp), 0) < 0)
		return TC_ACT_SHOT;

	__builtin_memcpy(tmp, eth.h_dest, ETH_ALEN);
	__builtin_memcpy(eth.h_dest, eth.h_source, ETH_ALEN);
	__builtin_memcpy(eth.h_source, tmp, ETH_ALEN);

	ip.daddr = p->saddr;
	ip.saddr = p->daddr;
	ip.tot_len = bpf_htons(sizeof(ip) + sizeof(tcp));
	ip.ttl = 64;
	ip.id = 0;
	ip.frag_off = bpf_htons(0x4000); /* DF */
	ip.check = 0;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&ip, sizeof(ip), 0);
	if (sum < 0)
		return TC_ACT_SHOT;
	ip.check = csum_fold(sum);

	seq = bpf_ntohl(tcp.seq);
	__builtin_memset(&tcp, 0, sizeof(tcp));
	tcp.source = p->dport;
	tcp.dest = p->sport;
	tcp.ack_seq = bpf_htonl(seq + 1); /* the SYN takes one sequence number */
	tcp.doff = 5;
	tcp.rst = 1;
	tcp.ack = 1;
	ph = (struct pseudo_hdr){ .saddr = ip.saddr, .daddr = ip.daddr, .proto = IPPROTO_TCP, .len = bpf_htons(sizeof(tcp)) };
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	if (sum < 0)
		return TC_ACT_SHOT;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&tcp, sizeof(tcp), sum);
	if (sum < 0)
		return TC_ACT_SHOT;
	tcp.check = csum_fold(sum);

	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0) < 0 ||
	    bpf_skb_store_bytes(skb, p->l3_off, &ip, sizeof(ip), 0) < 0 ||
	    bpf_skb_store_bytes(skb, p->l4_off, &tcp, sizeof(tcp), 0) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

#endif /* SWITCHYARD_REJECT_H */
