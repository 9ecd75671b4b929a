// Compiles, but the verifier must refuse it: it reads packet data without
// checking the packet is long enough. The tests expect the verifier's log in
// the load error.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int sy_test_unchecked_read(struct __sk_buff *skb)
{
	return *(__u32 *)(long)skb->data;
}
