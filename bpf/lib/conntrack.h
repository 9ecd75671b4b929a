/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Connection tracking for translated flows: the ORIGINAL entry keeps a flow on
 * the backend chosen for its first packet; the REPLY entry turns the backend's
 * answers back into the service address. Entries age out of the LRU; the
 * control plane deletes those of UDP flows whose backend it removed, since a
 * UDP flow has no end that would let it choose again. */
#ifndef SWITCHYARD_CONNTRACK_H
#define SWITCHYARD_CONNTRACK_H

#include "maps.h"
#include "packet.h"

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

	return bpf_map_lookup_elem(&sy_conntrack, &key);
}

struct ct_flow {
	__be32 client_addr; /* as the client sent it */
	__be16 client_port;
	__be32 svc_addr;
	__be16 svc_port;
	__be32 backend_addr;
	__be16 backend_port;
	__be32 reply_to; /* where the backend answers: the client, or the hairpin address */
	__u8 proto;
	__u16 flags; /* SY_CT_F_* */
	__u32 service_id;
	__u32 backend_id;
};

/* Records both directions of a new flow. The REPLY entry is written first: a
 * backend must never answer before we know how to translate its answer. */
static __always_inline int ct_create(const struct ct_flow *f)
{
	__u64 now = bpf_ktime_get_ns();
	struct sy_ct_key reply_key = {
		.saddr = f->backend_addr,
		.daddr = f->reply_to,
		.sport = f->backend_port,
		.dport = f->client_port,
		.proto = f->proto,
		.dir = SY_CT_REPLY,
	};
	struct sy_ct_entry reply = {
		.last_seen_ns = now,
		.nat_addr = f->svc_addr,
		.nat_port = f->svc_port,
		.flags = f->flags,
		.client_addr = f->client_addr,
		.service_id = f->service_id,
		.backend_id = f->backend_id,
	};
	struct sy_ct_key orig_key = {
		.saddr = f->client_addr,
		.daddr = f->svc_addr,
		.sport = f->client_port,
		.dport = f->svc_port,
		.proto = f->proto,
		.dir = SY_CT_ORIGINAL,
	};
	struct sy_ct_entry orig = {
		.last_seen_ns = now,
		.nat_addr = f->backend_addr,
		.nat_port = f->backend_port,
		.flags = f->flags,
		.client_addr = f->client_addr,
		.service_id = f->service_id,
		.backend_id = f->backend_id,
	};
	int ret = bpf_map_update_elem(&sy_conntrack, &reply_key, &reply, BPF_ANY);

	if (ret < 0)
		return ret;
	return bpf_map_update_elem(&sy_conntrack, &orig_key, &orig, BPF_ANY);
}

static __always_inline void ct_touch(struct sy_ct_entry *e)
{
	e->last_seen_ns = bpf_ktime_get_ns();
}

#endif /* SWITCHYARD_CONNTRACK_H */
