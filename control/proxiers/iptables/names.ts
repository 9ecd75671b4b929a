// kube-proxy's chain names, byte for byte: operators' debugging guides, their
// scripts and `iptables-save | grep` habits all rely on them. A service
// port's chains are named by a hash of kube-proxy's ServicePortName string
// ("ns/name:port", or "ns/name" for an unnamed port) and the lower-case
// protocol; an endpoint's chain adds the "ip:port" string.
import { createHash } from 'node:crypto';
import type { ServicePortState } from '../../model/types.js';

export const KUBE_SERVICES = 'KUBE-SERVICES';
export const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
export const KUBE_NODEPORTS = 'KUBE-NODEPORTS';
export const KUBE_POSTROUTING = 'KUBE-POSTROUTING';
export const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';
export const KUBE_FORWARD = 'KUBE-FORWARD';
export const KUBE_PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';

/** Prefixes of the per-service and per-endpoint chains (KUBE-XLB- is an older kube-proxy's, removed on sight). */
const SERVICE_CHAIN = /^KUBE-(SVC|SVL|EXT|FW|SEP|XLB)-/;

export function isServiceChain(chain: string): boolean {
  return SERVICE_CHAIN.test(chain);
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** The first 16 characters of the standard base32 encoding of sha256(text), as kube-proxy's portProtoHash. */
export function chainHash(text: string): string {
  const digest = createHash('sha256').update(text).digest();
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of digest) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length === 16) break;
  }
  return out;
}

/** kube-proxy's ServicePortName.String(): "ns/name:port", without the protocol. */
export function kubeServicePortName(sp: Pick<ServicePortState, 'namespace' | 'service' | 'portName'>): string {
  return `${sp.namespace}/${sp.service}${sp.portName ? `:${sp.portName}` : ''}`;
}

export interface ServicePortChains {
  /** The cluster-policy chain: every usable endpoint. */
  svc: string;
  /** The local-policy chain: this node's endpoints. */
  svl: string;
  /** External traffic (NodePort, LoadBalancer, externalIPs) enters here. */
  ext: string;
  /** loadBalancerSourceRanges filter. */
  fw: string;
}

export function servicePortChains(portName: string, protocol: string): ServicePortChains {
  const hash = chainHash(portName + protocol.toLowerCase());
  return { svc: `KUBE-SVC-${hash}`, svl: `KUBE-SVL-${hash}`, ext: `KUBE-EXT-${hash}`, fw: `KUBE-FW-${hash}` };
}

export function endpointChain(portName: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${chainHash(portName + protocol.toLowerCase() + endpoint)}`;
}
