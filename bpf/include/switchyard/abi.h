/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The ABI between the BPF programs and user space: the key and value of every
 * map. This file is the one definition; TypeScript derives its codecs from the
 * BTF the compiler writes for these structs (control/bpf/codec.ts), so a change
 * here is seen there at load time, never silently misread.
 *
 * Rules: fixed-width types only; network byte order spelled __be16/__be32 (the
 * codecs read byte order from those typedefs); every address is a struct
 * sy_addr, 16 bytes for either family, IPv4 stored IPv4-mapped (::ffff:a.b.c.d)
 * so the two families share every map and never collide (as Katran keys
 * both), and control/proxiers/ebpf/abi.generated.ts shows it as the address
 * of its family ("10.96.0.1", "fd00::1"); padding explicit and zeroed, because
 * hash maps compare keys as bytes. A struct whose layout changes gets a map
 * with a new name, so an old pinned map is never misread.
 *
 * Constants are enums, not #defines: BTF carries enums, so the generated
 * TypeScript (scripts/gen-abi.ts) takes their names and values from the
 * object too. Fields keep their fixed-width types (an enum is 4 bytes); the
 * comment names the enum a field holds. maps.h makes sure every enum here is
 * in the BTF even if no field is declared with it.
 */
#ifndef SWITCHYARD_ABI_H
#define SWITCHYARD_ABI_H

#include <linux/types.h>

/* ---- addresses: one type for both families ---- */

/* An IPv6 address, or an IPv4 one IPv4-mapped: w[0] = w[1] = 0, w[2] =
 * htonl(0xffff), w[3] the IPv4 address (lib/addr.h). The codecs know this
 * type by name (control/bpf/codec.ts, format 'ip'). */
struct sy_addr {
	__be32 w[4];
};

/* ---- services: (address, port, protocol) -> service port ---- */

struct sy_service_key {
	struct sy_addr addr; /* ClusterIP, node address (NodePort), load-balancer IP or externalIP */
	__be16 port;         /* service port */
	__u8 proto;          /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP */
	__u8 pad;
};

/* sy_service.flags */
enum sy_svc_flags {
	SY_SVC_F_AFFINITY = 1 << 0, /* sessionAffinity: ClientIP */
	/* No usable backend here, but some elsewhere (internalTrafficPolicy Local
	 * with endpoints only on other nodes): drop silently as kube-proxy does,
	 * instead of refusing as for a service with no endpoints at all. */
	SY_SVC_F_DROP_NO_BACKEND = 1 << 1,
	/* Source NAT every new flow to the node's address (sy_config), with a
	 * port of its own: externalTrafficPolicy Cluster on an external address,
	 * or --masquerade-all on a ClusterIP. The backend's replies then come
	 * back through this node, wherever the backend runs. */
	SY_SVC_F_SNAT = 1 << 2,
	/* A ClusterIP with --cluster-cidr: source NAT flows from clients outside
	 * the cluster's pod ranges (sy_cluster_cidr), as kube-proxy does. */
	SY_SVC_F_SNAT_OFF_CLUSTER = 1 << 3,
	/* externalTrafficPolicy Local on an external address: the slots are the
	 * node's own endpoints, for clients outside the cluster, their address
	 * kept. A client inside the cluster (a pod, by sy_cluster_cidr) is given
	 * the service's ClusterIP entry instead (cluster_addr, cluster_port), as
	 * kube-proxy short-circuits it to every endpoint. */
	SY_SVC_F_EXTERNAL_LOCAL = 1 << 4,
	/* A load-balancer IP with loadBalancerSourceRanges: a new flow's source
	 * must be in sy_src_ranges under this entry's id, else it is dropped. */
	SY_SVC_F_SRC_RANGES = 1 << 5,
	/* The entry's address is one of the node's own (a NodePort): replies
	 * leave from it, and the kernel would drop a forwarded packet from a
	 * local address, so the programs route them out themselves (fib.h). */
	SY_SVC_F_NODE_ADDR = 1 << 6,
	/* Maglev (--bpf-lb-algorithm=maglev, external addresses): the slots are
	 * the service's Maglev table (backend_count is its size M), and a flow's
	 * slot is a hash of its source, ports and protocol, not of its
	 * destination, so every node and every service address picks the same
	 * backend for it. */
	SY_SVC_F_MAGLEV = 1 << 7,
};

struct sy_service {
	__u32 id;                    /* service-port id: the key of its slots and affinity */
	__u16 backend_count;         /* slots 0..count-1 are valid; 0: reject, or drop with SY_SVC_F_DROP_NO_BACKEND */
	__u16 flags;                 /* enum sy_svc_flags */
	__u32 affinity_timeout;      /* seconds, with SY_SVC_F_AFFINITY */
	struct sy_addr cluster_addr; /* SY_SVC_F_EXTERNAL_LOCAL: the ClusterIP entry in-cluster clients use */
	__be16 cluster_port;         /* its port (the service port) */
	__u16 pad;
};

/* ---- slots: (service id, slot) -> backend id; O(1) selection by index ---- */

struct sy_slot_key {
	__u32 service_id;
	__u32 slot; /* 0 .. backend_count-1 */
};

struct sy_slot {
	__u32 backend_id;
};

/* ---- backends: id -> address; one record per (service port, endpoint) ---- */

struct sy_backend {
	struct sy_addr addr; /* endpoint IP */
	__be16 port;         /* endpoint (target) port */
	__u16 pad;
};

/* ---- connection tracking: one entry per direction of a translated flow ---- */

/* sy_ct_key.dir */
enum sy_ct_dir {
	SY_CT_ORIGINAL = 0, /* client -> service address, as the client sent it */
	SY_CT_REPLY = 1,    /* backend -> client (or the hairpin address), as the backend sends it */
};

struct sy_ct_key {
	struct sy_addr saddr;
	struct sy_addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir; /* enum sy_ct_dir */
	__u16 pad;
};

/* sy_ct_entry.flags */
enum sy_ct_flags {
	SY_CT_F_HAIRPIN = 1 << 0, /* the client is its own backend: source NATed to the hairpin address */
	SY_CT_F_SNAT = 1 << 1,    /* source NATed to the node's address and a port of its own (SY_SVC_F_SNAT*) */
	SY_CT_F_CLOSING = 1 << 2, /* REPLY of a TCP flow that has seen a FIN or RST: its NAT port may be reused soon */
	SY_CT_F_NODE_ADDR =
	        1
	        << 3, /* the service address is the node's own (SY_SVC_F_NODE_ADDR): replies are routed by the program */
};

/*
 * One direction of a flow. The REPLY entry of a source-NATed flow is also
 * its NAT port's reservation: its key (backend -> node address and port) is
 * what must be unique, so it is created with BPF_NOEXIST first.
 */
struct sy_ct_entry {
	__u64 last_seen_ns;      /* bpf_ktime_get_ns() of the last packet */
	struct sy_addr nat_addr; /* ORIGINAL: backend address; REPLY: service address */
	/* ORIGINAL: the source the backend sees (the client itself, or its NAT
	 * address and port); REPLY: the client, restored as the destination. */
	struct sy_addr peer_addr;
	__be16 nat_port; /* ORIGINAL: backend port; REPLY: service port */
	__be16 peer_port;
	__u16 flags; /* enum sy_ct_flags */
	__u16 pad;
	__u32 service_id;
	__u32 backend_id;
};

/* ---- session affinity: (service id, client) -> backend it was given ---- */

struct sy_affinity_key {
	__u32 service_id;
	struct sy_addr client;
};

struct sy_affinity {
	__u64 last_used_ns;
	__u32 backend_id;
	__u32 pad;
};

/* ---- socket-level reverse translation for node-originated traffic ---- */

struct sy_sock_revnat_key {
	__u64 cookie;        /* bpf_get_socket_cookie() of the client socket */
	struct sy_addr addr; /* backend address the socket talks to */
	__be16 port;         /* backend port */
	__u16 pad;
	__u32 pad2;
};

struct sy_sock_revnat {
	struct sy_addr addr; /* service address the application asked for */
	__be16 port;         /* service port */
	__u16 pad;
};

/* ---- source ranges: (entry id, client prefix) -> allowed; an LPM trie ---- */

struct sy_src_range_key {
	__u32 prefixlen; /* 32 (the id) + the range's prefix length as a 128-bit one (IPv4: 96 + its own) */
	__u32 service_id;
	struct sy_addr addr;
};

struct sy_src_range {
	__u32 pad; /* presence is the answer */
};

/* ---- the cluster's pod ranges (--cluster-cidr): client prefix -> inside; an LPM trie ---- */

struct sy_cidr_key {
	__u32 prefixlen; /* as a 128-bit prefix (IPv4: 96 + its own) */
	struct sy_addr addr;
};

struct sy_cidr {
	__u32 pad; /* presence is the answer */
};

/* ---- node-wide settings: one entry, written by the control plane ---- */

struct sy_config {
	/* The node's addresses source-NATed flows leave with, one per family
	 * (snat_addr4 IPv4-mapped); 0.0.0.0 and :: say none is known, and such
	 * flows of that family are dropped. */
	struct sy_addr snat_addr4;
	struct sy_addr snat_addr6;
	__u16 nat_port_min; /* the NAT ports, host byte order, inclusive; shared by both families */
	__u16 nat_port_max;
	__u32 pad;
};

/* ---- fragments: the translation of a datagram's first fragment, for the rest ---- */

/* A fragment's datagram, as it arrived (later fragments carry no ports, so
 * they are matched to the first one's translation by IP id: IPv4's 16 bits,
 * the IPv6 fragment header's 32). */
struct sy_frag_key {
	struct sy_addr saddr;
	struct sy_addr daddr;
	__be32 id;
	__u8 proto;
	__u8 pad;
	__u16 pad2;
};

/* sy_frag.flags */
enum sy_frag_flags {
	SY_FRAG_F_ROUTED = 1 << 0, /* the first fragment left from a node address: route the rest too (fib.h) */
};

struct sy_frag {
	struct sy_addr saddr; /* the addresses the first fragment left with */
	struct sy_addr daddr;
	__u32 flags; /* enum sy_frag_flags */
};

/* ---- uplinks with XDP: ifindex -> how the XDP program may send ---- */

/* sy_uplink.flags */
enum sy_uplink_flags {
	/* Routed packets may leave with XDP_TX (a physical NIC). Without it the
	 * tc program behind XDP sends them: a veth delivers XDP_TX frames to its
	 * peer late (they wait for the peer's next poll), so there XDP only
	 * translates. */
	SY_UPLINK_F_XDP_TX = 1 << 0,
};

struct sy_uplink {
	__u32 flags; /* enum sy_uplink_flags */
};

/* ---- drop counters: why a packet was dropped, the index of sy_drops ---- */

enum sy_drop_reason {
	/* 0 is no reason: a helper returns -reason, and -0 is not a drop. */
	SY_DROP_MALFORMED = 1, /* a header the parser accepted could not be read or written back */
	SY_DROP_NO_BACKEND, /* service without endpoints, and nothing to refuse: UDP, or TCP that is not a plain SYN */
	SY_DROP_NO_BACKEND_POLICY, /* no usable backend here (SY_SVC_F_DROP_NO_BACKEND): dropped by policy */
	SY_DROP_REJECT_FAILED,     /* service without endpoints; turning the SYN into a RST failed */
	SY_DROP_CT_CREATE_FAILED,  /* the conntrack entries of a new flow could not be written */
	SY_DROP_NAT_FAILED,        /* rewriting an address, port or checksum failed */
	SY_DROP_SRC_RANGE,         /* a load-balancer IP's loadBalancerSourceRanges do not hold the client */
	SY_DROP_NAT_EXHAUSTED,     /* no free NAT port for a source-NATed flow after every retry */
	SY_DROP_NO_SNAT_ADDR,      /* a flow to source NAT, and the node's address is not known yet */
	SY_DROP_NO_ROUTE,          /* a packet the program must route itself (from a node address) has no route */
	__SY_DROP_MAX,             /* not a reason: the size of sy_drops */
};

#endif /* SWITCHYARD_ABI_H */
