// buildServicePorts and shouldProxy against kube-proxy's service handling:
// ShouldSkipService, ServicePortName, ExternallyAccessible, NeedsHealthCheck
// and the informer label selectors of cmd/kube-proxy.
import { describe, expect, it } from 'vitest';
import {
  buildServicePorts,
  isExternallyAccessible,
  servicePortName,
  shouldProxy,
} from '../../../control/model/service-port.js';
import type { Service } from '../../../control/sources/types.js';
import { NODE, SERVING_TERMINATING, asText, endpoint, service, slice } from './fixtures.js';

/** buildServicePorts with the categorized lists as "ip:port" text. */
const build = (...args: Parameters<typeof buildServicePorts>) => buildServicePorts(...args).map(asText);

function only<T>(items: T[]): T {
  expect(items).toHaveLength(1);
  return items[0] as T;
}

describe('shouldProxy: the service-proxy-name and headless selectors', () => {
  // [label value (undefined = no label), our configured name, served?, why]
  const table: [string | undefined, string, boolean, string][] = [
    [undefined, '', true, 'unlabelled services are the default proxy’s'],
    ['other-proxy', '', false, 'labelled for another proxy'],
    ['', '', false, 'the label counts as set even when its value is empty (DoesNotExist selector)'],
    ['switchyard', 'switchyard', true, 'labelled with our own name'],
    ['other-proxy', 'switchyard', false, 'labelled with another name'],
    [undefined, 'switchyard', false, 'unlabelled services belong to the default proxy, not to a named one'],
  ];

  it.each(table)('label %j, configured %j → %s (%s)', (label, ours, served) => {
    const svc = label === undefined ? service() : service({ serviceProxyName: label });
    expect(shouldProxy(svc, ours)).toBe(served);
  });

  it('headless services are never proxied', () => {
    expect(shouldProxy(service({ headless: true, clusterIPs: [] }), '')).toBe(false);
  });
});

describe('services kube-proxy skips (ShouldSkipService)', () => {
  const slices = [slice('web-1', [endpoint('10.0.0.1')])];

  it.each([
    ['ExternalName', { type: 'ExternalName', clusterIPs: [] }],
    ['ExternalName even with a ClusterIP', { type: 'ExternalName', clusterIPs: ['10.96.0.10'] }],
    ['headless (clusterIP None)', { headless: true, clusterIPs: [] }],
    ['no ClusterIP', { clusterIPs: [] }],
  ] as [string, Partial<Service>][])('%s → no service ports', (_, overrides) => {
    expect(build(service(overrides), slices, NODE)).toEqual([]);
  });
});

describe('ServicePortName', () => {
  it('is namespace/name:portName/protocol', () => {
    expect(servicePortName('kube-system', 'kube-dns', 'dns-tcp', 'TCP')).toBe('kube-system/kube-dns:dns-tcp/TCP');
  });

  it('omits ":" for an unnamed port, as kube-proxy’s fmtPortName does', () => {
    expect(servicePortName('ns', 'web', '', 'UDP')).toBe('ns/web/UDP');
  });
});

describe('externallyAccessible (kube-proxy: node port, LB VIP or external IP exists)', () => {
  const port = { name: 'http', protocol: 'TCP' as const, port: 80, targetPort: 8080 };

  it.each([
    ['ClusterIP', service(), port, false],
    ['NodePort with a node port', service({ type: 'NodePort' }), { ...port, nodePort: 30080 }, true],
    ['ClusterIP with externalIPs', service({ externalIPs: ['192.0.2.10'] }), port, true],
    [
      'LoadBalancer with an ingress IP, no node ports allocated',
      service({ type: 'LoadBalancer', loadBalancerIPs: ['198.51.100.1'] }),
      port,
      true,
    ],
    ['LoadBalancer with neither node port nor ingress IP yet', service({ type: 'LoadBalancer' }), port, false],
  ] as const)('%s → %s', (_, svc, p, expected) => {
    expect(isExternallyAccessible(svc, p)).toBe(expected);
  });
});

describe('buildServicePorts', () => {
  it('one state per service port, each with its own resolved target port', () => {
    const svc = service({
      ports: [
        { name: 'http', protocol: 'TCP', port: 80, targetPort: 'web' },
        { name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353 },
      ],
    });
    const slices = [
      slice('web-1', [endpoint('10.0.0.1')], {
        ports: [
          { name: 'http', protocol: 'TCP', port: 8080 },
          { name: 'dns', protocol: 'UDP', port: 5353 },
        ],
      }),
    ];
    const states = build(svc, slices, NODE);
    expect(states.map((s) => [s.name, s.port, s.clusterEndpoints])).toEqual([
      ['ns/web:http/TCP', 80, ['10.0.0.1:8080']],
      ['ns/web:dns/UDP', 53, ['10.0.0.1:5353']],
    ]);
  });

  it('a plain ClusterIP service: cluster path only, no external fields', () => {
    const state = only(
      build(service(), [slice('web-1', [endpoint('10.0.0.1'), endpoint('10.0.0.2', { nodeName: 'node-a' })])], NODE),
    );
    expect(state).toEqual({
      name: 'ns/web:http/TCP',
      namespace: 'ns',
      service: 'web',
      portName: 'http',
      protocol: 'TCP',
      type: 'ClusterIP',
      clusterIPs: ['10.96.0.10'],
      port: 80,
      externalIPs: [],
      loadBalancerIPs: [],
      loadBalancerSourceRanges: [],
      internalTrafficPolicy: 'Cluster',
      externalTrafficPolicy: 'Cluster',
      externallyAccessible: false,
      endpoints: [
        expect.objectContaining({ ip: '10.0.0.1', isLocal: false }),
        expect.objectContaining({ ip: '10.0.0.2', isLocal: true }),
      ],
      clusterEndpoints: ['10.0.0.1:8080', '10.0.0.2:8080'],
      localEndpoints: null,
      hasAnyEndpoints: true,
      topologyMode: '',
    });
  });

  it('ClientIP session affinity timeout passes through; absent for None', () => {
    expect(only(build(service({ affinityTimeoutSeconds: 10800 }), [], NODE)).affinityTimeoutSeconds).toBe(10800);
    expect(only(build(service(), [], NODE))).not.toHaveProperty('affinityTimeoutSeconds');
  });

  it('NodePort with etp Local: both paths, node port kept, no health check port (not a LoadBalancer)', () => {
    const svc = service({
      type: 'NodePort',
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: 32000,
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }],
    });
    const slices = [slice('web-1', [endpoint('10.0.0.1', { nodeName: 'node-a' }), endpoint('10.0.0.2')])];
    const state = only(build(svc, slices, NODE));
    expect(state).toMatchObject({
      nodePort: 30080,
      externallyAccessible: true,
      clusterEndpoints: ['10.0.0.1:8080', '10.0.0.2:8080'],
      localEndpoints: ['10.0.0.1:8080'],
    });
    expect(state).not.toHaveProperty('healthCheckNodePort');
  });

  it('LoadBalancer with etp Local keeps its health check node port (NeedsHealthCheck)', () => {
    const svc = service({
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: 32000,
      loadBalancerIPs: ['198.51.100.1'],
      loadBalancerSourceRanges: ['203.0.113.0/24'],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }],
    });
    expect(only(build(svc, [], NODE))).toMatchObject({
      healthCheckNodePort: 32000,
      loadBalancerIPs: ['198.51.100.1'],
      loadBalancerSourceRanges: ['203.0.113.0/24'],
      clusterEndpoints: [],
      localEndpoints: [],
      hasAnyEndpoints: false,
    });
  });

  it('itp Local on an internal-only service: local path only', () => {
    const svc = service({ internalTrafficPolicy: 'Local' });
    const slices = [slice('web-1', [endpoint('10.0.0.1', { nodeName: 'node-a' }), endpoint('10.0.0.2')])];
    expect(only(build(svc, slices, NODE))).toMatchObject({
      clusterEndpoints: null,
      localEndpoints: ['10.0.0.1:8080'],
      hasAnyEndpoints: true,
    });
  });

  it('etp Local ignored when nothing external reaches the port', () => {
    const svc = service({ externalTrafficPolicy: 'Local' });
    const state = only(build(svc, [slice('web-1', [endpoint('10.0.0.1')])], NODE));
    expect(state).toMatchObject({ clusterEndpoints: ['10.0.0.1:8080'], localEndpoints: null });
  });

  it('zone hints from the slices filter the cluster path', () => {
    const slices = [
      slice('web-1', [
        endpoint('10.0.0.1', { hints: { forZones: ['zone-a'], forNodes: [] } }),
        endpoint('10.0.0.2', { hints: { forZones: ['zone-b'], forNodes: [] } }),
      ]),
    ];
    expect(only(build(service(), slices, NODE))).toMatchObject({
      topologyMode: 'PreferSameZone',
      clusterEndpoints: ['10.0.0.1:8080'],
    });
  });

  it('all endpoints terminating: falls back to the serving ones', () => {
    const slices = [slice('web-1', [endpoint('10.0.0.1', SERVING_TERMINATING)])];
    expect(only(build(service(), slices, NODE))).toMatchObject({
      clusterEndpoints: ['10.0.0.1:8080'],
      hasAnyEndpoints: true,
    });
  });

  it('dual-stack: both ClusterIPs and both families of endpoints', () => {
    const svc = service({ clusterIPs: ['10.96.0.10', 'fd00:96::10'] });
    const slices = [
      slice('web-v4', [endpoint('10.0.0.1')]),
      slice('web-v6', [endpoint('fd00::1')], { addressType: 'IPv6' }),
    ];
    const state = only(build(svc, slices, NODE));
    expect(state.clusterIPs).toEqual(['10.96.0.10', 'fd00:96::10']);
    expect(state.endpoints.map((e) => e.family)).toEqual(['IPv4', 'IPv6']);
    expect(state.clusterEndpoints).toEqual(['10.0.0.1:8080', '[fd00::1]:8080']);
  });

  it('slices of other services are ignored', () => {
    const slices = [slice('api-1', [endpoint('10.0.0.9')], { serviceName: 'api' })];
    expect(only(build(service(), slices, NODE))).toMatchObject({
      endpoints: [],
      clusterEndpoints: [],
      hasAnyEndpoints: false,
    });
  });

  it('does not share arrays with the input service', () => {
    const svc = service({ externalIPs: ['192.0.2.10'] });
    const state = only(build(svc, [], NODE));
    state.externalIPs.push('192.0.2.11');
    state.clusterIPs.push('10.96.0.11');
    expect(svc.externalIPs).toEqual(['192.0.2.10']);
    expect(svc.clusterIPs).toEqual(['10.96.0.10']);
  });
});
