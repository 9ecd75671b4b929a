/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * SCTP's checksum after a port rewrite, without reading the payload.
 *
 * The SCTP checksum (RFC 9260 6.8, Appendix B) is CRC32c (Castagnoli,
 * reflected polynomial 0x82f63b78, register preset to all ones, result
 * inverted) over the whole SCTP packet with the checksum field taken as zero,
 * stored least significant byte first. It has no pseudo-header: rewriting an
 * IP address leaves it alone; rewriting a port changes it.
 *
 * The update. Write crc(M) = r(M) ^ a(n), where r is the CRC of M with the
 * register preset to zero and nothing inverted, and a(n) the effect of the
 * preset and the final inversion, which depends only on the length n. r is
 * linear over GF(2): r(M ^ D) = r(M) ^ r(D). So for the same packet with
 * its ports changed, M' = M ^ D, D zero but in its first 4 bytes,
 *
 *     crc(M') = crc(M) ^ r(D).
 *
 * In the reflected form a 32-bit register value w is a polynomial of degree
 * < 32 whose bit 31 is x^0 and bit 0 is x^31; shifting the register one bit
 * (with the polynomial folded in when a one falls out) multiplies it by x
 * modulo P. Feeding r's register (zero) the 4 bytes of D as a little-endian
 * word w leaves w * x^32 after their 32 shifts; each of the n-4 zero bytes
 * that follow multiplies by x^8. Hence
 *
 *     r(D) = w * x^(8n)  mod P,
 *
 * whatever the payload. x^(8n) is the product of x^(8 * 2^j) over the bits j
 * of n (n < 2^16: the IP length fields' range), each a constant below, so the
 * update costs a multiplication per bit of n up to its highest (11 for a
 * 1500-byte packet), 32 shift-and-xor steps each, and reads no packet bytes
 * beyond the checksum field. (zlib's crc32_combine() and
 * its x2nmodp() table are the same arithmetic.)
 *
 * Properties that follow: a packet whose checksum was wrong stays exactly as
 * wrong (the update adds r(D), it does not recompute), so the receiver drops
 * it as it would have. A checksum field of zero is left zero: either the
 * packet's CRC has not been computed yet (the sender's stack left it to the
 * device: CHECKSUM_PARTIAL with csum_not_inet, the usual case for a pod's
 * SCTP on a veth, whose final CRC the kernel computes over the rewritten
 * bytes, field zero, when a device needs it), or it is RFC 9653's zero
 * checksum; both stay valid only with the field untouched. A real CRC of 0
 * (one in 2^32) is left wrong: the receiver drops the packet and SCTP sends
 * it again. This is UDP's "0 means none" rule, as BPF_F_MARK_MANGLED_0 keeps.
 */
#ifndef SWITCHYARD_SCTP_H
#define SWITCHYARD_SCTP_H

#include <linux/errno.h>
#include "packet.h"

#define SY_CRC32C_POLY 0x82f63b78 /* reflected Castagnoli polynomial */

/* x^(8 * 2^j) mod P, reflected, for j = 0..15: x^8, x^16, x^32, ... Each is
 * the square of the one before (x^8 is x squared three times). The TS test
 * (test/unit/bpf/crc32c.test.ts) derives them again. */
static const __u32 sy_crc32c_x8pow2[16] = {
	0x00800000, 0x00008000, 0x82f63b78, 0x6ea2d55c, 0x18b8ea18, 0x510ac59a, 0xb82be955, 0xb8fdb1e7,
	0x88e56f72, 0x74c360a4, 0xe4172b16, 0x0d65762a, 0x35d73a62, 0x28461564, 0xbf455269, 0xe2ea32dc,
};

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Bytes in packet order as a little-endian value, and back. */
#define sy_le16(v) ((__u16)(v))
#define sy_le32(v) (v)
#else
#define sy_le16(v) __builtin_bswap16(v)
#define sy_le32(v) __builtin_bswap32(v)
#endif

/* a * b mod P, both reflected (zlib's multmodp, without branches: the
 * verifier sees one straight path). */
static __noinline __u32 crc32c_mulmod(__u32 a, __u32 b)
{
	__u32 prod = 0;

#pragma unroll
	for (int i = 0; i < 32; i++) {
		prod ^= b & -((a >> (31 - i)) & 1);
		b = (b >> 1) ^ (SY_CRC32C_POLY & -(b & 1));
	}
	return prod;
}

/* r(D) for D's first 4 bytes as the little-endian word w, D n bytes long:
 * w * x^(8n) mod P, a multiplication per bit of n up to its highest. The
 * factor of each bit is chosen without a branch (x^0, 0x80000000, when the
 * bit is clear): a branch on each bit of n would give the verifier 2^16
 * paths to walk. The loop ends at n's highest bit (at most 11 rounds for a
 * 1500-byte packet): that branch only ends the walk early. */
static __always_inline __u32 crc32c_shift(__u32 w, __u64 len)
{
	/* A value of its own (an ALU result has no id for the verifier to tie
	 * to the caller's copy): the comparisons below must not narrow the
	 * caller's length, or each call would return in 16 different states,
	 * and a packet rewritten at two ports in 256. */
	__u64 n = len;

	asm volatile("%0 &= 0xffff" : "+r"(n));
#pragma unroll
	for (int j = 0; j < 16; j++) {
		__u32 bit = -((n >> j) & 1);

		if ((n >> j) == 0)
			break;
		w = crc32c_mulmod(w, (sy_crc32c_x8pow2[j] & bit) | (0x80000000u & ~bit));
	}
	return w;
}

/* The SCTP checksum of the packet at l4_off (l4_len bytes of SCTP) after
 * the port at `at` (0 source, 2 destination) changed by `diff` (old ^ new,
 * as they lie in the packet). The port is written by the caller. 0 or a
 * negative errno. */
static __noinline int sctp_csum_port_replace(sy_ctx_t *ctx, __u32 l4_off, __u32 l4_len, __u32 at, __be16 diff)
{
	/* D's first 4 bytes as the CRC reads them, first byte least significant. */
	__u32 w = (__u32)sy_le16(diff) << (at ? 16 : 0);
	__u32 check;
	int ret;

	if (l4_len < SY_SCTP_HDR_LEN)
		return -EINVAL;
	ret = ctx_load_bytes(ctx, l4_off + SY_SCTP_CSUM_OFF, &check, sizeof(check));
	if (ret < 0)
		return ret;
	if (check == 0)
		return 0;
	check ^= sy_le32(crc32c_shift(w, l4_len));
	return ctx_store_bytes_rcsum(ctx, l4_off + SY_SCTP_CSUM_OFF, &check, sizeof(check));
}

#endif /* SWITCHYARD_SCTP_H */
