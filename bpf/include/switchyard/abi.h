/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The ABI between the BPF programs and user space: the key and value of every
 * map. This file is the one definition; TypeScript derives its codecs from the
 * BTF the compiler writes for these structs (control/bpf/codec.ts), so a change
 * here is seen there at load time, never silently misread.
 *
 * Rules: fixed-width types only; network byte order spelled __be16/__be32 (the
 * codecs read byte order from those typedefs); padding explicit and zeroed,
 * because hash maps compare keys as bytes. A struct whose layout changes gets
 * a map with a new name, so an old pinned map is never misread.
 */
#ifndef SWITCHYARD_ABI_H
#define SWITCHYARD_ABI_H

#include <linux/types.h>

/* ---- services: (address, port, protocol) -> service port ---- */

struct sy_service_key {
	__be32 addr;   /* ClusterIP (later: external addresses) */
	__be16 port;   /* service port */
	__u8 proto;    /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP */
	__u8 pad;
};

#define SY_SVC_F_AFFINITY (1 << 0) /* sessionAffinity: ClientIP */
/* No usable backend here, but some elsewhere (internalTrafficPolicy Local with
 * endpoints only on other nodes): drop silently as kube-proxy does, instead of
 * refusing as for a service with no endpoints at all. */
#define SY_SVC_F_DROP_NO_BACKEND (1 << 1)

struct sy_service {
	__u32 id;               /* service-port id: the key of its slots and affinity */
	__u16 backend_count;    /* slots 0..count-1 are valid; 0: reject, or drop with SY_SVC_F_DROP_NO_BACKEND */
	__u16 flags;            /* SY_SVC_F_* */
	__u32 affinity_timeout; /* seconds, with SY_SVC_F_AFFINITY */
	__u32 pad;
};

/* ---- slots: (service id, slot) -> backend id; O(1) selection by index ---- */

struct sy_slot_key {
	__u32 service_id;
	__u32 slot;             /* 0 .. backend_count-1 */
};

struct sy_slot {
	__u32 backend_id;
};

/* ---- backends: id -> address; one record per (service port, endpoint) ---- */

struct sy_backend {
	__be32 addr;   /* endpoint IP */
	__be16 port;   /* endpoint (target) port */
	__u16 pad;
};

/* ---- connection tracking: one entry per direction of a translated flow ---- */

#define SY_CT_ORIGINAL 0 /* client -> service address, as the client sent it */
#define SY_CT_REPLY 1    /* backend -> client (or the hairpin address), as the backend sends it */

struct sy_ct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir;      /* SY_CT_ORIGINAL or SY_CT_REPLY */
	__u16 pad;
};

#define SY_CT_F_HAIRPIN (1 << 0) /* the client is its own backend: source NATed too */

struct sy_ct_entry {
	__u64 last_seen_ns;  /* bpf_ktime_get_ns() of the last packet */
	__be32 nat_addr;     /* ORIGINAL: backend address; REPLY: service address */
	__be16 nat_port;     /* ORIGINAL: backend port; REPLY: service port */
	__u16 flags;         /* SY_CT_F_* */
	__be32 client_addr;  /* REPLY of a hairpin flow: the client, restored as destination */
	__u32 service_id;
	__u32 backend_id;
	__u32 pad;
};

/* ---- session affinity: (service id, client) -> backend it was given ---- */

struct sy_affinity_key {
	__u32 service_id;
	__be32 client;
};

struct sy_affinity {
	__u64 last_used_ns;
	__u32 backend_id;
	__u32 pad;
};

/* ---- socket-level reverse translation for node-originated traffic ---- */

struct sy_sock_revnat_key {
	__u64 cookie;  /* bpf_get_socket_cookie() of the client socket */
	__be32 addr;   /* backend address the socket talks to */
	__be16 port;   /* backend port */
	__u16 pad;
};

struct sy_sock_revnat {
	__be32 addr;   /* service address the application asked for */
	__be16 port;   /* service port */
	__u16 pad;
};

#endif /* SWITCHYARD_ABI_H */
