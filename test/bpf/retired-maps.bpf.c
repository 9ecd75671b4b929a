// Maps as an earlier version pinned them: sy_services_v2 and sy_conntrack_v2
// of the IPv4-only layout (4-byte addresses), before every address became
// 16 bytes (struct sy_addr) and those maps sy_services_v3, sy_conntrack_v3.
// A dataplane opened over such pins must start, and remove them
// (test/privileged/dataplane/pin-compat.test.ts).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct old_service_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

struct old_service {
	__u32 id;
	__u16 backend_count;
	__u16 flags;
	__u32 affinity_timeout;
	__be32 cluster_addr;
	__be16 cluster_port;
	__u16 pad;
};

struct old_ct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir;
	__u16 pad;
};

struct old_ct_entry {
	__u64 last_seen_ns;
	__be32 nat_addr;
	__be16 nat_port;
	__u16 flags;
	__be32 peer_addr;
	__u32 service_id;
	__u32 backend_id;
	__be16 peer_port;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct old_service_key);
	__type(value, struct old_service);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_services_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct old_ct_key);
	__type(value, struct old_ct_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_conntrack_v2 SEC(".maps");

char LICENSE[] SEC("license") = "GPL";
