import { describe, expect, it } from 'vitest';
import { staleFilters, type UdpPort } from '../../../control/netfilter/stale-udp.js';

const port = (endpoints: string[], extra: Partial<UdpPort> = {}): UdpPort => ({
  vips: ['10.96.0.12'],
  port: 53,
  endpoints: new Set(endpoints),
  ...extra,
});

describe('staleFilters (UDP conntrack entries kube-proxy clears)', () => {
  it('clears flows DNATed to a removed endpoint, by every address and the NodePort', () => {
    expect(
      staleFilters(
        port(['10.244.1.11', '10.244.2.11'], { nodePort: 30053, vips: ['10.96.0.12', '192.0.2.1'] }),
        port(['10.244.1.11']),
      ),
    ).toEqual([
      ['--orig-dst', '10.96.0.12', '--orig-port-dst', '53', '--dst-nat', '10.244.2.11'],
      ['--orig-dst', '192.0.2.1', '--orig-port-dst', '53', '--dst-nat', '10.244.2.11'],
      ['--orig-port-dst', '30053', '--dst-nat', '10.244.2.11'],
    ]);
  });

  it('clears flows to the service when it goes from no endpoints to some', () => {
    expect(staleFilters(port([]), port(['10.244.1.11']))).toEqual([
      ['--orig-dst', '10.96.0.12', '--orig-port-dst', '53'],
    ]);
  });

  it('leaves flows alone when nothing they use went away', () => {
    expect(staleFilters(port(['10.244.1.11']), port(['10.244.1.11', '10.244.2.11']))).toEqual([]);
    expect(staleFilters(undefined, port(['10.244.1.11']))).toEqual([]);
  });
});
