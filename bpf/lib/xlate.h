/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Service translation at ingress, tc or XDP: replies of tracked flows are
 * turned back into the service address; packets to a service address (a
 * ClusterIP, a NodePort on a node address, a load-balancer IP or an
 * externalIP) are sent to a backend, chosen once per flow, and source-NATed
 * to the node where kube-proxy would masquerade them. Everything else passes
 * untouched. Every function returns a verdict or -reason (verdict.h). */
#ifndef SWITCHYARD_XLATE_H
#define SWITCHYARD_XLATE_H

#include "conntrack.h"
#include "fib.h"
#include "frag.h"
#include "icmp.h"
#include "lb.h"
#include "nat.h"
#include "reject.h"
#include "verdict.h"

/* Load-time knob: the source address given to hairpin flows (a pod reaching
 * itself through its service), so its replies come back through the node
 * instead of being dropped by the pod as "from myself". */
const volatile __be32 hairpin_snat_addr = bpf_htonl(0xa9fe2a01); /* 169.254.42.1 */
/* The same for IPv6: 100::a9fe:2a01, in the discard-only prefix (RFC 6666),
 * routed by a pod to its gateway, the node, like any other, and dropped by
 * any router it might escape to. */
const volatile struct sy_addr hairpin_snat_addr6 = { .w = { bpf_htonl(0x01000000), 0, 0, bpf_htonl(0xa9fe2a01) } };

static __always_inline struct sy_addr xlate_hairpin_addr(const struct sy_packet *p)
{
	if (p->v6) {
		struct sy_addr a = { .w = { hairpin_snat_addr6.w[0], hairpin_snat_addr6.w[1], hairpin_snat_addr6.w[2],
			                    hairpin_snat_addr6.w[3] } };

		return a;
	}
	return addr_from_v4(hairpin_snat_addr);
}

static __always_inline const struct sy_config *xlate_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sy_config_v2, &zero);
}

/* A reply of a tracked flow: source back to the service address (and, for a
 * source-NATed or hairpin flow, destination back to the client). */
static __noinline int xlate_reply(sy_ctx_t *ctx, struct sy_packet *p, struct sy_ct_entry *ct)
{
	/* The entry's addresses are read in place (a map value stays put
	 * while the packet is rewritten): no 16-byte copies on the stack. */
	__be16 client_port = ct->peer_port;
	__u16 flags = ct->flags;
	__be16 svc_port = ct->nat_port;

	ct_touch(ct);
	if (ct_tcp_closing(p))
		ct->flags |= SY_CT_F_CLOSING;
	if (nat_rewrite(ctx, p, NAT_SOURCE, &ct->nat_addr, svc_port) < 0)
		return SY_DROP(SY_DROP_NAT_FAILED);
	if ((flags & (SY_CT_F_HAIRPIN | SY_CT_F_SNAT)) &&
	    nat_rewrite(ctx, p, NAT_DEST, &ct->peer_addr, client_port) < 0)
		return SY_DROP(SY_DROP_NAT_FAILED);
	return flags & SY_CT_F_NODE_ADDR ? SY_VERDICT_REDIRECT : SY_VERDICT_PASS;
}

/* The client side of a tracked flow: the same backend (and source) as its
 * first packet. */
static __noinline int xlate_established(sy_ctx_t *ctx, struct sy_packet *p, struct sy_ct_entry *ct)
{
	__be16 backend_port = ct->nat_port;
	__be16 src_port = ct->peer_port;
	__u16 flags = ct->flags;

	ct_touch(ct);
	if ((flags & (SY_CT_F_HAIRPIN | SY_CT_F_SNAT)) && nat_rewrite(ctx, p, NAT_SOURCE, &ct->peer_addr, src_port) < 0)
		return SY_DROP(SY_DROP_NAT_FAILED);
	if (nat_rewrite(ctx, p, NAT_DEST, &ct->nat_addr, backend_port) < 0)
		return SY_DROP(SY_DROP_NAT_FAILED);
	if ((flags & SY_CT_F_SNAT) && ct_tcp_closing(p)) {
		/* The client ended it: mark the REPLY entry, which holds the NAT port. */
		struct sy_ct_key reply_key = {
			.saddr = p->daddr,
			.daddr = p->saddr,
			.sport = p->dport,
			.dport = p->sport,
			.proto = p->proto,
			.dir = SY_CT_REPLY,
		};
		struct sy_ct_entry *reply = bpf_map_lookup_elem(&sy_conntrack_v3, &reply_key);

		if (reply)
			reply->flags |= SY_CT_F_CLOSING;
	}
	return flags & SY_CT_F_SNAT ? SY_VERDICT_REDIRECT : SY_VERDICT_PASS;
}

/* Does this new flow leave with the node's address? */
static __always_inline int xlate_needs_snat(const struct sy_service *svc, const struct sy_addr *client)
{
	if (svc->flags & SY_SVC_F_SNAT)
		return 1;
	return (svc->flags & SY_SVC_F_SNAT_OFF_CLUSTER) && !lb_client_in_cluster(client);
}

static __noinline int xlate_new_flow(sy_ctx_t *ctx, struct sy_packet *p, const struct sy_service *svc)
{
	struct ct_flow flow = {
		.client_addr = &p->saddr,
		.client_port = p->sport,
		.svc_addr = &p->daddr,
		.svc_port = p->dport,
		.src_addr = &p->saddr,
		.src_port = p->sport,
		.proto = p->proto,
	};
	const struct sy_config *cfg = NULL;
	struct sy_addr hairpin;
	struct sy_backend *backend;
	__u32 backend_id = 0;
	int ret;

	/* Replies leave from the address the client dialled: the node's own
	 * for a NodePort, even when a pod is sent to the ClusterIP's entry. */
	if (svc->flags & SY_SVC_F_NODE_ADDR)
		flow.flags |= SY_CT_F_NODE_ADDR;

	/* kube-proxy's firewall chain: a load-balancer IP answers only its
	 * source ranges (its NodePorts and externalIPs are not subject to them). */
	if ((svc->flags & SY_SVC_F_SRC_RANGES) && !lb_source_allowed(svc, &p->saddr))
		return SY_DROP(SY_DROP_SRC_RANGE);
	if ((svc->flags & SY_SVC_F_EXTERNAL_LOCAL) && lb_client_in_cluster(&p->saddr))
		svc = lb_internal_entry(svc, p->proto);
	flow.service_id = svc->id;

	backend = lb_select_backend(svc, &p->saddr, lb_flow_hash(svc, &p->saddr, p->sport, p->dport, p->proto),
	                            &backend_id);
	if (!backend) {
		/* No endpoints: refuse, as kube-proxy's REJECT (a RST for TCP, ICMP
		 * port unreachable for UDP). Endpoints that exist but not for this
		 * path: drop, as kube-proxy. */
		if (svc->flags & SY_SVC_F_DROP_NO_BACKEND)
			return SY_DROP(SY_DROP_NO_BACKEND_POLICY);
		return SY_VERDICT_REJECT;
	}
	flow.backend_addr = &backend->addr;
	flow.backend_port = backend->port;
	flow.backend_id = backend_id;
	if (xlate_needs_snat(svc, &p->saddr)) {
		const struct sy_addr *snat;

		cfg = xlate_config();
		if (!cfg)
			return SY_DROP(SY_DROP_NO_SNAT_ADDR);
		snat = p->v6 ? &cfg->snat_addr6 : &cfg->snat_addr4;
		if (addr_is_unset(snat))
			return SY_DROP(SY_DROP_NO_SNAT_ADDR);
		flow.flags |= SY_CT_F_SNAT;
		flow.src_addr = snat;
	} else if (addr_eq(&backend->addr, &p->saddr)) {
		flow.flags |= SY_CT_F_HAIRPIN;
		hairpin = xlate_hairpin_addr(p);
		flow.src_addr = &hairpin;
	}
	ret = ct_create(ctx, &flow, cfg);
	if (ret == -ENOSPC)
		return SY_DROP(SY_DROP_NAT_EXHAUSTED);
	if (ret < 0)
		return SY_DROP(SY_DROP_CT_CREATE_FAILED);
	if ((flow.flags & (SY_CT_F_HAIRPIN | SY_CT_F_SNAT)) &&
	    nat_rewrite(ctx, p, NAT_SOURCE, flow.src_addr, flow.src_port) < 0)
		return SY_DROP(SY_DROP_NAT_FAILED);
	if (nat_rewrite(ctx, p, NAT_DEST, flow.backend_addr, flow.backend_port) < 0)
		return SY_DROP(SY_DROP_NAT_FAILED);
	return flow.flags & SY_CT_F_SNAT ? SY_VERDICT_REDIRECT : SY_VERDICT_PASS;
}

/* A SYN (or SCTP INIT) straight to an address that is not a service, on a 4-tuple whose
 * answers we would still translate: a client reusing a source port it last
 * used for a translated connection to this same backend (common at high
 * connection rates, and entries have no TCP state to expire them). The old
 * REPLY entry would turn the backend's SYN-ACK into the service's address and
 * the client would never see it; the new connection is not ours, so forget it. */
static __always_inline void forget_reused_tuple(const struct sy_packet *p)
{
	struct sy_ct_key reply_key = {
		.saddr = p->daddr,
		.daddr = p->saddr,
		.sport = p->dport,
		.dport = p->sport,
		.proto = p->proto,
		.dir = SY_CT_REPLY,
	};

	if (!ct_is_open(p))
		return;
	bpf_map_delete_elem(&sy_conntrack_v3, &reply_key);
}

/* The packet's verdict, TCP, UDP or SCTP; *p is the packet as it leaves. */
static __always_inline int xlate_l4(sy_ctx_t *ctx, struct sy_packet *p)
{
	struct sy_service *svc;
	struct sy_ct_entry *ct;
	int v;

	ct = ct_lookup(p, SY_CT_REPLY);
	if (ct)
		return xlate_reply(ctx, p, ct);

	svc = lb_lookup_service(&p->daddr, p->dport, p->proto);
	if (!svc) {
		forget_reused_tuple(p);
		return SY_VERDICT_PASS;
	}

	ct = ct_lookup(p, SY_CT_ORIGINAL);
	/* A fresh SYN (INIT) on a tracked 4-tuple is a new connection reusing
	 * a port: it gets a new choice, not a backend that may have gone since. */
	if (ct && !ct_is_open(p))
		return xlate_established(ctx, p, ct);
	v = xlate_new_flow(ctx, p, svc);
	if (v != SY_VERDICT_REJECT)
		return v;
	if (p->proto == IPPROTO_TCP)
		return reject_tcp_syn(ctx, p);
	/* SCTP: an INIT is answered as a datagram is (iptables' REJECT sends
	 * ICMP port unreachable for any protocol but TCP); any other chunk
	 * has no association to refuse, as a TCP non-SYN. */
	if (p->proto == IPPROTO_SCTP && p->sctp_chunk != SY_SCTP_INIT)
		return SY_DROP(SY_DROP_NO_BACKEND);
	return reject_udp(ctx, p);
}

/* The packet's verdict; *p is the packet as it leaves (for fib.h). */
static __always_inline int xlate_ingress(sy_ctx_t *ctx, struct sy_packet *p)
{
	struct sy_addr saddr, daddr;
	int v;

	if (packet_parse(ctx, p) < 0) {
		v = xlate_later_fragment(ctx, p);
		return v == SY_VERDICT_PASS ? xlate_icmp_error(ctx) : v;
	}
	saddr = p->saddr;
	daddr = p->daddr;
	v = xlate_l4(ctx, p);
	if (v == SY_VERDICT_PASS || v == SY_VERDICT_REDIRECT)
		frag_remember(p, &saddr, &daddr, v);
	return v;
}

#endif /* SWITCHYARD_XLATE_H */
