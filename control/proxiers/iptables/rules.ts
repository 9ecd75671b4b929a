// The rules of one service port, as kube-proxy's iptables proxier writes them
// (pkg/proxy/iptables/proxier.go, syncProxyRules): the jumps from the shared
// chains (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES, …) and the
// service's own chains (KUBE-SVC/SVL/EXT/FW/SEP). Pure: model in, text out,
// so a partial sync recomputes only the ports that changed.
import { BlockList, isIP } from 'node:net';
import { hostPort } from '../../model/address.js';
import type { EndpointState, ServicePortState } from '../../model/types.js';
import {
  KUBE_EXTERNAL_SERVICES,
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
} from '../../netfilter/names.js';
import { endpointChain, kubeServicePortName, servicePortChains } from './names.js';

export interface RuleContext {
  /** "-j MARK --or-mark" value, 1 << --iptables-masquerade-bit, as hex. */
  masqueradeMark: string;
  masqueradeAll: boolean;
  /** --cluster-cidr of the proxier's family: traffic from elsewhere to a ClusterIP is masqueraded. Undefined: no local-traffic detector. */
  clusterCIDR?: string;
  /** This node's addresses, for loadBalancerSourceRanges that contain the node. */
  nodeIPs: string[];
}

export interface PortRules {
  /** Lines for the shared filter chains ("-A KUBE-SERVICES …"). */
  filter: string[];
  /** Lines for the shared nat chains KUBE-SERVICES and KUBE-NODEPORTS. */
  nat: string[];
  /** The port's own nat chains and their rules, in creation order. */
  chains: Map<string, string[]>;
  /** Internal / external traffic dropped here for want of a local endpoint (kube-proxy's no-local-endpoints metric). */
  noLocalEndpoints: { internal: boolean; external: boolean };
  /** What this mode cannot program for the port. */
  skipped: string[];
}

const q = (s: string) => `"${s}"`;

/** kube-proxy's probability(n): 1/n with ten decimals. */
export function probability(n: number): string {
  return (1 / n).toFixed(10);
}

/**
 * The rules of one service port, of one family: the dual-stack meta proxier
 * hands this proxier the port's IPv4 share only (its ClusterIP, external and
 * load-balancer IPs, source ranges and endpoints), as kube-proxy hands each
 * of its per-family proxiers.
 */
export function portRules(sp: ServicePortState, ctx: RuleContext): PortRules {
  const out: PortRules = {
    filter: [],
    nat: [],
    chains: new Map(),
    noLocalEndpoints: { internal: false, external: false },
    skipped: [],
  };
  const name = kubeServicePortName(sp);
  const proto = sp.protocol.toLowerCase();
  const match = `-m ${proto} -p ${proto}`;
  const chains = servicePortChains(name, proto);

  const clusterIP = sp.clusterIPs[0];
  if (!clusterIP) return out;
  const externalIPs = sp.externalIPs;
  const lbIPs = sp.loadBalancerIPs;

  const clusterEndpoints = sp.clusterEndpoints ?? [];
  const localEndpoints = sp.localEndpoints ?? [];
  const hasEndpoints = clusterEndpoints.length > 0 || localEndpoints.length > 0 || sp.hasAnyEndpoints;
  const usesClusterChain = clusterEndpoints.length > 0 && sp.clusterEndpoints !== null;
  const usesLocalChain = localEndpoints.length > 0 && sp.localEndpoints !== null;

  const internalLocal = sp.internalTrafficPolicy === 'Local';
  const externalLocal = sp.externalTrafficPolicy === 'Local';
  const internalChain = internalLocal ? chains.svl : chains.svc;
  const hasInternal = hasEndpoints && !(internalLocal && localEndpoints.length === 0);
  const externalPolicyChain = externalLocal ? chains.svl : chains.svc;
  const hasExternal = hasEndpoints && !(externalLocal && localEndpoints.length === 0);
  const usesExtChain = hasEndpoints && sp.externallyAccessible;
  const usesFwChain = hasEndpoints && lbIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
  const lbChain = usesFwChain ? chains.fw : chains.ext;

  let internalTarget = '';
  let internalComment = '';
  let externalTarget = '';
  let externalComment = '';
  if (!hasEndpoints) {
    internalTarget = externalTarget = 'REJECT';
    internalComment = externalComment = q(`${name} has no endpoints`);
  } else {
    if (!hasInternal) {
      internalTarget = 'DROP';
      internalComment = q(`${name} has no local endpoints`);
      out.noLocalEndpoints.internal = true;
    }
    if (!hasExternal) {
      externalTarget = 'DROP';
      externalComment = q(`${name} has no local endpoints`);
      out.noLocalEndpoints.external = true;
    }
  }

  // Capture the ClusterIP.
  if (clusterIP) {
    const dst = `${match} -d ${clusterIP} --dport ${sp.port}`;
    if (hasInternal)
      out.nat.push(`-A ${KUBE_SERVICES} -m comment --comment ${q(`${name} cluster IP`)} ${dst} -j ${internalChain}`);
    else out.filter.push(`-A ${KUBE_SERVICES} -m comment --comment ${internalComment} ${dst} -j ${internalTarget}`);
  }

  // Capture externalIPs.
  for (const ip of externalIPs) {
    const dst = `${match} -d ${ip} --dport ${sp.port}`;
    if (hasEndpoints)
      out.nat.push(`-A ${KUBE_SERVICES} -m comment --comment ${q(`${name} external IP`)} ${dst} -j ${chains.ext}`);
    if (!hasExternal)
      out.filter.push(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalComment} ${dst} -j ${externalTarget}`,
      );
  }

  // Capture load-balancer ingress.
  for (const ip of lbIPs) {
    const dst = `${match} -d ${ip} --dport ${sp.port}`;
    if (hasEndpoints)
      out.nat.push(`-A ${KUBE_SERVICES} -m comment --comment ${q(`${name} loadbalancer IP`)} ${dst} -j ${lbChain}`);
    if (usesFwChain) {
      out.filter.push(
        `-A ${KUBE_PROXY_FIREWALL} -m comment --comment ${q(`${name} traffic not accepted by ${chains.fw}`)} ${dst} -j DROP`,
      );
    }
  }
  if (!hasExternal) {
    for (const ip of lbIPs) {
      out.filter.push(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalComment} ${match} -d ${ip} --dport ${sp.port} -j ${externalTarget}`,
      );
    }
  }

  // Capture the NodePort.
  if (sp.nodePort) {
    if (hasEndpoints)
      out.nat.push(
        `-A ${KUBE_NODEPORTS} -m comment --comment ${name} ${match} --dport ${sp.nodePort} -j ${chains.ext}`,
      );
    if (!hasExternal) {
      out.filter.push(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalComment} -m addrtype --dst-type LOCAL ${match} --dport ${sp.nodePort} -j ${externalTarget}`,
      );
    }
  }

  // The health check NodePort is accepted whether or not this node has endpoints.
  if (sp.healthCheckNodePort) {
    out.filter.push(
      `-A ${KUBE_NODEPORTS} -m comment --comment ${q(`${name} health check node port`)} -m tcp -p tcp --dport ${sp.healthCheckNodePort} -j ACCEPT`,
    );
  }

  const chain = (c: string): string[] => {
    let rules = out.chains.get(c);
    if (!rules) out.chains.set(c, (rules = []));
    return rules;
  };

  // Internal traffic: masquerade what needs it, then the policy chain.
  if (hasInternal && clusterIP) {
    const args = `-m comment --comment ${q(`${name} cluster IP`)} ${match} -d ${clusterIP} --dport ${sp.port}`;
    if (ctx.masqueradeAll) chain(internalChain).push(`-A ${internalChain} ${args} -j ${KUBE_MARK_MASQ}`);
    else if (ctx.clusterCIDR)
      chain(internalChain).push(`-A ${internalChain} ${args} ! -s ${ctx.clusterCIDR} -j ${KUBE_MARK_MASQ}`);
  }

  // External traffic: everything external enters KUBE-EXT, which handles the
  // special cases and then jumps to the external policy chain.
  if (usesExtChain) {
    const ext = chain(chains.ext);
    if (!externalLocal) {
      ext.push(
        `-A ${chains.ext} -m comment --comment ${q(`masquerade traffic for ${name} external destinations`)} -j ${KUBE_MARK_MASQ}`,
      );
    } else {
      if (ctx.clusterCIDR) {
        ext.push(
          `-A ${chains.ext} -m comment --comment ${q(`pod traffic for ${name} external destinations`)} -s ${ctx.clusterCIDR} -j ${chains.svc}`,
        );
      }
      ext.push(
        `-A ${chains.ext} -m comment --comment ${q(`masquerade LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${KUBE_MARK_MASQ}`,
      );
      ext.push(
        `-A ${chains.ext} -m comment --comment ${q(`route LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${chains.svc}`,
      );
    }
    if (hasExternal) ext.push(`-A ${chains.ext} -j ${externalPolicyChain}`);
  }

  // The loadBalancerSourceRanges firewall.
  if (usesFwChain) {
    const fw = chain(chains.fw);
    const args = `-A ${chains.fw} -m comment --comment ${q(`${name} loadbalancer IP`)}`;
    let allowFromNode = false;
    for (const cidr of sp.loadBalancerSourceRanges) {
      fw.push(`${args} -s ${cidr} -j ${chains.ext}`);
      if (ctx.nodeIPs.some((ip) => cidrContains(cidr, ip))) allowFromNode = true;
    }
    // A VIP the node holds itself loops back with the VIP as source.
    if (allowFromNode) for (const ip of lbIPs) fw.push(`${args} -s ${ip} -j ${chains.ext}`);
    fw.push(
      `-A ${chains.fw} -m comment --comment ${q(`other traffic to ${name} will be dropped by KUBE-PROXY-FIREWALL`)}`,
    );
  }

  const affinity = sp.affinityTimeoutSeconds;
  // kube-proxy names endpoint chains, and writes DNAT targets, by the endpoint's "ip:port".
  const toEndpoints = (policyChain: string, endpoints: readonly EndpointState[]) => {
    const rules = chain(policyChain);
    const texts = endpoints.map((ep) => hostPort(ep.ip, ep.port));
    if (affinity !== undefined) {
      for (const ep of texts) {
        const sep = endpointChain(name, proto, ep);
        rules.push(
          `-A ${policyChain} -m comment --comment ${q(`${name} -> ${ep}`)} -m recent --name ${sep} --rcheck --seconds ${affinity} --reap -j ${sep}`,
        );
      }
    }
    texts.forEach((ep, i) => {
      const sep = endpointChain(name, proto, ep);
      const pick =
        i < texts.length - 1 ? ` -m statistic --mode random --probability ${probability(texts.length - i)}` : '';
      rules.push(`-A ${policyChain} -m comment --comment ${q(`${name} -> ${ep}`)}${pick} -j ${sep}`);
    });
  };
  if (usesClusterChain) toEndpoints(chains.svc, clusterEndpoints);
  if (usesLocalChain) toEndpoints(chains.svl, localEndpoints);

  // One chain per endpoint reachable from here: hairpin masquerade, then DNAT.
  const reachable = new Map<string, EndpointState>();
  for (const ep of [...(usesClusterChain ? clusterEndpoints : []), ...(usesLocalChain ? localEndpoints : [])]) {
    reachable.set(hostPort(ep.ip, ep.port), ep);
  }
  for (const [text, ep] of reachable) {
    const sep = endpointChain(name, proto, text);
    const rules = chain(sep);
    rules.push(`-A ${sep} -m comment --comment ${name} -s ${ep.ip} -j ${KUBE_MARK_MASQ}`);
    const recent = affinity !== undefined ? ` -m recent --name ${sep} --set` : '';
    rules.push(`-A ${sep} -m comment --comment ${name}${recent} ${match} -j DNAT --to-destination ${text}`);
  }
  return closed(out);
}

const OWN_CHAIN_JUMP = / -j (KUBE-(?:SVC|SVL|EXT|FW|SEP)-[A-Z0-9]+)/;

/**
 * A port whose rules jump to one of its own chains that it does not create
 * would make iptables-restore refuse the whole transaction, and with it every
 * other service's rules: such a port is programmed not at all, and reported.
 */
function closed(out: PortRules): PortRules {
  const lines = [...out.nat, ...out.filter, ...[...out.chains.values()].flat()];
  for (const line of lines) {
    const target = OWN_CHAIN_JUMP.exec(line)?.[1];
    if (target && !out.chains.has(target)) {
      return {
        filter: [],
        nat: [],
        chains: new Map(),
        noLocalEndpoints: { internal: false, external: false },
        skipped: [...out.skipped, `not programmed: its rules jump to ${target}, which it does not create`],
      };
    }
  }
  return out;
}

function cidrContains(cidr: string, ip: string): boolean {
  const [base, bits] = cidr.split('/');
  const family = base ? isIP(base) : 0;
  if (family === 0 || isIP(ip) !== family) return false;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const range = new BlockList();
  range.addSubnet(base!, Number(bits ?? (family === 4 ? 32 : 128)), type);
  return range.check(ip, type);
}
