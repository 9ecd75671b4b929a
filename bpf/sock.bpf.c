// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * cgroup socket hooks for node-originated traffic to services. Attached to the
 * node's cgroup v2 root in production; tests attach them to a cgroup they
 * created. Why at the socket: the node's own packets never pass a pod veth,
 * and translating once per connect() costs nothing per packet. One per-packet
 * hook, cgroup_skb egress: one service lookup per packet, to drop what
 * kube-proxy drops (internalTrafficPolicy Local without a local endpoint).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sock.h"

char LICENSE[] SEC("license") = "GPL";

SEC("cgroup/connect4")
int sy_sock4_connect(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, 0);
}

SEC("cgroup/sendmsg4")
int sy_sock4_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, 0);
}

SEC("cgroup/recvmsg4")
int sy_sock4_recvmsg(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, 0);
}

SEC("cgroup/getpeername4")
int sy_sock4_getpeername(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, 0);
}

SEC("cgroup/connect6")
int sy_sock6_connect(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, 1);
}

SEC("cgroup/sendmsg6")
int sy_sock6_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, 1);
}

SEC("cgroup/recvmsg6")
int sy_sock6_recvmsg(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, 1);
}

SEC("cgroup/getpeername6")
int sy_sock6_getpeername(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, 1);
}

/* Both families' packets (cgroup_skb sees IPv4 and IPv6). */
SEC("cgroup_skb/egress")
int sy_sock4_egress(struct __sk_buff *skb)
{
	return sock_egress_drop(skb);
}
