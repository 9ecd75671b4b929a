// endpointsForServicePort against kube-proxy's endpointslicecache.go: which
// slices and slice ports feed a service port, and how duplicates resolve.
import { describe, expect, it } from 'vitest';
import { endpointsForServicePort } from '../../../control/model/endpoints.js';
import type { EndpointSlice, Service } from '../../../control/sources/types.js';
import { NODE, NOT_READY, SERVING_TERMINATING, endpoint, service, slice } from './fixtures.js';

function firstPort(svc: Service) {
  const port = svc.ports[0];
  if (port === undefined) throw new Error('fixture has no port');
  return port;
}

function hostPorts(svc: Service, slices: EndpointSlice[], portIndex = 0): string[] {
  const port = svc.ports[portIndex];
  if (port === undefined) throw new Error(`no port ${portIndex}`);
  return endpointsForServicePort(svc, port, slices, NODE).map((e) => `${e.ip}:${e.port}`);
}

describe('selecting slices', () => {
  it('takes slices labelled with the service name in the service namespace only', () => {
    const svc = service();
    const slices = [
      slice('web-1', [endpoint('10.0.0.1')]),
      slice('other-1', [endpoint('10.0.0.2')], { serviceName: 'other' }),
      slice('web-x', [endpoint('10.0.0.3')], { namespace: 'elsewhere' }),
    ];
    expect(hostPorts(svc, slices)).toEqual(['10.0.0.1:8080']);
  });

  it('merges the endpoints of every slice of the service', () => {
    const slices = [
      slice('web-b', [endpoint('10.0.0.3'), endpoint('10.0.0.1')]),
      slice('web-a', [endpoint('10.0.0.2')]),
    ];
    expect(hostPorts(service(), slices)).toEqual(['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080']);
  });

  it('no slices → no endpoints', () => {
    expect(hostPorts(service(), [])).toEqual([]);
  });
});

describe('resolving the port through the slice ports (ServicePortName join: name + protocol)', () => {
  const twoPorts = service({
    ports: [
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 'web' },
      { name: 'metrics', protocol: 'TCP', port: 9100, targetPort: 'prom' },
    ],
  });
  const ports = [
    { name: 'http', protocol: 'TCP' as const, port: 8080 },
    { name: 'metrics', protocol: 'TCP' as const, port: 9090 },
  ];

  it('each named service port gets the number its slice port carries', () => {
    const slices = [slice('web-1', [endpoint('10.0.0.1')], { ports })];
    expect(hostPorts(twoPorts, slices, 0)).toEqual(['10.0.0.1:8080']);
    expect(hostPorts(twoPorts, slices, 1)).toEqual(['10.0.0.1:9090']);
  });

  it('a slice lacking the port name contributes nothing to that port', () => {
    const slices = [
      slice('web-1', [endpoint('10.0.0.1')], { ports }),
      slice('web-2', [endpoint('10.0.0.2')], { ports: [{ name: 'http', protocol: 'TCP', port: 8080 }] }),
    ];
    expect(hostPorts(twoPorts, slices, 0)).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
    expect(hostPorts(twoPorts, slices, 1)).toEqual(['10.0.0.1:9090']);
  });

  it('a named targetPort resolving differently per pod: each slice gives its own number', () => {
    const slices = [
      slice('web-1', [endpoint('10.0.0.1')], { ports: [{ name: 'http', protocol: 'TCP', port: 8080 }] }),
      slice('web-2', [endpoint('10.0.0.2')], { ports: [{ name: 'http', protocol: 'TCP', port: 8081 }] }),
    ];
    expect(hostPorts(twoPorts, slices, 0)).toEqual(['10.0.0.1:8080', '10.0.0.2:8081']);
  });

  it('the slice port wins over a numeric service targetPort (kube-proxy never reads targetPort)', () => {
    const svc = service({ ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }] });
    const slices = [slice('web-1', [endpoint('10.0.0.1')], { ports: [{ name: 'http', protocol: 'TCP', port: 8443 }] })];
    expect(hostPorts(svc, slices)).toEqual(['10.0.0.1:8443']);
  });

  it('same name but another protocol does not match', () => {
    const svc = service({ ports: [{ name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 }] });
    const slices = [slice('dns-1', [endpoint('10.0.0.1')], { ports: [{ name: 'dns', protocol: 'TCP', port: 53 }] })];
    expect(hostPorts(svc, slices)).toEqual([]);
  });

  it('an unnamed service port matches the unnamed slice port', () => {
    const svc = service({ ports: [{ name: '', protocol: 'TCP', port: 80, targetPort: 8080 }] });
    const slices = [slice('web-1', [endpoint('10.0.0.1')], { ports: [{ name: '', protocol: 'TCP', port: 8080 }] })];
    expect(hostPorts(svc, slices)).toEqual(['10.0.0.1:8080']);
  });

  it('the same IP on two port numbers (slices mid-rollout) is two endpoints, keyed by ip:port', () => {
    const slices = [
      slice('web-1', [endpoint('10.0.0.1')], { ports: [{ name: 'http', protocol: 'TCP', port: 8080 }] }),
      slice('web-2', [endpoint('10.0.0.1')], { ports: [{ name: 'http', protocol: 'TCP', port: 8081 }] }),
    ];
    expect(hostPorts(service(), slices)).toEqual(['10.0.0.1:8080', '10.0.0.1:8081']);
  });
});

describe('deduplicating an ip:port seen more than once', () => {
  const merged = (slices: EndpointSlice[]) => endpointsForServicePort(service(), firstPort(service()), slices, NODE);

  it('a non-terminating entry replaces a terminating one (new pod reusing the IP wins)', () => {
    const slices = [
      slice('web-a', [endpoint('10.0.0.1', { ...SERVING_TERMINATING, nodeName: 'old' })]),
      slice('web-b', [endpoint('10.0.0.1', { nodeName: 'new' })]),
    ];
    expect(merged(slices)).toMatchObject([{ ip: '10.0.0.1', ready: true, terminating: false, nodeName: 'new' }]);
  });

  it('a terminating entry never replaces an earlier one', () => {
    const slices = [
      slice('web-a', [endpoint('10.0.0.1', { nodeName: 'new' })]),
      slice('web-b', [endpoint('10.0.0.1', { ...SERVING_TERMINATING, nodeName: 'old' })]),
    ];
    expect(merged(slices)).toMatchObject([{ ip: '10.0.0.1', ready: true, nodeName: 'new' }]);
  });

  it('two terminating entries: the first (by slice name) stays', () => {
    const slices = [
      slice('web-b', [endpoint('10.0.0.1', { ...SERVING_TERMINATING, nodeName: 'second' })]),
      slice('web-a', [endpoint('10.0.0.1', { ...SERVING_TERMINATING, nodeName: 'first' })]),
    ];
    expect(merged(slices)).toMatchObject([{ nodeName: 'first' }]);
  });

  it('two non-terminating entries: the later slice by name wins, whatever the input order', () => {
    const a = slice('web-a', [endpoint('10.0.0.1', { nodeName: 'from-a' })]);
    const b = slice('web-b', [endpoint('10.0.0.1', { ...NOT_READY, nodeName: 'from-b' })]);
    expect(merged([a, b])).toMatchObject([{ nodeName: 'from-b', ready: false }]);
    expect(merged([b, a])).toMatchObject([{ nodeName: 'from-b', ready: false }]);
  });

  it('duplicates within one slice follow the same rule', () => {
    const slices = [slice('web-a', [endpoint('10.0.0.1', SERVING_TERMINATING), endpoint('10.0.0.1')])];
    expect(merged(slices)).toMatchObject([{ terminating: false }]);
  });

  it('IPv6 spellings of one address are one endpoint (kube-proxy reprints the parsed IP)', () => {
    const svc = service({ clusterIPs: ['fd00:96::10'] });
    const slices = [
      slice('web-a', [endpoint('FD00:0:0::1')], { addressType: 'IPv6' }),
      slice('web-b', [endpoint('fd00::1')], { addressType: 'IPv6' }),
    ];
    expect(endpointsForServicePort(svc, firstPort(svc), slices, NODE).map((e) => e.ip)).toEqual(['fd00::1']);
  });
});

describe('the endpoint state', () => {
  it('copies conditions, node, zone and hints; only the first address is used', () => {
    const slices = [
      slice('web-a', [
        endpoint('10.0.0.1', {
          addresses: ['10.0.0.1', '10.0.0.99'],
          ...SERVING_TERMINATING,
          nodeName: 'node-b',
          zone: 'zone-b',
          hints: { forZones: ['zone-b', 'zone-b'], forNodes: ['node-b'] },
        }),
      ]),
    ];
    expect(endpointsForServicePort(service(), firstPort(service()), slices, NODE)).toEqual([
      {
        ip: '10.0.0.1',
        port: 8080,
        family: 'IPv4',
        ready: false,
        serving: true,
        terminating: true,
        nodeName: 'node-b',
        zone: 'zone-b',
        isLocal: false,
        zoneHints: ['zone-b'],
        nodeHints: ['node-b'],
      },
    ]);
  });

  it('an endpoint without addresses is skipped', () => {
    expect(
      hostPorts(service(), [slice('web-a', [endpoint('10.0.0.1', { addresses: [] }), endpoint('10.0.0.2')])]),
    ).toEqual(['10.0.0.2:8080']);
  });

  it('isLocal: nodeName equals this node; absent nodeName is remote', () => {
    const slices = [
      slice('web-a', [
        endpoint('10.0.0.1', { nodeName: 'node-a' }),
        endpoint('10.0.0.2', { nodeName: 'node-b' }),
        endpoint('10.0.0.3', { nodeName: undefined }),
      ]),
    ];
    const eps = endpointsForServicePort(service(), firstPort(service()), slices, NODE);
    expect(eps.map((e) => [e.ip, e.isLocal])).toEqual([
      ['10.0.0.1', true],
      ['10.0.0.2', false],
      ['10.0.0.3', false],
    ]);
    expect(eps[2]?.nodeName).toBeUndefined();
  });

  it('isLocal is never true when our own node name is unknown ("")', () => {
    const slices = [slice('web-a', [endpoint('10.0.0.1', { nodeName: '' })])];
    const eps = endpointsForServicePort(service(), firstPort(service()), slices, { nodeName: '' });
    expect(eps[0]?.isLocal).toBe(false);
  });

  it('sorted by address then port', () => {
    const slices = [
      slice('web-a', [endpoint('10.0.0.2'), endpoint('10.0.0.1')], {
        ports: [{ name: 'http', protocol: 'TCP', port: 9000 }],
      }),
      slice('web-b', [endpoint('10.0.0.1')], { ports: [{ name: 'http', protocol: 'TCP', port: 8000 }] }),
    ];
    expect(hostPorts(service(), slices)).toEqual(['10.0.0.1:8000', '10.0.0.1:9000', '10.0.0.2:9000']);
  });
});

describe('address families', () => {
  const v4 = slice('web-v4', [endpoint('10.0.0.1')]);
  const v6 = slice('web-v6', [endpoint('fd00::1')], { addressType: 'IPv6' });

  it('dual-stack service: both families kept and tagged', () => {
    const svc = service({ clusterIPs: ['10.96.0.10', 'fd00:96::10'] });
    const eps = endpointsForServicePort(svc, firstPort(svc), [v6, v4], NODE);
    expect(eps.map((e) => [e.ip, e.family])).toEqual([
      ['10.0.0.1', 'IPv4'],
      ['fd00::1', 'IPv6'],
    ]);
  });

  it('IPv4-only service: the IPv6 slice is ignored (no IPv6 proxier has the service)', () => {
    expect(hostPorts(service(), [v4, v6])).toEqual(['10.0.0.1:8080']);
  });

  it('IPv6-only service: the IPv4 slice is ignored', () => {
    const svc = service({ clusterIPs: ['fd00:96::10'] });
    expect(endpointsForServicePort(svc, firstPort(svc), [v4, v6], NODE).map((e) => e.ip)).toEqual(['fd00::1']);
  });
});
