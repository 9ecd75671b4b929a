// How the model spells addresses. kube-proxy keys endpoints by
// Endpoint.String(), which is net.JoinHostPort of the parsed-and-reprinted IP,
// so "fd00:0::1" and "FD00::1" are one endpoint. We print the same way so that
// deduplication and the "ip:port" lists handed to proxiers agree with it.
import type { IPFamily } from '../sources/types.js';

export function ipFamilyOf(ip: string): IPFamily {
  return ip.includes(':') ? 'IPv6' : 'IPv4';
}

/**
 * The canonical text of an address: IPv6 lower-cased and compressed (RFC 5952,
 * as Go's net.IP.String() prints it); IPv4 as given, since the source has
 * already validated it as dotted decimal.
 */
export function canonicalIP(ip: string): string {
  if (ipFamilyOf(ip) === 'IPv4') return ip;
  try {
    // The WHATWG URL parser serialises IPv6 hosts in RFC 5952 form: the one
    // pure, built-in canonicaliser Node has.
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

/** "ip:port", or "[ip]:port" for IPv6: kube-proxy's Endpoint.String(). */
export function hostPort(ip: string, port: number): string {
  return ipFamilyOf(ip) === 'IPv6' ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The inverse of hostPort: the address (without brackets) and the port of an "ip:port" entry. */
export function splitHostPort(endpoint: string): { ip: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, i);
  return { ip: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(endpoint.slice(i + 1)) };
}
