// A map named as the dataplane's sy_backends_v2, of the same key and value sizes
// but another value layout (port widened to 32 bits, no pad). libbpf alone
// would reuse a pin of it (it checks sizes, not BTF); the pin check must not
// (test/privileged/dataplane/pin-compat.test.ts).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct sy_backend_other {
	__be32 addr[4];
	__u32 port;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1048576);
	__type(key, __u32);
	__type(value, struct sy_backend_other);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sy_backends_v2 SEC(".maps");

char LICENSE[] SEC("license") = "GPL";
