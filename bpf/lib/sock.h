/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Translation at the socket for the node's own processes: their traffic never
 * crosses a pod veth, so it is translated where the socket is given its peer.
 * connect() and sendmsg() get the backend; recvmsg() and getpeername() give
 * back the service address the application asked for. No per-packet work.
 * The same entries serve ClusterIPs, NodePorts on the node's addresses and on
 * 127.0.0.1 (kube-proxy's localhost NodePorts), load-balancer IPs and
 * externalIPs. A load-balancer IP's source ranges are not applied here: the
 * node's own connections are not filtered (a socket has no source address
 * yet when it connects). Both families: the *4 hooks for AF_INET sockets,
 * the *6 ones for AF_INET6 sockets (IPv4-mapped peers among them). */
#ifndef SWITCHYARD_SOCK_H
#define SWITCHYARD_SOCK_H

#include <linux/errno.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include "lb.h"
#include "packet.h"
#include "verdict.h"

#define SOCK_ALLOW 1
#define SOCK_DENY 0

/* The socket's protocol, as the service key holds it; 0: not ours. By the
 * protocol, not the type: an SCTP one-to-one socket is SOCK_STREAM and an
 * ICMP ping socket SOCK_DGRAM, and neither may be given a TCP or UDP
 * service's backend. SCTP never gets here: Linux's sctp_inet_connect() and
 * sctp_sendmsg() run no cgroup sock_addr hook, so the node's own SCTP to a
 * service is not translated (pods' is, at tc). */
static __always_inline __u8 sock_proto(const struct bpf_sock_addr *ctx)
{
	__u32 proto = ctx->protocol;

	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ? (__u8)proto : 0;
}

/* The peer a sock_addr hook sees, as a struct sy_addr: an AF_INET socket's
 * IPv4 address IPv4-mapped; an AF_INET6 socket's as it is, so one dialling
 * ::ffff:10.96.0.10 finds the IPv4 ClusterIP's entry (as iptables sees such
 * a connection: IPv4) and is given the IPv4 backend IPv4-mapped. */
static __always_inline struct sy_addr sock_peer(const struct bpf_sock_addr *ctx, int v6)
{
	struct sy_addr a;

	if (!v6)
		return addr_from_v4(ctx->user_ip4);
	a.w[0] = ctx->user_ip6[0];
	a.w[1] = ctx->user_ip6[1];
	a.w[2] = ctx->user_ip6[2];
	a.w[3] = ctx->user_ip6[3];
	return a;
}

static __always_inline void sock_set_peer(struct bpf_sock_addr *ctx, int v6, const struct sy_addr *a, __be16 port)
{
	if (v6) {
		ctx->user_ip6[0] = a->w[0];
		ctx->user_ip6[1] = a->w[1];
		ctx->user_ip6[2] = a->w[2];
		ctx->user_ip6[3] = a->w[3];
	} else {
		ctx->user_ip4 = addr_v4(a);
	}
	ctx->user_port = (__u32)port;
}

/* Rewrites ctx's peer from a service address to a backend (v6: an AF_INET6 socket). */
static __always_inline int sock_xlate_fwd(struct bpf_sock_addr *ctx, int v6)
{
	__u8 proto = sock_proto(ctx);
	struct sy_addr svc_addr = sock_peer(ctx, v6);
	__be16 svc_port = (__be16)ctx->user_port;
	struct sy_sock_revnat_key rkey = {};
	struct sy_sock_revnat rval = {};
	const struct sy_service *svc;
	struct sy_backend *backend;
	struct sy_addr node = {};
	__u32 backend_id = 0;

	if (!proto)
		return SOCK_ALLOW;
	svc = lb_lookup_service(&svc_addr, svc_port, proto);
	if (!svc)
		return SOCK_ALLOW;
	/* The node's own traffic to an external address short-circuits to every
	 * endpoint under externalTrafficPolicy Local, as kube-proxy sends it. */
	if (svc->flags & SY_SVC_F_EXTERNAL_LOCAL)
		svc = lb_internal_entry(svc, proto);
	/* A Maglev table at connect time: any entry (the node's own flows need no
	 * agreement with other nodes). */
	backend = lb_select_backend(svc, &node /* the node itself */, bpf_get_prandom_u32(), &backend_id);
	/* Endpoints exist, none for this node (internalTrafficPolicy Local):
	 * kube-proxy drops, so the socket keeps its service address and
	 * sock_egress_drop() drops its packets; connect() waits, as it would. */
	if (!backend && (svc->flags & SY_SVC_F_DROP_NO_BACKEND))
		return SOCK_ALLOW;
	if (!backend) {
		/* connect() and sendmsg() fail with ECONNREFUSED, as REJECT would. */
		bpf_set_retval(-ECONNREFUSED);
		return SOCK_DENY;
	}
	/* An AF_INET socket cannot be given an IPv6 backend, nor an AF_INET6
	 * one an IPv4 backend unless it dialled IPv4-mapped: the families are
	 * the service address's, so this only guards a malformed entry. */
	if (addr_is_v4(&backend->addr) != addr_is_v4(&svc_addr))
		return SOCK_ALLOW;
	rkey.cookie = bpf_get_socket_cookie(ctx);
	rkey.addr = backend->addr;
	rkey.port = backend->port;
	rval.addr = svc_addr;
	rval.port = svc_port;
	bpf_map_update_elem(&sy_sock_revnat_v2, &rkey, &rval, BPF_ANY);
	sock_set_peer(ctx, v6, &backend->addr, backend->port);
	return SOCK_ALLOW;
}

/* Rewrites ctx's peer from a backend back to the service address. */
static __always_inline int sock_xlate_rev(struct bpf_sock_addr *ctx, int v6)
{
	struct sy_sock_revnat_key rkey = {
		.cookie = bpf_get_socket_cookie(ctx),
		.addr = sock_peer(ctx, v6),
		.port = (__be16)ctx->user_port,
	};
	struct sy_sock_revnat *rval = bpf_map_lookup_elem(&sy_sock_revnat_v2, &rkey);

	if (rval)
		sock_set_peer(ctx, v6, &rval->addr, rval->port);
	return SOCK_ALLOW;
}

/* cgroup_skb egress: a node process's packet to a service port whose
 * endpoints are all elsewhere (SY_SVC_F_DROP_NO_BACKEND) is dropped, as
 * kube-proxy's filter DROP does; connect4 left its address alone. 1 lets the
 * packet go, 0 drops it. */
static __always_inline int sock_egress_drop(struct __sk_buff *skb)
{
	const struct sy_service *svc;
	struct sy_addr daddr;
	struct iphdr ip;
	__be16 ports[2];
	__u8 proto;

	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		/* IPv6: a TCP or UDP header right after the fixed one (the
		 * node's own sockets add no extension headers to such flows). */
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) < 0)
			return 1;
		if (ip6.nexthdr != IPPROTO_TCP && ip6.nexthdr != IPPROTO_UDP)
			return 1;
		if (bpf_skb_load_bytes(skb, sizeof(ip6), ports, sizeof(ports)) < 0)
			return 1;
		__builtin_memcpy(&daddr, &ip6.daddr, sizeof(daddr));
		proto = ip6.nexthdr;
	} else {
		if (skb->protocol != bpf_htons(ETH_P_IP))
			return 1;
		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0 || ip.ihl < 5)
			return 1;
		if ((ip.protocol != IPPROTO_TCP && ip.protocol != IPPROTO_UDP) || (ip.frag_off & bpf_htons(IP_OFFSET)))
			return 1;
		if (bpf_skb_load_bytes(skb, ip.ihl * 4, ports, sizeof(ports)) < 0)
			return 1;
		daddr = addr_from_v4(ip.daddr);
		proto = ip.protocol;
	}
	svc = lb_lookup_service(&daddr, ports[1], proto);
	if (!svc || svc->backend_count != 0 || !(svc->flags & SY_SVC_F_DROP_NO_BACKEND))
		return 1;
	verdict_count_drop(SY_DROP(SY_DROP_NO_BACKEND_POLICY));
	return 0;
}

#endif /* SWITCHYARD_SOCK_H */
