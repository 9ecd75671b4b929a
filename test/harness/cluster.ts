// A small Kubernetes-like cluster built from network namespaces, for tests
// that need real traffic between nodes and pods. Every address and route below
// lives inside this run's namespaces; the root namespace is never touched.
// The cluster is dual-stack: every IPv4 address has an IPv6 twin.
//
//   client ─┐                     172.31.0.0/24 and fd00:172:31::/64 on a bridge in the "sw" namespace
//   far ────┤ (router 172.31.0.2 / fd00:172:31::2, to farclient 172.30.0.100 / fd00:172:30::100, path MTU 1280)
//   n1 ─────┼── br0 (ns sw)       br0 172.31.0.1 / fd00:172:31::1, the nodes' default router
//   n2 ─────┘                     node i: wire 172.31.0.(10+i) / fd00:172:31::(10+i),
//                                 pods 10.244.i.0/24 / fd00:10:244:i::/64
//   pod n<i>p<j>: eth0 10.244.i.(10+j)/32, default via 169.254.1.1 (Calico-style),
//                 and fd00:10:244:i::(10+j)/128, default via fe80::1
//   client: 172.31.0.100 / fd00:172:31::100 and a second address .101 / ::101;
//   pod, service and external (198.51.100.0/24, 2001:db8:100::/64) addresses via n1
//
// Service ClusterIPs (10.96.0.0/12, fd00:10:96::/112) have no specific route on the nodes: pods
// reach them by their default route, and the ebpf mode's tc ingress program
// translates them to a backend before the node routes the packet. Every node
// has a default route, as real nodes do, so a packet to a service address
// that nothing translated is still routed: iptables' filter FORWARD and nat
// OUTPUT chains see it (kube-proxy REJECTs a service without endpoints there),
// and a node's own connect() does not fail with ENETUNREACH first. The router
// does not forward (ip_forward and IPv6 forwarding stay 0 in "sw"): such a
// packet that reaches it is dropped, silently.
import { hostPort } from '../../control/model/address.js';
import type { IPFamily } from '../../control/sources/types.js';
import type { TestNet } from './netns.js';

/** "ip:port", or "[ip]:port" for IPv6: how the agent and the suite spell a target. */
export { hostPort };
export type { IPFamily };

export interface Pod {
  name: string; // 'n1p1'
  ns: string;
  ip: string;
  ip6: string;
  hostIf: string; // 'p1', inside the node's namespace
  node: string; // 'n1'
}

export interface Node {
  name: string; // 'n1'
  ns: string;
  wireIp: string;
  wireIp6: string;
  wireIf: 'wire';
  pods: Pod[];
}

export interface Cluster {
  switchNs: string;
  nodes: Node[];
  /**
   * `ip` (`ip6`) is the address its connections leave from; `secondIp`
   * (`secondIp6`), a second one a probe may bind (`source`).
   */
  client?: { ns: string; ip: string; secondIp: string; ip6: string; secondIp6: string };
  /** Behind a router on the nodes' segment whose path to it takes `pathMtu` bytes (FAR_PATH_MTU). */
  farClient?: { ns: string; ip: string; ip6: string; pathMtu: number };
  pods(): Pod[];
}

/** The pod gateway every pod routes through; the node answers ARP for it. */
export const POD_GATEWAY = '169.254.1.1';
/** The IPv6 pod gateway: a link-local address the node holds on each pod's veth, so it answers NDP for it. */
export const POD_GATEWAY6 = 'fe80::1';
export const SERVICE_CIDR = '10.96.0.0/12';
export const SERVICE_CIDR6 = 'fd00:10:96::/112';
/** The far client's subnet, behind the router FAR_ROUTER (on the nodes' segment) with a lower path MTU. */
export const FAR_CIDR = '172.30.0.0/24';
export const FAR_CIDR6 = 'fd00:172:30::/64';
export const FAR_ROUTER = '172.31.0.2';
export const FAR_ROUTER6 = 'fd00:172:31::2';
export const FAR_CLIENT_IP = '172.30.0.100';
export const FAR_CLIENT_IP6 = 'fd00:172:30::100';
/** The path MTU toward the far client, in both families (1280 is also IPv6's minimum link MTU). */
export const FAR_PATH_MTU = 1280;
export const POD_CIDR = '10.244.0.0/16';
/** Node i's pods take fd00:10:244:i::/64 out of it. */
export const POD_CIDR6 = 'fd00:10:244::/56';
/**
 * Addresses outside every cluster range that a load balancer or an operator
 * gives services (status.loadBalancer.ingress, spec.externalIPs): the
 * client's upstream router sends them to n1, as a real one would to a node.
 */
export const EXTERNAL_CIDR = '198.51.100.0/24';
export const EXTERNAL_CIDR6 = '2001:db8:100::/64';
/** br0's address in the switch namespace: every node's default gateway. */
export const ROUTER = '172.31.0.1';
export const ROUTER6 = 'fd00:172:31::1';
const wireIp = (i: number) => `172.31.0.${10 + i}`;
const wireIp6 = (i: number) => `fd00:172:31::${10 + i}`;
/** The outside client's address, and its second one (see buildCluster). */
export const CLIENT_IP = '172.31.0.100';
export const CLIENT_SECOND_IP = '172.31.0.101';
export const CLIENT_IP6 = 'fd00:172:31::100';
export const CLIENT_SECOND_IP6 = 'fd00:172:31::101';

/**
 * A namespace of the cluster with IPv6 on and without duplicate address
 * detection: an address in DAD is tentative for a second or more, unusable
 * as a source, and a namespace that starts by sending would see its first
 * packets fail. accept_dad 0 on all and default before any interface exists
 * (so every interface, link-local addresses included, inherits it), and
 * `nodad` on every address added, make each usable at once. disable_ipv6 0
 * explicitly: a host with net.core.devconf_inherit_init_net set would
 * otherwise pass its own on. No redirects accepted: they would teach a host
 * shortcuts and make the path a test sees depend on timing (the nodes send
 * no IPv4 ones, below; Linux has no switch for IPv6's).
 */
function clusterNamespace(net: TestNet, name: string, settings: Record<string, number> = {}): string {
  const ns = net.namespace(name);
  const ipv6: Record<string, number> = {};
  for (const conf of ['all', 'default']) {
    ipv6[`net.ipv6.conf.${conf}.disable_ipv6`] = 0;
    ipv6[`net.ipv6.conf.${conf}.accept_dad`] = 0;
    ipv6[`net.ipv6.conf.${conf}.accept_redirects`] = 0;
  }
  net.sysctls(ns, { ...ipv6, ...settings });
  return ns;
}

/**
 * A veth that sends as a physical NIC: every checksum complete. A veth
 * otherwise hands its peer packets whose TCP/UDP checksum the receiver's
 * stack is still to finish (CHECKSUM_PARTIAL), which a tc program rewrites
 * correctly (the kernel's checksum helpers know) but an XDP program cannot
 * tell from a complete one: the ebpf mode attaches XDP to a veth only when
 * told to (--bpf-lb-acceleration=native), and its tests make the veths
 * NIC-like so that path runs as on real hardware.
 */
function nicLike(net: TestNet, ns: string, dev: string): void {
  net.exec(ns, 'ethtool', ['-K', dev, 'tx', 'off']);
}

/**
 * Adds a pod to a node: its namespace, a veth to the node (p<j> on the node's
 * side), a /32 and a /128 with a default route via each family's pod gateway.
 * Also used after the cluster is up, as the kubelet does when a pod is scheduled.
 */
export function addPod(net: TestNet, node: Node): Pod {
  const i = Number(node.name.slice(1));
  const j = node.pods.length + 1;
  const pod: Pod = {
    name: `${node.name}p${j}`,
    ns: clusterNamespace(net, `${node.name}p${j}`),
    ip: `10.244.${i}.${10 + j}`,
    ip6: `fd00:10:244:${i}::${10 + j}`,
    hostIf: `p${j}`,
    node: node.name,
  };
  net.veth({ ns: pod.ns, name: 'eth0' }, { ns: node.ns, name: pod.hostIf });
  nicLike(net, pod.ns, 'eth0');
  // Calico-style pod: a /32 and a default route via a link-local gateway,
  // answered by the node. IPv6 likewise: a /128 and a default route via
  // fe80::1, an address the node holds on p<j> (each veth's own,
  // link-local), so the node answers the pod's neighbour solicitation for
  // it; a link-local gateway needs no on-link route, the device names the link.
  net.ipBatch(pod.ns, [
    ['addr', 'add', `${pod.ip}/32`, 'dev', 'eth0'],
    ['route', 'add', POD_GATEWAY, 'dev', 'eth0', 'scope', 'link'],
    ['route', 'add', 'default', 'via', POD_GATEWAY, 'dev', 'eth0', 'onlink'],
    ['addr', 'add', `${pod.ip6}/128`, 'dev', 'eth0', 'nodad'],
    ['route', 'add', 'default', 'via', POD_GATEWAY6, 'dev', 'eth0'],
  ]);
  // As Calico does: proxy ARP for any other address a pod resolves on-link,
  // without the default random delay of up to 0.8 s before each answer.
  // (An IPv6 pod resolves nothing but its gateway: every route is via fe80::1.)
  net.sysctls(node.ns, {
    [`net.ipv4.conf.${pod.hostIf}.proxy_arp`]: 1,
    [`net.ipv4.neigh.${pod.hostIf}.proxy_delay`]: 0,
  });
  net.ipBatch(node.ns, [
    ['route', 'add', `${pod.ip}/32`, 'dev', pod.hostIf],
    ['addr', 'add', `${POD_GATEWAY6}/64`, 'dev', pod.hostIf, 'nodad'],
    ['route', 'add', `${pod.ip6}/128`, 'dev', pod.hostIf],
  ]);
  node.pods.push(pod);
  return pod;
}

export function buildCluster(
  net: TestNet,
  opts: { nodes?: number; podsPerNode?: number; client?: boolean } = {},
): Cluster {
  const { nodes: nodeCount = 2, podsPerNode = 2, client: withClient = true } = opts;

  // The "switch": one L2 segment joining every node and the client. No
  // multicast snooping: NDP's solicitations go to solicited-node multicast
  // groups, which a snooping bridge forwards only to ports it heard an MLD
  // report from, and nothing here queries, so its table would age by timing.
  const switchNs = clusterNamespace(net, 'sw');
  net.ipBatch(switchNs, [
    ['link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0'],
    ['link', 'set', 'br0', 'up'],
    ['addr', 'add', `${ROUTER}/24`, 'dev', 'br0'],
    ['addr', 'add', `${ROUTER6}/64`, 'dev', 'br0', 'nodad'],
  ]);
  const plug = (ns: string, port: string) => {
    net.veth({ ns, name: 'wire' }, { ns: switchNs, name: port });
    net.ip(switchNs, 'link', 'set', port, 'master', 'br0');
    // A veth delivers what its peer sends with XDP_TX (the ebpf mode's XDP
    // on a node's wire) only when it polls with NAPI: GRO on turns that on,
    // as a physical switch port always receives.
    net.exec(switchNs, 'ethtool', ['-K', port, 'gro', 'on']);
    nicLike(net, ns, 'wire');
  };

  const nodes: Node[] = [];
  for (let i = 1; i <= nodeCount; i++) {
    const name = `n${i}`;
    // A node routes for its pods, in both families. rp_filter off: with eBPF
    // NAT and asymmetric paths (client -> n1 -> n2 -> client) strict
    // reverse-path checks drop legitimate packets (IPv6 has no rp_filter). No
    // ICMP redirects: they would teach the client shortcuts and make the path
    // a test sees depend on timing. (IPv6 ones cannot be turned off, but
    // Linux sends one only when the next hop is the destination itself or a
    // link-local router, and every route here names a global one.) Set on
    // all/default before any interface exists, so every interface inherits them.
    const settings: Record<string, number> = { 'net.ipv4.ip_forward': 1, 'net.ipv6.conf.all.forwarding': 1 };
    for (const conf of ['all', 'default']) {
      settings[`net.ipv4.conf.${conf}.rp_filter`] = 0;
      settings[`net.ipv4.conf.${conf}.send_redirects`] = 0;
      settings[`net.ipv4.conf.${conf}.arp_ignore`] = 0; // see the pod gateway below
    }
    const ns = clusterNamespace(net, name, settings);
    plug(ns, name);
    // The pods' gateway is a node address, so the node answers their ARP for
    // it at once and a pod can ping it. (Proxy ARP alone would not do: it
    // answers only for addresses the node routes out of another interface, so
    // it would answer for the gateway by way of the default route, and a
    // pod's ping of its gateway would leave for the router; a route via lo
    // would loop packets for the gateway until their TTL ran out.) Scope
    // link keeps it from ever being picked as a source address; arp_ignore 0
    // (else inherited from the root namespace) lets p<j> answer for an
    // address held by lo. (IPv6's gateway is on each p<j>: see addPod.)
    net.ipBatch(ns, [
      ['addr', 'add', `${wireIp(i)}/24`, 'dev', 'wire'],
      ['route', 'add', 'default', 'via', ROUTER, 'dev', 'wire'],
      ['addr', 'add', `${wireIp6(i)}/64`, 'dev', 'wire', 'nodad'],
      ['route', 'add', 'default', 'via', ROUTER6, 'dev', 'wire'],
      ['addr', 'add', `${POD_GATEWAY}/32`, 'dev', 'lo', 'scope', 'link'],
    ]);

    const node: Node = { name, ns, wireIp: wireIp(i), wireIp6: wireIp6(i), wireIf: 'wire', pods: [] };
    for (let j = 1; j <= podsPerNode; j++) addPod(net, node);
    nodes.push(node);
  }

  // Each node reaches the other nodes' pod subnets through that node's wire address.
  for (const [a, node] of nodes.entries()) {
    net.ipBatch(
      node.ns,
      nodes.flatMap((other, b) =>
        a === b
          ? []
          : [
              ['route', 'add', `10.244.${b + 1}.0/24`, 'via', other.wireIp],
              ['route', 'add', `fd00:10:244:${b + 1}::/64`, 'via', other.wireIp6],
            ],
      ),
    );
  }

  // The client stands outside the cluster and enters it through n1, for pod
  // addresses, service addresses and external service addresses. Its second
  // address stands for another outside source, e.g. one
  // loadBalancerSourceRanges leaves out; connections still leave from the
  // first: in IPv4 the second is secondary, in IPv6 deprecated (preferred
  // lifetime 0), which source address selection avoids (RFC 6724 rule 3) and
  // bind() still accepts. (Two equal IPv6 addresses would tie, and Linux
  // would pick the one added last.)
  let client: Cluster['client'];
  if (withClient) {
    const ns = clusterNamespace(net, 'client');
    plug(ns, 'client');
    const n1 = nodes[0];
    net.ipBatch(ns, [
      ['addr', 'add', `${CLIENT_IP}/24`, 'dev', 'wire'],
      ['addr', 'add', `${CLIENT_SECOND_IP}/24`, 'dev', 'wire'],
      ['addr', 'add', `${CLIENT_IP6}/64`, 'dev', 'wire', 'nodad'],
      ['addr', 'add', `${CLIENT_SECOND_IP6}/64`, 'dev', 'wire', 'nodad', 'preferred_lft', '0'],
      ...(n1
        ? [
            ...[POD_CIDR, SERVICE_CIDR, EXTERNAL_CIDR].map((cidr) => ['route', 'add', cidr, 'via', n1.wireIp]),
            ...[POD_CIDR6, SERVICE_CIDR6, EXTERNAL_CIDR6].map((cidr) => ['route', 'add', cidr, 'via', n1.wireIp6]),
          ]
        : []),
    ]);
    client = { ns, ip: CLIENT_IP, secondIp: CLIENT_SECOND_IP, ip6: CLIENT_IP6, secondIp6: CLIENT_SECOND_IP6 };
  }

  // A client farther away, behind a router whose path toward it takes only
  // FAR_PATH_MTU bytes (a route MTU: both ends keep 1500, so their TCP
  // advertises a 1460-byte MSS, 1440 in IPv6, and only path-MTU discovery
  // can find the limit). The router answers a larger packet toward the
  // client (DF set, in IPv4; every IPv6 packet, which routers never
  // fragment) with ICMP fragmentation needed or ICMPv6 packet too big, to
  // the packet's source: through a NodePort, the node's address, which the
  // proxy must turn back to the backend.
  let farClient: Cluster['farClient'];
  if (withClient) {
    const router = clusterNamespace(net, 'far', { 'net.ipv4.ip_forward': 1, 'net.ipv6.conf.all.forwarding': 1 });
    const ns = clusterNamespace(net, 'farclient');
    net.veth({ ns: router, name: 'lan' }, { ns: switchNs, name: 'far' });
    net.ip(switchNs, 'link', 'set', 'far', 'master', 'br0');
    net.exec(switchNs, 'ethtool', ['-K', 'far', 'gro', 'on']);
    nicLike(net, router, 'lan');
    net.veth({ ns: router, name: 'edge' }, { ns, name: 'wire' });
    nicLike(net, router, 'edge');
    nicLike(net, ns, 'wire');
    net.ipBatch(router, [
      ['addr', 'add', `${FAR_ROUTER}/24`, 'dev', 'lan'],
      ['addr', 'add', `${FAR_ROUTER6}/64`, 'dev', 'lan', 'nodad'],
      ['addr', 'add', '172.30.0.1/24', 'dev', 'edge', 'noprefixroute'],
      ['route', 'add', FAR_CIDR, 'dev', 'edge', 'mtu', 'lock', String(FAR_PATH_MTU)],
      ['addr', 'add', 'fd00:172:30::1/64', 'dev', 'edge', 'nodad', 'noprefixroute'],
      ['route', 'add', FAR_CIDR6, 'dev', 'edge', 'mtu', 'lock', String(FAR_PATH_MTU)],
    ]);
    net.ipBatch(ns, [
      ['addr', 'add', `${FAR_CLIENT_IP}/24`, 'dev', 'wire'],
      ['route', 'add', 'default', 'via', '172.30.0.1'],
      ['addr', 'add', `${FAR_CLIENT_IP6}/64`, 'dev', 'wire', 'nodad'],
      ['route', 'add', 'default', 'via', 'fd00:172:30::1'],
    ]);
    for (const node of nodes) {
      net.ipBatch(node.ns, [
        ['route', 'add', FAR_CIDR, 'via', FAR_ROUTER],
        ['route', 'add', FAR_CIDR6, 'via', FAR_ROUTER6],
      ]);
    }
    farClient = { ns, ip: FAR_CLIENT_IP, ip6: FAR_CLIENT_IP6, pathMtu: FAR_PATH_MTU };
  }

  return { switchNs, nodes, client, farClient, pods: () => nodes.flatMap((n) => n.pods) };
}
