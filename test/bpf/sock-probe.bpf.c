// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
// Counts the cgroup sock_addr hooks a socket's connect() and sendmsg() run,
// by IP protocol: the probe test/privileged/bpf/sock-sctp.test.ts uses to see
// whether this kernel runs them for SCTP sockets at all (it does not: so the
// dataplane leaves the node's own SCTP untranslated; see bpf/lib/sock.h).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

// Index: protocol (0..255) + 256 * hook (0 connect4, 1 connect6, 2 sendmsg4, 3 sendmsg6).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} sy_probe_hooks SEC(".maps");

static __always_inline int count(struct bpf_sock_addr *ctx, __u32 hook)
{
	__u32 key = (ctx->protocol & 0xff) + 256 * hook;
	__u64 *n = bpf_map_lookup_elem(&sy_probe_hooks, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 1;
}

SEC("cgroup/connect4")
int sy_probe_connect4(struct bpf_sock_addr *ctx)
{
	return count(ctx, 0);
}

SEC("cgroup/connect6")
int sy_probe_connect6(struct bpf_sock_addr *ctx)
{
	return count(ctx, 1);
}

SEC("cgroup/sendmsg4")
int sy_probe_sendmsg4(struct bpf_sock_addr *ctx)
{
	return count(ctx, 2);
}

SEC("cgroup/sendmsg6")
int sy_probe_sendmsg6(struct bpf_sock_addr *ctx)
{
	return count(ctx, 3);
}
