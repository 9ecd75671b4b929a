// The names of kube-proxy's shared chains, byte for byte: the iptables and
// ipvs modes both program them, operators' guides and `iptables-save | grep`
// habits rely on them, and each mode's clean-up finds its own by them.
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
