/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The dataplane's maps. All are pinned by name under the daemon's pin root,
 * so the tc and socket objects share them and a restarted daemon finds them
 * again with their contents (and the flows they carry). Sizes are defaults;
 * the loader sets each max_entries at load time from its flags.
 */
#ifndef SWITCHYARD_MAPS_H
#define SWITCHYARD_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "switchyard/abi.h"

/*
 * Map names: a map whose key or value changed layout is renamed (abi.h's
 * rule), so a pin of the old layout is never adopted. The names an earlier
 * layout had are listed in control/proxiers/ebpf/retired-maps.ts, whose pins
 * the daemon removes once the new objects are loaded. _v3/_v2 below: the
 * 16-byte addresses of both families (struct sy_addr).
 */

/* Written by the control plane per service port; read per new flow by tc and
 * socket programs. Key: the address a client dials; value: the service port's
 * id, its backend count and flags. One entry per (address, port, protocol):
 * each ClusterIP, each NodePort address, load-balancer IP and externalIP.
 * (_v2: the value gained cluster_addr/cluster_port; _v3: 16-byte addresses.) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sy_service_key);
	__type(value, struct sy_service);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_services_v3 SEC(".maps");

/* Written by the control plane (before the service's count grows, after it
 * shrinks); read per new flow. Key: (service id, slot index); value: the
 * backend in that slot. Selection is slot = random % count: O(1). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1048576);
	__type(key, struct sy_slot_key);
	__type(value, struct sy_slot);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_slots SEC(".maps");

/* Written by the control plane (before any slot points at it, removed last);
 * read per new flow. Key: backend id; value: the endpoint's address and port. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1048576);
	__type(key, __u32);
	__type(value, struct sy_backend);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_backends_v2 SEC(".maps");

/* Written and read per packet by the tc and XDP programs; read by the control
 * plane for the ops API, and to delete the UDP flows of backends it removed.
 * Two entries per flow (ORIGINAL and REPLY direction); a source-NATed flow's
 * REPLY entry is its NAT port's reservation. LRU, so the oldest flows go
 * first when it fills. (_v2: peer_addr/peer_port; _v3: 16-byte addresses.) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct sy_ct_key);
	__type(value, struct sy_ct_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_conntrack_v3 SEC(".maps");

/* Written and read per new flow of services with ClientIP affinity; entries
 * of removed backends are deleted by the control plane. LRU. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sy_affinity_key);
	__type(value, struct sy_affinity);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_affinity_v2 SEC(".maps");

/* Written by the socket programs at connect/sendmsg, read at recvmsg and
 * getpeername, so node processes see the service address they dialled. LRU. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sy_sock_revnat_key);
	__type(value, struct sy_sock_revnat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_sock_revnat_v2 SEC(".maps");

/* Written by the control plane for load-balancer IPs with
 * loadBalancerSourceRanges; read per new flow to such an entry. Key: (entry
 * id, client prefix). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__type(key, struct sy_src_range_key);
	__type(value, struct sy_src_range);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_src_ranges_v2 SEC(".maps");

/* Written by the control plane from --cluster-cidr; read per new flow that
 * needs to know whether its client is a pod (SY_SVC_F_SNAT_OFF_CLUSTER,
 * SY_SVC_F_EXTERNAL_LOCAL). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__type(key, struct sy_cidr_key);
	__type(value, struct sy_cidr);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_cluster_cidr_v2 SEC(".maps");

/* Written by the control plane when the node's address changes; read per
 * new source-NATed flow. One entry, index 0. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sy_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_config_v2 SEC(".maps");

/* Written by tc and XDP for the first fragment of a translated datagram,
 * read for its later fragments (which carry no ports). LRU: a datagram's
 * fragments arrive within moments (Cilium's default size). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct sy_frag_key);
	__type(value, struct sy_frag);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_frags_v2 SEC(".maps");

/* Written by the control plane as it attaches XDP to an uplink; read by the
 * XDP program per packet it routes. Key: ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct sy_uplink);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_uplinks SEC(".maps");

/* Written by the entry programs (tc, XDP), once per dropped packet, at the
 * index of its reason; read by the control plane (control/proxiers/ebpf/
 * drops.ts sums the CPUs). Key: enum sy_drop_reason; value: packets dropped
 * for it on this CPU since the map was created. Per CPU, so the packet path
 * needs no atomics; its size is the number of reasons, not a setting. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, __SY_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_drops SEC(".maps");

/* Never read. Its type names every enum of abi.h, so clang writes them all
 * into the object's BTF (an enum used only for its constants is left out),
 * where scripts/gen-abi.ts finds their names and values. */
const volatile struct sy_abi_enums {
	enum sy_svc_flags svc_flags;
	enum sy_ct_dir ct_dir;
	enum sy_ct_flags ct_flags;
	enum sy_drop_reason drop_reason;
	enum sy_uplink_flags uplink_flags;
	enum sy_frag_flags frag_flags;
} sy_abi_enums __attribute__((used)) = {};

#endif /* SWITCHYARD_MAPS_H */
