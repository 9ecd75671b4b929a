/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Translation at the socket for the node's own processes: their traffic never
 * crosses a pod veth, so it is translated where the socket is given its peer.
 * connect() and sendmsg() get the backend; recvmsg() and getpeername() give
 * back the service address the application asked for. No per-packet work.
 * The same entries serve ClusterIPs, NodePorts on the node's addresses and on
 * 127.0.0.1 (kube-proxy's localhost NodePorts), load-balancer IPs and
 * externalIPs. A load-balancer IP's source ranges are not applied here: the
 * node's own connections are not filtered (a socket has no source address
 * yet when it connects). */
#ifndef SWITCHYARD_SOCK_H
#define SWITCHYARD_SOCK_H

#include <linux/errno.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include "lb.h"
#include "packet.h"
#include "verdict.h"

#define SOCK_ALLOW 1
#define SOCK_DENY 0

static __always_inline __u8 sock_proto(const struct bpf_sock_addr *ctx)
{
	return ctx->type == 1 /* SOCK_STREAM */ ? IPPROTO_TCP : ctx->type == 2 /* SOCK_DGRAM */ ? IPPROTO_UDP : 0;
}

/* Rewrites ctx's peer from a service address to a backend. */
static __always_inline int sock4_xlate_fwd(struct bpf_sock_addr *ctx)
{
	__u8 proto = sock_proto(ctx);
	__be32 svc_addr = ctx->user_ip4;
	__be16 svc_port = (__be16)ctx->user_port;
	struct sy_sock_revnat_key rkey = {};
	struct sy_sock_revnat rval = {};
	const struct sy_service *svc;
	struct sy_backend *backend;
	__u32 backend_id = 0;

	if (!proto)
		return SOCK_ALLOW;
	svc = lb_lookup_service(svc_addr, svc_port, proto);
	if (!svc)
		return SOCK_ALLOW;
	/* The node's own traffic to an external address short-circuits to every
	 * endpoint under externalTrafficPolicy Local, as kube-proxy sends it. */
	if (svc->flags & SY_SVC_F_EXTERNAL_LOCAL)
		svc = lb_internal_entry(svc, proto);
	/* A Maglev table at connect time: any entry (the node's own flows need no
	 * agreement with other nodes). */
	backend = lb_select_backend(svc, 0 /* the node itself */, bpf_get_prandom_u32(), &backend_id);
	/* Endpoints exist, none for this node (internalTrafficPolicy Local):
	 * kube-proxy drops, so the socket keeps its service address and
	 * sock4_egress_drop() drops its packets; connect() waits, as it would. */
	if (!backend && (svc->flags & SY_SVC_F_DROP_NO_BACKEND))
		return SOCK_ALLOW;
	if (!backend) {
		/* connect() and sendmsg() fail with ECONNREFUSED, as REJECT would. */
		bpf_set_retval(-ECONNREFUSED);
		return SOCK_DENY;
	}
	rkey.cookie = bpf_get_socket_cookie(ctx);
	rkey.addr = backend->addr;
	rkey.port = backend->port;
	rval.addr = svc_addr;
	rval.port = svc_port;
	bpf_map_update_elem(&sy_sock_revnat, &rkey, &rval, BPF_ANY);
	ctx->user_ip4 = backend->addr;
	ctx->user_port = (__u32)backend->port;
	return SOCK_ALLOW;
}

/* Rewrites ctx's peer from a backend back to the service address. */
static __always_inline int sock4_xlate_rev(struct bpf_sock_addr *ctx)
{
	struct sy_sock_revnat_key rkey = {
		.cookie = bpf_get_socket_cookie(ctx),
		.addr = ctx->user_ip4,
		.port = (__be16)ctx->user_port,
	};
	struct sy_sock_revnat *rval = bpf_map_lookup_elem(&sy_sock_revnat, &rkey);

	if (rval) {
		ctx->user_ip4 = rval->addr;
		ctx->user_port = (__u32)rval->port;
	}
	return SOCK_ALLOW;
}

/* cgroup_skb egress: a node process's packet to a service port whose
 * endpoints are all elsewhere (SY_SVC_F_DROP_NO_BACKEND) is dropped, as
 * kube-proxy's filter DROP does; connect4 left its address alone. 1 lets the
 * packet go, 0 drops it. */
static __always_inline int sock4_egress_drop(struct __sk_buff *skb)
{
	const struct sy_service *svc;
	struct iphdr ip;
	__be16 ports[2];

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 1;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0 || ip.ihl < 5)
		return 1;
	if ((ip.protocol != IPPROTO_TCP && ip.protocol != IPPROTO_UDP) || (ip.frag_off & bpf_htons(IP_OFFSET)))
		return 1;
	if (bpf_skb_load_bytes(skb, ip.ihl * 4, ports, sizeof(ports)) < 0)
		return 1;
	svc = lb_lookup_service(ip.daddr, ports[1], ip.protocol);
	if (!svc || svc->backend_count != 0 || !(svc->flags & SY_SVC_F_DROP_NO_BACKEND))
		return 1;
	verdict_count_drop(SY_DROP(SY_DROP_NO_BACKEND_POLICY));
	return 0;
}

#endif /* SWITCHYARD_SOCK_H */
