/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Service lookup and backend selection, shared by the tc and socket programs.
 * Every step is one hash lookup, whatever the number of services or backends.
 */
#ifndef SWITCHYARD_LB_H
#define SWITCHYARD_LB_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "addr.h"
#include "maps.h"

#define NSEC_PER_SEC 1000000000ULL

static __always_inline struct sy_service *lb_lookup_service(const struct sy_addr *addr, __be16 port, __u8 proto)
{
	struct sy_service_key key = { .addr = *addr, .port = port, .proto = proto };

	return bpf_map_lookup_elem(&sy_services_v3, &key);
}

static __always_inline struct sy_backend *lb_lookup_backend(__u32 backend_id)
{
	return bpf_map_lookup_elem(&sy_backends_v2, &backend_id);
}

/* Is the client inside the cluster (a pod, by --cluster-cidr)? */
static __always_inline int lb_client_in_cluster(const struct sy_addr *client)
{
	struct sy_cidr_key key = { .prefixlen = 128, .addr = *client };

	return bpf_map_lookup_elem(&sy_cluster_cidr_v2, &key) != NULL;
}

/* Does the entry's loadBalancerSourceRanges hold the client? */
static __always_inline int lb_source_allowed(const struct sy_service *svc, const struct sy_addr *client)
{
	struct sy_src_range_key key = { .prefixlen = 32 + 128, .service_id = svc->id, .addr = *client };

	return bpf_map_lookup_elem(&sy_src_ranges_v2, &key) != NULL;
}

/* externalTrafficPolicy Local: the entry a client inside the cluster uses
 * instead, the service's ClusterIP (kube-proxy's short-circuit to every
 * endpoint); the external entry itself when that is not programmed. */
static __always_inline const struct sy_service *lb_internal_entry(const struct sy_service *svc, __u8 proto)
{
	const struct sy_service *internal = lb_lookup_service(&svc->cluster_addr, svc->cluster_port, proto);

	return internal ? internal : svc;
}

/* A backend from the affinity table, if the client had one recently and it
 * is still a backend of the service. */
static __always_inline struct sy_backend *lb_affinity_backend(const struct sy_service *svc,
                                                              const struct sy_addr *client, __u32 *backend_id)
{
	struct sy_affinity_key key = { .service_id = svc->id, .client = *client };
	struct sy_affinity *aff = bpf_map_lookup_elem(&sy_affinity_v2, &key);

	if (!aff)
		return NULL;
	if (bpf_ktime_get_ns() - aff->last_used_ns > (__u64)svc->affinity_timeout * NSEC_PER_SEC)
		return NULL;
	*backend_id = aff->backend_id;
	return lb_lookup_backend(aff->backend_id);
}

static __always_inline void lb_affinity_remember(const struct sy_service *svc, const struct sy_addr *client,
                                                 __u32 backend_id)
{
	struct sy_affinity_key key = { .service_id = svc->id, .client = *client };
	struct sy_affinity aff = { .last_used_ns = bpf_ktime_get_ns(), .backend_id = backend_id };

	bpf_map_update_elem(&sy_affinity_v2, &key, &aff, BPF_ANY);
}

/* Bob Jenkins' final mix of three words (lookup3.c): cheap, and the same on
 * every node, which Maglev needs. */
#define LB_ROL32(x, k) (((x) << (k)) | ((x) >> (32 - (k))))
static __always_inline __u32 lb_hash3(__u32 a, __u32 b, __u32 c)
{
	a += 0xdeadbeef;
	b += 0xdeadbeef;
	c += 0xdeadbeef;
	c ^= b;
	c -= LB_ROL32(b, 14);
	a ^= c;
	a -= LB_ROL32(c, 11);
	b ^= a;
	b -= LB_ROL32(a, 25);
	c ^= b;
	c -= LB_ROL32(b, 16);
	a ^= c;
	a -= LB_ROL32(c, 4);
	b ^= a;
	b -= LB_ROL32(a, 14);
	c ^= b;
	c -= LB_ROL32(b, 24);
	return c;
}

/* A flow's Maglev hash: its source, ports and protocol, never its
 * destination (so every address of the service picks alike); with ClientIP
 * affinity the source port is left out, so one client keeps one backend.
 * An IPv4 source hashes as its 4 bytes did before both families shared the
 * key (the same choice on every node whatever its version); an IPv6 one as
 * the XOR of its words. */
static __always_inline __u32 lb_flow_hash(const struct sy_service *svc, const struct sy_addr *saddr, __be16 sport,
                                          __be16 dport, __u8 proto)
{
	__u32 ports = ((__u32)bpf_ntohs(svc->flags & SY_SVC_F_AFFINITY ? 0 : sport) << 16) | bpf_ntohs(dport);
	__be32 src = addr_is_v4(saddr) ? addr_v4(saddr) : saddr->w[0] ^ saddr->w[1] ^ saddr->w[2] ^ saddr->w[3];

	return lb_hash3(bpf_ntohl(src), ports, proto);
}

/* Picks the backend for a new flow: the affine one if ClientIP affinity
 * holds, else a slot: the flow's Maglev entry, or a random one. NULL when
 * the service has no usable backend. */
static __always_inline struct sy_backend *lb_select_backend(const struct sy_service *svc, const struct sy_addr *client,
                                                            __u32 hash, __u32 *backend_id)
{
	struct sy_slot_key slot_key = { .service_id = svc->id };
	struct sy_backend *backend;
	struct sy_slot *slot;

	if (svc->backend_count == 0)
		return NULL;
	if (svc->flags & SY_SVC_F_AFFINITY) {
		backend = lb_affinity_backend(svc, client, backend_id);
		if (backend) {
			lb_affinity_remember(svc, client, *backend_id);
			return backend;
		}
	}
	slot_key.slot = (svc->flags & SY_SVC_F_MAGLEV ? hash : bpf_get_prandom_u32()) % svc->backend_count;
	slot = bpf_map_lookup_elem(&sy_slots, &slot_key);
	if (!slot)
		return NULL;
	backend = lb_lookup_backend(slot->backend_id);
	if (!backend)
		return NULL;
	*backend_id = slot->backend_id;
	if (svc->flags & SY_SVC_F_AFFINITY)
		lb_affinity_remember(svc, client, *backend_id);
	return backend;
}

#endif /* SWITCHYARD_LB_H */
