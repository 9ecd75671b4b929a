// A small object that exercises the addon: one map of each kind the dataplane
// uses, counters bumped by tc, XDP and cgroup programs, and a packet rewriter
// for BPF_PROG_TEST_RUN.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "selftest.h"

char LICENSE[] SEC("license") = "GPL";

// Load-time knob: the verdict sy_test_swap_macs returns.
const volatile __u32 selftest_verdict = TC_ACT_OK;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct selftest_key);
	__type(value, struct selftest_value);
} sy_test_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SELFTEST_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} sy_test_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} sy_test_percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u32);
} sy_test_lru SEC(".maps");

// Pinned by name under the object's pin root: two processes share it.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_test_pinned SEC(".maps");

// A map type without batch commands (kernel/bpf/devmap.c has none): the
// addon's batch calls fall back to one syscall per element. Key: any u32;
// value: an ifindex of the loader's network namespace.
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} sy_test_nobatch SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&sy_test_counters, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tc")
int sy_test_tc(struct __sk_buff *skb)
{
	count(SELFTEST_TC_PACKETS);
	return TC_ACT_OK;
}

SEC("xdp")
int sy_test_xdp(struct xdp_md *ctx)
{
	count(SELFTEST_XDP_PACKETS);
	return XDP_PASS;
}

SEC("cgroup_skb/egress")
int sy_test_cgroup(struct __sk_buff *skb)
{
	count(SELFTEST_CGROUP_PACKETS);
	return 1; /* allow */
}

// Swaps the Ethernet source and destination and returns selftest_verdict.
SEC("tc")
int sy_test_swap_macs(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_SHOT;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return selftest_verdict;
}
