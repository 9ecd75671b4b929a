// kube-proxy's per-service chain names, byte for byte: a service port's
// chains are named by a hash of kube-proxy's ServicePortName string
// ("ns/name:port", or "ns/name" for an unnamed port) and the lower-case
// protocol; an endpoint's chain adds the "ip:port" string. The shared chains'
// names are in control/netfilter/names.ts.
import { createHash } from 'node:crypto';
import type { ServicePortState } from '../../model/types.js';

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
