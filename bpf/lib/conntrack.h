/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Connection tracking for translated flows: the ORIGINAL entry keeps a flow on
 * the backend chosen for its first packet; the REPLY entry turns the backend's
 * answers back into the service address. Entries age out of the LRU; the
 * control plane deletes those of UDP flows whose backend it removed, since a
 * UDP flow has no end that would let it choose again.
 *
 * A source-NATed flow (an external client under externalTrafficPolicy
 * Cluster, a client outside --cluster-cidr) leaves with the node's address
 * and a port of its own. Its REPLY entry, keyed (backend -> node address,
 * NAT port), is that port's reservation: it is created with BPF_NOEXIST, so
 * two flows never share a reply tuple, as netfilter's NAT guarantees. */
#ifndef SWITCHYARD_CONNTRACK_H
#define SWITCHYARD_CONNTRACK_H

#include <linux/errno.h>
#include "maps.h"
#include "packet.h"

#define CT_NSEC_PER_SEC 1000000000ULL
/* A NAT port whose REPLY entry is older than this may be given to a new flow:
 * after a FIN or RST (the peers' TIME_WAIT protects the rest), and for flows
 * idle as long as netfilter's own timeouts (kube-proxy sets established TCP
 * to a day; UDP streams last 120 s). */
#define CT_CLOSING_REUSE_NS (10ULL * CT_NSEC_PER_SEC)
#define CT_TCP_IDLE_NS (86400ULL * CT_NSEC_PER_SEC)
#define CT_UDP_IDLE_NS (120ULL * CT_NSEC_PER_SEC)
/* netfilter's established SCTP timeout (nf_conntrack_sctp_timeout_established):
 * an association's heartbeats (30 s by default) keep it well inside. */
#define CT_SCTP_IDLE_NS (210ULL * CT_NSEC_PER_SEC)
/* Candidate NAT ports tried per new flow before it is dropped (Cilium: 32). */
#define CT_NAT_RETRIES 32

static __always_inline struct sy_ct_entry *ct_lookup(const struct sy_packet *p, __u8 dir)
{
	struct sy_ct_key key = {
		.saddr = p->saddr,
		.daddr = p->daddr,
		.sport = p->sport,
		.dport = p->dport,
		.proto = p->proto,
		.dir = dir,
	};

	return bpf_map_lookup_elem(&sy_conntrack_v3, &key);
}

/* A new flow. Its addresses are pointers (into the parsed packet, the
 * backend's map entry, sy_config's): four 16-byte copies would not fit the
 * BPF stack beside the conntrack key and entry. */
struct ct_flow {
	const struct sy_addr *client_addr; /* as the client sent it */
	const struct sy_addr *svc_addr;
	const struct sy_addr *backend_addr;
	/* The source the backend sees: the client, the hairpin address (port
	 * kept), or with SY_CT_F_SNAT the node's address (src_port is then
	 * chosen by ct_create). */
	const struct sy_addr *src_addr;
	__be16 client_port;
	__be16 svc_port;
	__be16 backend_port;
	__be16 src_port;
	__u8 proto;
	__u16 flags; /* SY_CT_F_* */
	__u32 service_id;
	__u32 backend_id;
};

/* May a NAT port held by REPLY entry e go to the new flow f? Yes if it is f's
 * own client starting over on the same port, or if its flow has ended. */
static __always_inline int ct_nat_port_reusable(const struct sy_ct_entry *e, const struct ct_flow *f, __u64 now)
{
	__u64 age = now - e->last_seen_ns;

	if (addr_eq(&e->peer_addr, f->client_addr) && e->peer_port == f->client_port)
		return 1;
	if ((e->flags & SY_CT_F_CLOSING) && age > CT_CLOSING_REUSE_NS)
		return 1;
	if (f->proto == IPPROTO_TCP)
		return age > CT_TCP_IDLE_NS;
	return age > (f->proto == IPPROTO_SCTP ? CT_SCTP_IDLE_NS : CT_UDP_IDLE_NS);
}

/* Does a socket of this node own the reply tuple (backend -> node address,
 * port)? Then the port is not ours to give: the node's own connection to the
 * same backend, or a listener on that port, would get our flow's replies.
 * SCTP has no socket lookup helper: its ports are taken on trust (a node
 * SCTP socket on a NAT port of the range is the operator's conflict, as a
 * listener inside netfilter's NAT range would be). */
static __always_inline int ct_nat_port_has_socket(sy_ctx_t *ctx, const struct sy_ct_key *k)
{
	struct bpf_sock_tuple tuple = {};
	__u32 size = sizeof(tuple.ipv4);
	struct bpf_sock *sk;

	if (addr_is_v4(&k->saddr)) {
		tuple.ipv4.saddr = addr_v4(&k->saddr);
		tuple.ipv4.daddr = addr_v4(&k->daddr);
		tuple.ipv4.sport = k->sport;
		tuple.ipv4.dport = k->dport;
	} else {
		__builtin_memcpy(tuple.ipv6.saddr, k->saddr.w, sizeof(k->saddr));
		__builtin_memcpy(tuple.ipv6.daddr, k->daddr.w, sizeof(k->daddr));
		tuple.ipv6.sport = k->sport;
		tuple.ipv6.dport = k->dport;
		size = sizeof(tuple.ipv6);
	}
	if (k->proto == IPPROTO_TCP)
		sk = bpf_skc_lookup_tcp(ctx, &tuple, size, BPF_F_CURRENT_NETNS, 0);
	else if (k->proto == IPPROTO_UDP)
		sk = bpf_sk_lookup_udp(ctx, &tuple, size, BPF_F_CURRENT_NETNS, 0);
	else
		return 0;
	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 1;
}

/* Reserves a NAT port for f by writing its REPLY entry under it: the
 * client's own port first when it is in the range (as netfilter keeps it),
 * then random ones. Sets f->src_port; 0, or -ENOSPC when every try was taken. */
static __always_inline int ct_reserve_nat_port(sy_ctx_t *ctx, struct ct_flow *f, struct sy_ct_key *key,
                                               const struct sy_ct_entry *reply, const struct sy_config *cfg)
{
	__u32 min = cfg->nat_port_min, max = cfg->nat_port_max;
	__u32 span = max >= min ? max - min + 1 : 0;
	__u32 port = bpf_ntohs(f->client_port);
	__u64 now = reply->last_seen_ns;

	if (span == 0)
		return -ENOSPC;
	if (port < min || port > max)
		port = min + bpf_get_prandom_u32() % span;
	for (int i = 0; i < CT_NAT_RETRIES; i++) {
		struct sy_ct_entry *held;

		key->dport = bpf_htons((__u16)port);
		if (!ct_nat_port_has_socket(ctx, key)) {
			if (bpf_map_update_elem(&sy_conntrack_v3, key, reply, BPF_NOEXIST) == 0)
				goto reserved;
			held = bpf_map_lookup_elem(&sy_conntrack_v3, key);
			if (held && ct_nat_port_reusable(held, f, now) &&
			    bpf_map_update_elem(&sy_conntrack_v3, key, reply, BPF_ANY) == 0)
				goto reserved;
		}
		port = min + bpf_get_prandom_u32() % span;
	}
	return -ENOSPC;
reserved:
	f->src_port = key->dport;
	return 0;
}

/* Records both directions of a new flow. The REPLY entry is written first: a
 * backend must never answer before we know how to translate its answer. For
 * a source-NATed flow that write also picks its port (cfg: the NAT range). */
static __always_inline int ct_create(sy_ctx_t *ctx, struct ct_flow *f, const struct sy_config *cfg)
{
	/* One key and one entry, the REPLY one first, then turned into the
	 * ORIGINAL one: the stack holds one of each (two 16-byte addresses
	 * per key, two per entry). */
	struct sy_ct_key key = {
		.saddr = *f->backend_addr,
		.daddr = *f->src_addr,
		.sport = f->backend_port,
		.dport = f->src_port,
		.proto = f->proto,
		.dir = SY_CT_REPLY,
	};
	struct sy_ct_entry e = {
		.last_seen_ns = bpf_ktime_get_ns(),
		.nat_addr = *f->svc_addr,
		.nat_port = f->svc_port,
		.flags = f->flags,
		.peer_addr = *f->client_addr,
		.peer_port = f->client_port,
		.service_id = f->service_id,
		.backend_id = f->backend_id,
	};
	int ret;

	if (f->flags & SY_CT_F_SNAT) {
		if (!cfg)
			return -ENOSPC;
		ret = ct_reserve_nat_port(ctx, f, &key, &e, cfg);
	} else {
		ret = bpf_map_update_elem(&sy_conntrack_v3, &key, &e, BPF_ANY);
	}
	if (ret < 0)
		return ret;
	key.saddr = *f->client_addr;
	key.daddr = *f->svc_addr;
	key.sport = f->client_port;
	key.dport = f->svc_port;
	key.dir = SY_CT_ORIGINAL;
	e.nat_addr = *f->backend_addr;
	e.nat_port = f->backend_port;
	e.peer_addr = *f->src_addr;
	e.peer_port = f->src_port;
	ret = bpf_map_update_elem(&sy_conntrack_v3, &key, &e, BPF_ANY);
	if (ret < 0 && (f->flags & SY_CT_F_SNAT)) {
		/* give the port back */
		key.saddr = *f->backend_addr;
		key.daddr = *f->src_addr;
		key.sport = f->backend_port;
		key.dport = f->src_port;
		key.dir = SY_CT_REPLY;
		bpf_map_delete_elem(&sy_conntrack_v3, &key);
	}
	return ret;
}

static __always_inline void ct_touch(struct sy_ct_entry *e)
{
	e->last_seen_ns = bpf_ktime_get_ns();
}

/* A TCP packet ending its flow (FIN or RST), or an SCTP one (ABORT or
 * SHUTDOWN COMPLETE first in the packet: either is never bundled behind
 * data in practice): the flow's REPLY entry is marked, so its NAT port may be
 * reused once the closing has had time to finish. */
static __always_inline int ct_tcp_closing(const struct sy_packet *p)
{
	if (p->proto == IPPROTO_SCTP)
		return p->sctp_chunk == SY_SCTP_ABORT || p->sctp_chunk == SY_SCTP_SHUTDOWN_COMPLETE;
	return p->proto == IPPROTO_TCP && (p->tcp_flags & (SY_TCP_FIN | SY_TCP_RST));
}

/* A packet opening a connection: a TCP SYN without ACK, or an SCTP INIT
 * (RFC 9260 6.10: never bundled). On a tracked tuple it is a new connection
 * reusing a port, and gets a new choice. */
static __always_inline int ct_is_open(const struct sy_packet *p)
{
	if (p->proto == IPPROTO_SCTP)
		return p->sctp_chunk == SY_SCTP_INIT;
	return p->proto == IPPROTO_TCP && (p->tcp_flags & (SY_TCP_SYN | SY_TCP_ACK)) == SY_TCP_SYN;
}

#endif /* SWITCHYARD_CONNTRACK_H */
