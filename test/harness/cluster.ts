// A small Kubernetes-like cluster built from network namespaces, for tests
// that need real traffic between nodes and pods. Every address and route below
// lives inside this run's namespaces; the root namespace is never touched.
//
//   client ─┐                     172.31.0.0/24 on a bridge in the "sw" namespace
//   far ────┤ (router 172.31.0.2, to farclient 172.30.0.100 with path MTU 1280)
//   n1 ─────┼── br0 (ns sw)       br0 172.31.0.1, the nodes' default router
//   n2 ─────┘                     node i: wire 172.31.0.(10+i), pods 10.244.i.0/24
//   pod n<i>p<j>: eth0 10.244.i.(10+j)/32, default via 169.254.1.1 (Calico-style)
//   client: 172.31.0.100 and a second address 172.31.0.101; pod, service and
//   external (198.51.100.0/24) addresses via n1
//
// Service ClusterIPs (10.96.0.0/12) have no specific route on the nodes: pods
// reach them by their default route, and the ebpf mode's tc ingress program
// translates them to a backend before the node routes the packet. Every node
// has a default route, as real nodes do, so a packet to a service address
// that nothing translated is still routed: iptables' filter FORWARD and nat
// OUTPUT chains see it (kube-proxy REJECTs a service without endpoints there),
// and a node's own connect() does not fail with ENETUNREACH first. The router
// does not forward (ip_forward stays 0 in "sw"): such a packet that reaches it
// is dropped, silently.
import type { TestNet } from './netns.js';

export interface Pod {
  name: string; // 'n1p1'
  ns: string;
  ip: string;
  hostIf: string; // 'p1', inside the node's namespace
  node: string; // 'n1'
}

export interface Node {
  name: string; // 'n1'
  ns: string;
  wireIp: string;
  wireIf: 'wire';
  pods: Pod[];
}

export interface Cluster {
  switchNs: string;
  nodes: Node[];
  /** `ip` is the address its connections leave from; `secondIp`, a second one a probe may bind (`source`). */
  client?: { ns: string; ip: string; secondIp: string };
  /** Behind a router on the nodes' segment whose path to it takes `pathMtu` bytes (FAR_PATH_MTU). */
  farClient?: { ns: string; ip: string; pathMtu: number };
  pods(): Pod[];
}

/** The pod gateway every pod routes through; the node answers ARP for it. */
export const POD_GATEWAY = '169.254.1.1';
export const SERVICE_CIDR = '10.96.0.0/12';
/** The far client's subnet, behind the router FAR_ROUTER (on the nodes' segment) with a lower path MTU. */
export const FAR_CIDR = '172.30.0.0/24';
export const FAR_ROUTER = '172.31.0.2';
export const FAR_CLIENT_IP = '172.30.0.100';
export const FAR_PATH_MTU = 1280;
export const POD_CIDR = '10.244.0.0/16';
/**
 * Addresses outside every cluster range that a load balancer or an operator
 * gives services (status.loadBalancer.ingress, spec.externalIPs): the
 * client's upstream router sends them to n1, as a real one would to a node.
 */
export const EXTERNAL_CIDR = '198.51.100.0/24';
/** br0's address in the switch namespace: every node's default gateway. */
export const ROUTER = '172.31.0.1';
const wireIp = (i: number) => `172.31.0.${10 + i}`;
/** The outside client's address, and its second one (see buildCluster). */
export const CLIENT_IP = '172.31.0.100';
export const CLIENT_SECOND_IP = '172.31.0.101';

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
 * side), a /32 and a default route via the pod gateway. Also used after the
 * cluster is up, as the kubelet does when a pod is scheduled.
 */
export function addPod(net: TestNet, node: Node): Pod {
  const i = Number(node.name.slice(1));
  const j = node.pods.length + 1;
  const pod: Pod = {
    name: `${node.name}p${j}`,
    ns: net.namespace(`${node.name}p${j}`),
    ip: `10.244.${i}.${10 + j}`,
    hostIf: `p${j}`,
    node: node.name,
  };
  net.veth({ ns: pod.ns, name: 'eth0' }, { ns: node.ns, name: pod.hostIf });
  nicLike(net, pod.ns, 'eth0');
  // Calico-style pod: a /32 and a default route via a link-local gateway,
  // answered by the node.
  net.ip(pod.ns, 'addr', 'add', `${pod.ip}/32`, 'dev', 'eth0');
  net.ip(pod.ns, 'route', 'add', POD_GATEWAY, 'dev', 'eth0', 'scope', 'link');
  net.ip(pod.ns, 'route', 'add', 'default', 'via', POD_GATEWAY, 'dev', 'eth0', 'onlink');
  // As Calico does: proxy ARP for any other address a pod resolves on-link,
  // without the default random delay of up to 0.8 s before each answer.
  net.sysctl(node.ns, `net.ipv4.conf.${pod.hostIf}.proxy_arp`, 1);
  net.sysctl(node.ns, `net.ipv4.neigh.${pod.hostIf}.proxy_delay`, 0);
  net.ip(node.ns, 'route', 'add', `${pod.ip}/32`, 'dev', pod.hostIf);
  node.pods.push(pod);
  return pod;
}

export function buildCluster(
  net: TestNet,
  opts: { nodes?: number; podsPerNode?: number; client?: boolean } = {},
): Cluster {
  const { nodes: nodeCount = 2, podsPerNode = 2, client: withClient = true } = opts;

  // The "switch": one L2 segment joining every node and the client.
  const switchNs = net.namespace('sw');
  net.ip(switchNs, 'link', 'add', 'br0', 'type', 'bridge');
  net.ip(switchNs, 'link', 'set', 'br0', 'up');
  net.ip(switchNs, 'addr', 'add', `${ROUTER}/24`, 'dev', 'br0');
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
    const ns = net.namespace(name);
    // A node routes for its pods. rp_filter off: with eBPF NAT and asymmetric
    // paths (client -> n1 -> n2 -> client) strict reverse-path checks drop
    // legitimate packets. No ICMP redirects: they would teach the client
    // shortcuts and make the path a test sees depend on timing. Set on
    // all/default before any interface exists, so every interface inherits them.
    net.sysctl(ns, 'net.ipv4.ip_forward', 1);
    for (const conf of ['all', 'default']) {
      net.sysctl(ns, `net.ipv4.conf.${conf}.rp_filter`, 0);
      net.sysctl(ns, `net.ipv4.conf.${conf}.send_redirects`, 0);
      net.sysctl(ns, `net.ipv4.conf.${conf}.arp_ignore`, 0); // see the pod gateway below
    }
    plug(ns, name);
    net.ip(ns, 'addr', 'add', `${wireIp(i)}/24`, 'dev', 'wire');
    net.ip(ns, 'route', 'add', 'default', 'via', ROUTER, 'dev', 'wire');
    // The pods' gateway is a node address, so the node answers their ARP for
    // it at once and a pod can ping it. (Proxy ARP alone would not do: it
    // answers only for addresses the node routes out of another interface, so
    // it would answer for the gateway by way of the default route, and a
    // pod's ping of its gateway would leave for the router; a route via lo
    // would loop packets for the gateway until their TTL ran out.) Scope
    // link keeps it from ever being picked as a source address; arp_ignore 0
    // (else inherited from the root namespace) lets p<j> answer for an
    // address held by lo.
    net.ip(ns, 'addr', 'add', `${POD_GATEWAY}/32`, 'dev', 'lo', 'scope', 'link');

    const node: Node = { name, ns, wireIp: wireIp(i), wireIf: 'wire', pods: [] };
    for (let j = 1; j <= podsPerNode; j++) addPod(net, node);
    nodes.push(node);
  }

  // Each node reaches the other nodes' pod subnets through that node's wire address.
  for (const [a, node] of nodes.entries()) {
    for (const [b, other] of nodes.entries()) {
      if (a !== b) net.ip(node.ns, 'route', 'add', `10.244.${b + 1}.0/24`, 'via', other.wireIp);
    }
  }

  // The client stands outside the cluster and enters it through n1, for pod
  // addresses, service addresses and external service addresses. Its second
  // address (secondary: connections still leave from the first) stands for
  // another outside source, e.g. one loadBalancerSourceRanges leaves out.
  let client: Cluster['client'];
  if (withClient) {
    const ns = net.namespace('client');
    plug(ns, 'client');
    net.ip(ns, 'addr', 'add', `${CLIENT_IP}/24`, 'dev', 'wire');
    net.ip(ns, 'addr', 'add', `${CLIENT_SECOND_IP}/24`, 'dev', 'wire');
    if (nodes[0]) {
      for (const cidr of [POD_CIDR, SERVICE_CIDR, EXTERNAL_CIDR])
        net.ip(ns, 'route', 'add', cidr, 'via', nodes[0].wireIp);
    }
    client = { ns, ip: CLIENT_IP, secondIp: CLIENT_SECOND_IP };
  }

  // A client farther away, behind a router whose path toward it takes only
  // FAR_PATH_MTU bytes (a route MTU: both ends keep 1500, so their TCP
  // advertises a 1460-byte MSS and only path-MTU discovery can find the
  // limit). The router answers a larger DF packet toward the client with
  // ICMP fragmentation needed, to the packet's source: through a NodePort,
  // the node's address, which the proxy must turn back to the backend.
  let farClient: Cluster['farClient'];
  if (withClient) {
    const router = net.namespace('far');
    const ns = net.namespace('farclient');
    net.sysctl(router, 'net.ipv4.ip_forward', 1);
    net.veth({ ns: router, name: 'lan' }, { ns: switchNs, name: 'far' });
    net.ip(switchNs, 'link', 'set', 'far', 'master', 'br0');
    net.exec(switchNs, 'ethtool', ['-K', 'far', 'gro', 'on']);
    nicLike(net, router, 'lan');
    net.ip(router, 'addr', 'add', `${FAR_ROUTER}/24`, 'dev', 'lan');
    net.veth({ ns: router, name: 'edge' }, { ns, name: 'wire' });
    nicLike(net, router, 'edge');
    nicLike(net, ns, 'wire');
    net.ip(router, 'addr', 'add', '172.30.0.1/24', 'dev', 'edge', 'noprefixroute');
    net.ip(router, 'route', 'add', FAR_CIDR, 'dev', 'edge', 'mtu', 'lock', String(FAR_PATH_MTU));
    net.ip(ns, 'addr', 'add', `${FAR_CLIENT_IP}/24`, 'dev', 'wire');
    net.ip(ns, 'route', 'add', 'default', 'via', '172.30.0.1');
    for (const node of nodes) net.ip(node.ns, 'route', 'add', FAR_CIDR, 'via', FAR_ROUTER);
    farClient = { ns, ip: FAR_CLIENT_IP, pathMtu: FAR_PATH_MTU };
  }

  return { switchNs, nodes, client, farClient, pods: () => nodes.flatMap((n) => n.pods) };
}
