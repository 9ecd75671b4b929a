/* Structs shared by selftest.bpf.c and the addon tests. TypeScript never
 * restates them: the tests derive their codecs from the object's BTF. */
#ifndef SWITCHYARD_TEST_SELFTEST_H
#define SWITCHYARD_TEST_SELFTEST_H

#include <linux/types.h>

struct selftest_key {
	__be32 addr; /* IPv4 address, network byte order */
	__be16 port; /* network byte order */
	__u8 proto;  /* IPPROTO_* */
	__u8 pad;    /* explicit: keys are compared as bytes */
};

struct selftest_value {
	__u64 packets;
	__u32 backend_id;
	__u16 flags;
	__u16 pad;
};

/* Slots of the counters map. */
enum selftest_counter {
	SELFTEST_TC_PACKETS = 0,
	SELFTEST_XDP_PACKETS = 1,
	SELFTEST_CGROUP_PACKETS = 2,
	SELFTEST_COUNTERS = 4,
};

#endif
