/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The packet a program works on, for tc (struct __sk_buff) and XDP (struct
 * xdp_md) alike, so parsing, NAT, conntrack and service lookup are written
 * once (as Cilium's ctx/skb.h and ctx/xdp.h). The entry file says which hook
 * it is before including anything: #define SY_CTX_XDP for XDP, nothing for tc.
 *
 *   sy_ctx_t                  the program's context type
 *   ctx_data, ctx_data_end    direct packet access (both have data/data_end)
 *   ctx_load_bytes            copy out of the packet, at any offset
 *   ctx_store_bytes           copy into the packet
 *   ctx_store_bytes_rcsum     the same, keeping a CHECKSUM_COMPLETE skb's
 *                             csum right (bytes no checksum field offsets:
 *                             SCTP's, whose CRC is no one's complement sum)
 *   ctx_l3_csum_replace       incremental IP header checksum fix (size 2 or 4)
 *   ctx_l4_csum_replace       incremental TCP/UDP checksum fix, BPF_F_* flags
 *                             as bpf_l4_csum_replace takes them
 *   ctx_change_tail           truncate the packet to a length
 *
 * All return 0 or a negative errno, like the skb helpers. Sending a packet
 * back out of the interface it came in on is a verdict (SY_VERDICT_TX,
 * verdict.h), which the entry program turns into bpf_redirect or XDP_TX.
 */
#ifndef SWITCHYARD_CTX_H
#define SWITCHYARD_CTX_H

#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>

/* One's complement sum folded to 16 bits, inverted: a checksum field. */
static __always_inline __u16 csum_fold(__u32 csum)
{
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	return (__u16)~csum;
}

/*
 * RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), for a 2- or 4-byte field m changed
 * to m'. Every value is as it lies in the packet: a one's complement sum does
 * not depend on byte order as long as all words are read the same way.
 */
static __always_inline __u16 csum_replace(__u16 check, __u32 from, __u32 to, __u32 size)
{
	__u32 sum = (__u16)~check;

	if (size == 4) {
		sum += (~from & 0xffff) + (~from >> 16);
		sum += (to & 0xffff) + (to >> 16);
	} else {
		sum += ~from & 0xffff;
		sum += to & 0xffff;
	}
	return csum_fold(sum);
}

/* A checksum field with a 32-bit difference added (bpf_csum_diff's result). */
static __always_inline __u16 csum_add_diff(__u16 check, __u32 diff)
{
	__u64 sum = (__u64)(__u16)~check + (diff & 0xffff) + (diff >> 16);

	sum = (sum & 0xffff) + (sum >> 16);
	return csum_fold((__u32)sum);
}

#ifdef SY_CTX_XDP

typedef struct xdp_md sy_ctx_t;

static __always_inline void *ctx_data(const sy_ctx_t *ctx)
{
	return (void *)(long)ctx->data;
}

static __always_inline void *ctx_data_end(const sy_ctx_t *ctx)
{
	return (void *)(long)ctx->data_end;
}

static __always_inline int ctx_load_bytes(sy_ctx_t *ctx, __u32 off, void *to, __u32 len)
{
	return bpf_xdp_load_bytes(ctx, off, to, len);
}

static __always_inline int ctx_store_bytes(sy_ctx_t *ctx, __u32 off, void *from, __u32 len)
{
	return bpf_xdp_store_bytes(ctx, off, from, len);
}

/* XDP has no skb->csum to keep. */
static __always_inline int ctx_store_bytes_rcsum(sy_ctx_t *ctx, __u32 off, void *from, __u32 len)
{
	return bpf_xdp_store_bytes(ctx, off, from, len);
}

/* XDP has no checksum helpers: read the field, fix it, write it back. */
static __always_inline int ctx_l3_csum_replace(sy_ctx_t *ctx, __u32 off, __u32 from, __u32 to, __u32 size)
{
	__u16 check;
	int ret = bpf_xdp_load_bytes(ctx, off, &check, sizeof(check));

	if (ret < 0)
		return ret;
	check = csum_replace(check, from, to, size);
	return bpf_xdp_store_bytes(ctx, off, &check, sizeof(check));
}

/* As bpf_l4_csum_replace: the low bits of flags are the field's size, or 0
 * when `to` is a checksum difference (bpf_csum_diff: a 16-byte IPv6
 * address); BPF_F_MARK_MANGLED_0 keeps a zero (UDP: "no checksum") zero and
 * never writes 0 for a real one. BPF_F_PSEUDO_HDR needs nothing here: XDP
 * sees complete checksums, so a pseudo-header field is fixed like any other. */
static __always_inline int ctx_l4_csum_replace(sy_ctx_t *ctx, __u32 off, __u32 from, __u32 to, __u64 flags)
{
	__u16 check;
	int ret = bpf_xdp_load_bytes(ctx, off, &check, sizeof(check));

	if (ret < 0)
		return ret;
	if ((flags & BPF_F_MARK_MANGLED_0) && check == 0)
		return 0;
	if ((flags & BPF_F_HDR_FIELD_MASK) == 0)
		check = csum_add_diff(check, to);
	else
		check = csum_replace(check, from, to, flags & BPF_F_HDR_FIELD_MASK);
	if ((flags & BPF_F_MARK_MANGLED_0) && check == 0)
		check = 0xffff;
	return bpf_xdp_store_bytes(ctx, off, &check, sizeof(check));
}

static __always_inline int ctx_change_tail(sy_ctx_t *ctx, __u32 len)
{
	__u32 now = ctx->data_end - ctx->data;

	if (len > now)
		return -EINVAL; /* only ever used to truncate */
	return bpf_xdp_adjust_tail(ctx, -(int)(now - len));
}

/* Grows the packet by len bytes at its front (the bytes there are undefined until written). */
static __always_inline int ctx_change_head(sy_ctx_t *ctx, __u32 len)
{
	return bpf_xdp_adjust_head(ctx, -(int)len);
}

#else /* tc */

typedef struct __sk_buff sy_ctx_t;

static __always_inline void *ctx_data(const sy_ctx_t *ctx)
{
	return (void *)(long)ctx->data;
}

static __always_inline void *ctx_data_end(const sy_ctx_t *ctx)
{
	return (void *)(long)ctx->data_end;
}

static __always_inline int ctx_load_bytes(sy_ctx_t *ctx, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes(ctx, off, to, len);
}

static __always_inline int ctx_store_bytes(sy_ctx_t *ctx, __u32 off, void *from, __u32 len)
{
	return bpf_skb_store_bytes(ctx, off, from, len, 0);
}

static __always_inline int ctx_store_bytes_rcsum(sy_ctx_t *ctx, __u32 off, void *from, __u32 len)
{
	return bpf_skb_store_bytes(ctx, off, from, len, BPF_F_RECOMPUTE_CSUM);
}

/* The kernel's helpers: with CHECKSUM_PARTIAL packets (the usual case for a
 * pod's own TCP on a veth) they fix only the pseudo-header part, which is
 * what the device that finishes the checksum expects. */
static __always_inline int ctx_l3_csum_replace(sy_ctx_t *ctx, __u32 off, __u32 from, __u32 to, __u32 size)
{
	return bpf_l3_csum_replace(ctx, off, from, to, size);
}

static __always_inline int ctx_l4_csum_replace(sy_ctx_t *ctx, __u32 off, __u32 from, __u32 to, __u64 flags)
{
	return bpf_l4_csum_replace(ctx, off, from, to, flags);
}

static __always_inline int ctx_change_tail(sy_ctx_t *ctx, __u32 len)
{
	return bpf_skb_change_tail(ctx, len, 0);
}

/* Grows the packet by len bytes at its front (the bytes there are undefined until written). */
static __always_inline int ctx_change_head(sy_ctx_t *ctx, __u32 len)
{
	return bpf_skb_change_head(ctx, len, 0);
}

#endif /* SY_CTX_XDP */

#endif /* SWITCHYARD_CTX_H */
