/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Addresses of either family in one type (abi.h struct sy_addr): IPv6 as it
 * is, IPv4 IPv4-mapped (::ffff:a.b.c.d, RFC 4291 2.5.5.2), so every map is
 * keyed alike for both families and an IPv4 key never equals an IPv6 one.
 * An IPv4-mapped address is also what an AF_INET6 socket dialling an IPv4
 * service holds (sock.h), so that socket finds the IPv4 entry as it is.
 */
#ifndef SWITCHYARD_ADDR_H
#define SWITCHYARD_ADDR_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "switchyard/abi.h"

#define SY_V4_MAPPED_WORD bpf_htonl(0x0000ffff)

static __always_inline struct sy_addr addr_from_v4(__be32 a)
{
	struct sy_addr out = { .w = { 0, 0, SY_V4_MAPPED_WORD, a } };

	return out;
}

/* Is it IPv4 (IPv4-mapped)? */
static __always_inline int addr_is_v4(const struct sy_addr *a)
{
	return a->w[0] == 0 && a->w[1] == 0 && a->w[2] == SY_V4_MAPPED_WORD;
}

/* The IPv4 address of an IPv4-mapped one. */
static __always_inline __be32 addr_v4(const struct sy_addr *a)
{
	return a->w[3];
}

static __always_inline int addr_eq(const struct sy_addr *a, const struct sy_addr *b)
{
	return ((a->w[0] ^ b->w[0]) | (a->w[1] ^ b->w[1]) | (a->w[2] ^ b->w[2]) | (a->w[3] ^ b->w[3])) == 0;
}

/* No address: all zeros, or 0.0.0.0 IPv4-mapped (sy_config's "none known"). */
static __always_inline int addr_is_unset(const struct sy_addr *a)
{
	return a->w[3] == 0 && a->w[0] == 0 && a->w[1] == 0 && (a->w[2] == 0 || a->w[2] == SY_V4_MAPPED_WORD);
}

#endif /* SWITCHYARD_ADDR_H */
