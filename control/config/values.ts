// Value parsers shared by the flags and the config file, so `--cluster-cidr`
// and `clusterCIDR:` accept exactly the same text. Each returns the value in
// ProxyOptions' form or throws a ValueError saying what it expected; the
// caller adds which flag or field it was.
import { MAP_NAMES } from '../proxiers/ebpf/abi.generated.js';
import { MAGLEV_TABLE_SIZES } from '../proxiers/ebpf/maglev.js';
import { isIP } from 'node:net';
import { isAbsolute } from 'node:path';
import { ValueError } from './errors.js';
import { PROXY_MODES, type ProxyMode } from './options.js';

/** strconv.ParseBool's spellings, which pflag uses for `--flag=value`. */
export function parseBool(raw: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(raw)) return false;
  throw new ValueError('expected true or false');
}

function parseInteger(raw: string, min: number, max: number, what: string): number {
  const t = raw.trim();
  if (!/^[-+]?\d+$/.test(t)) throw new ValueError(`expected ${what}`);
  const n = Number(t);
  if (n < min || n > max) throw new ValueError(`expected ${what} (out of range)`);
  return n;
}

export const parseInt32 = (raw: string) => parseInteger(raw, -(2 ** 31), 2 ** 31 - 1, 'an integer (int32)');
export const parseUint32 = (raw: string) => parseInteger(raw, 0, 2 ** 32 - 1, 'a non-negative integer');

export function parseFloat32(raw: string): number {
  const t = raw.trim();
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) throw new ValueError('expected a number');
  return Number(t);
}

export function parseMode(raw: string): ProxyMode {
  const mode = raw.trim();
  // kube-proxy reads an empty mode as "the platform's default"; ours is ebpf.
  if (mode === '') return 'ebpf';
  if ((PROXY_MODES as readonly string[]).includes(mode)) return mode as ProxyMode;
  if (mode === 'nftables') {
    throw new ValueError(
      `the nftables mode is not supported by switchyard; use one of ${PROXY_MODES.join(', ')} (ebpf is the default)`,
    );
  }
  throw new ValueError(`expected one of ${PROXY_MODES.join(', ')}`);
}

/**
 * "ip:port", "[ipv6]:port", a bare IP (the default port is appended, as
 * kube-proxy does), or "" to turn the server off. Ports 0-65535; the host
 * must be an IP address, not a name, as in kube-proxy.
 */
export function parseBindAddress(raw: string, defaultPort: number): string {
  const t = raw.trim();
  if (t === '') return '';
  const expected = `expected IP:port (e.g. 0.0.0.0:${defaultPort} or [::]:${defaultPort}), a bare IP, or "" to disable`;
  let host: string;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(t);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2];
    if (isIP(host) !== 6) throw new ValueError(expected);
  } else if (t.split(':').length === 2) {
    [host, port] = t.split(':') as [string, string];
  } else {
    host = t; // a bare IPv4, or a bare IPv6 with its colons
  }
  if (isIP(host) === 0) throw new ValueError(expected);
  if (port === undefined) port = String(defaultPort);
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new ValueError(`${expected}; the port must be 0-65535`);
  return isIP(host) === 6 ? `[${host}]:${Number(port)}` : `${host}:${Number(port)}`;
}

/** One CIDR block, as Go's net.ParseCIDR takes it (host bits may be set). */
/** An IP address, or "" for none (kube-proxy's --source-vip). */
export function parseOptionalIp(raw: string): string {
  const ip = raw.trim();
  if (ip !== '' && isIP(ip) === 0) throw new ValueError('expected an IP address');
  return ip;
}

export function parseCidr(raw: string): string {
  const t = raw.trim();
  const slash = t.indexOf('/');
  const family = slash > 0 ? isIP(t.slice(0, slash)) : 0;
  const prefix = t.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128)) {
    throw new ValueError(`expected a CIDR block such as 10.244.0.0/16 or fd00:10:244::/56, got "${t}"`);
  }
  return t;
}

/** A comma-separated list of CIDRs; empty text is an empty list. */
export function parseCidrList(raw: string): string[] {
  return splitList(raw).map(parseCidr);
}

/** --nodeport-addresses: CIDRs, or kube-proxy's "primary" (the node's primary IPs) on its own. */
export function parseNodePortAddresses(raw: string): string[] {
  const values = splitList(raw);
  if (values.includes('primary')) {
    if (values.length > 1) throw new ValueError('"primary" cannot be combined with CIDRs');
    return ['primary'];
  }
  return values.map(parseCidr);
}

/** The pod CIDRs: one block, or a dual-stack pair (one IPv4, one IPv6), as kube-proxy requires. */
export function parseClusterCidrs(raw: string): string[] {
  const cidrs = parseCidrList(raw);
  if (cidrs.length > 2) throw new ValueError('expected one CIDR, or a dual-stack pair of one IPv4 and one IPv6 CIDR');
  if (cidrs.length === 2 && familyOf(cidrs[0]!) === familyOf(cidrs[1]!)) {
    throw new ValueError('two CIDRs must be a dual-stack pair: one IPv4 and one IPv6');
  }
  return cidrs;
}

const familyOf = (cidr: string) => isIP(cidr.slice(0, cidr.indexOf('/')));

/** Comma-separated items, trimmed, empty items dropped (pflag's StringSlice, minus CSV quoting). */
export function splitList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export const IPVS_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh'] as const;

/** An IPVS scheduler name; "" means round robin, kube-proxy's default. */
export function parseScheduler(raw: string): string {
  const s = raw.trim();
  if (s === '') return 'rr';
  if ((IPVS_SCHEDULERS as readonly string[]).includes(s)) return s;
  throw new ValueError(`expected one of ${IPVS_SCHEDULERS.join(', ')} (or "" for rr)`);
}

/** klog's -v onto pino's levels: 0-1 are the normal operational messages, 2-3 the debug detail, 4+ everything. */
export function logLevelForVerbosity(v: number): string {
  if (v >= 4) return 'trace';
  if (v >= 2) return 'debug';
  return 'info';
}

export function parseLogFormat(raw: string): 'text' | 'json' {
  const f = raw.trim();
  if (f === 'text' || f === 'json') return f;
  throw new ValueError('expected text or json');
}

/** How the ebpf mode accelerates traffic arriving on the node's uplinks (Cilium's loadBalancer.acceleration). */
export type LbAcceleration = 'disabled' | 'best-effort' | 'native';

/** How the ebpf mode picks a backend for traffic from outside (Cilium's --bpf-lb-algorithm). */
export type LbAlgorithm = 'random' | 'maglev';

export function parseLbAlgorithm(raw: string): LbAlgorithm {
  const a = raw.trim();
  if (a === 'random' || a === 'maglev') return a;
  throw new ValueError('expected random or maglev');
}

export function parseMaglevTableSize(raw: string): number {
  const n = Number(raw.trim());
  if (!(MAGLEV_TABLE_SIZES as readonly number[]).includes(n))
    throw new ValueError(`expected one of ${MAGLEV_TABLE_SIZES.join(', ')}`);
  return n;
}

export function parseLbAcceleration(raw: string): LbAcceleration {
  const a = raw.trim();
  if (a === 'disabled' || a === 'best-effort' || a === 'native') return a;
  throw new ValueError('expected disabled, best-effort or native');
}

/**
 * Interface names, or prefixes ending in "+" (iptables' wildcard; "+" alone
 * matches every interface). Linux names are 1-15 bytes without "/", ":" or
 * white space.
 */
export function parseDevices(raw: string): string[] {
  return splitList(raw).map((d) => {
    const base = d.endsWith('+') ? d.slice(0, -1) : d;
    if (
      Buffer.byteLength(base) > 15 ||
      /[/:\s]/.test(base) ||
      (base === '' && d !== '+') ||
      base === '.' ||
      base === '..'
    ) {
      throw new ValueError(`expected interface names or prefixes ending in "+" (e.g. eth0,veth+), got "${d}"`);
    }
    return d;
  });
}

/**
 * "services=65536,backends=262144": map capacities (max_entries). A name may
 * omit the maps' "sy_" prefix and a layout version ("_v2", bpf/include/
 * switchyard/abi.h's rule): the result is always the map's name in the BPF
 * object, so a flag keeps working when a map's layout changes.
 */
export function parseMapSizes(raw: string): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const item of splitList(raw)) {
    const m = /^([a-z][a-z0-9_]*)=(\d+)$/.exec(item);
    const size = m ? Number(m[2]) : 0;
    if (!m || size < 1 || size > 2 ** 32 - 1) {
      throw new ValueError(
        `expected name=size pairs with sizes from 1 to 4294967295 (e.g. services=65536,backends=262144), got "${item}"`,
      );
    }
    const given = m[1]!.startsWith('sy_') ? m[1]! : `sy_${m[1]}`;
    sizes[MAP_NAMES.find((n) => n === given || n.replace(/_v\d+$/, '') === given) ?? given] = size;
  }
  return sizes;
}

export function parseAbsolutePath(raw: string): string {
  const p = raw.trim();
  if (!isAbsolute(p)) throw new ValueError('expected an absolute path');
  return p;
}

export function parsePath(raw: string): string {
  const p = raw.trim();
  if (p === '') throw new ValueError('expected a path');
  return p;
}

/** pflag's mapStringBool ("Foo=true,Bar=false"), for --feature-gates. */
export function parseMapStringBool(raw: string): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const item of splitList(raw)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ValueError(`expected key=true|false pairs, got "${item}"`);
    out[item.slice(0, eq).trim()] = parseBool(item.slice(eq + 1).trim());
  }
  return out;
}

/** The bind address with its port replaced (kube-proxy's deprecated --healthz-port/--metrics-port); port 0 disables. */
export function withPort(address: string, port: number, defaultHost: string): string {
  if (port === 0) return '';
  const host = address === '' ? defaultHost : address.slice(0, address.lastIndexOf(':'));
  return `${host}:${port}`;
}
