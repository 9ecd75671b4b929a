// Raw Kubernetes objects into slim ones: the API server's defaults, and the
// bad-input policy (unusable object → ObjectError; bad part → dropped with a
// warning naming its field path).
import { describe, expect, it } from 'vitest';
import {
  MAX_SLICE_ENDPOINTS,
  ObjectError,
  slimEndpointSlice,
  slimNode,
  slimObject,
  slimService,
} from '../../../control/sources/slim.js';

type Obj = Record<string, unknown>;

function service(spec: Obj, metadata: Obj = {}, extra: Obj = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'shop', ...metadata },
    spec,
    ...extra,
  };
}

function slice(fields: Obj, labels: Obj = { 'kubernetes.io/service-name': 'web' }): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'web-abc12', namespace: 'shop', labels },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080 }],
    endpoints: [],
    ...fields,
  };
}

/** The ObjectError `fn` throws. */
function objectError(fn: () => unknown): ObjectError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ObjectError) return err;
    throw err;
  }
  throw new Error('no ObjectError thrown');
}

describe('slimService: defaults', () => {
  it('fills in what the API server would', () => {
    const { value, warnings } = slimService(service({ clusterIP: '10.96.0.10', ports: [{ port: 80 }] }));
    expect(warnings).toEqual([]);
    expect(value).toEqual({
      namespace: 'shop',
      name: 'web',
      type: 'ClusterIP',
      clusterIPs: ['10.96.0.10'],
      headless: false,
      ports: [{ name: '', protocol: 'TCP', port: 80, targetPort: 80 }],
      externalIPs: [],
      loadBalancerIPs: [],
      loadBalancerSourceRanges: [],
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
    });
  });

  it('puts a manifest without a namespace in "default" and accepts list items without kind', () => {
    const raw = { metadata: { name: 'web' }, spec: { clusterIP: '10.96.0.10', ports: [{ port: 80 }] } };
    expect(slimService(raw).value.namespace).toBe('default');
  });

  it('reads dual-stack clusterIPs, and clusterIP when clusterIPs is absent', () => {
    const dual = slimService(
      service({ clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00::10'], ports: [{ port: 80 }] }),
    );
    expect(dual.value.clusterIPs).toEqual(['10.96.0.10', 'fd00::10']);
    expect(dual.warnings).toEqual([]);
    const v6 = slimService(service({ clusterIP: 'fd00::10', ports: [{ port: 80 }] }));
    expect(v6.value.clusterIPs).toEqual(['fd00::10']);
  });

  it('keeps one cluster IP per family and says which were dropped', () => {
    const { value, warnings } = slimService(
      service({ clusterIPs: ['10.96.0.10', '10.96.0.11', 'bogus'], ports: [{ port: 80 }] }),
    );
    expect(value.clusterIPs).toEqual(['10.96.0.10']);
    expect(warnings).toEqual([
      'spec.clusterIPs[1]: a second IPv4 cluster IP; ignored',
      'spec.clusterIPs[2]: "bogus" is not an IP address',
    ]);
  });

  it('marks clusterIP "None" headless, which needs no ports', () => {
    const { value } = slimService(service({ clusterIP: 'None' }));
    expect(value).toMatchObject({ headless: true, clusterIPs: [], ports: [] });
  });

  it('gives an ExternalName service no cluster IPs and needs no ports', () => {
    const { value } = slimService(service({ type: 'ExternalName', externalName: 'db.example.com' }));
    expect(value).toMatchObject({ type: 'ExternalName', clusterIPs: [], headless: false, ports: [] });
  });

  it('keeps a named targetPort and defaults targetPort 0 or "" to the port', () => {
    const { value, warnings } = slimService(
      service({
        clusterIP: '10.96.0.10',
        ports: [
          { name: 'http', port: 80, targetPort: 'http-alt' },
          { name: 'a', port: 81, targetPort: 0 },
          { name: 'b', port: 82, targetPort: '' },
          { name: 'c', port: 83, targetPort: 9090, protocol: 'UDP' },
        ],
      }),
    );
    expect(warnings).toEqual([]);
    expect(value.ports.map((p) => [p.name, p.protocol, p.port, p.targetPort])).toEqual([
      ['http', 'TCP', 80, 'http-alt'],
      ['a', 'TCP', 81, 81],
      ['b', 'TCP', 82, 82],
      ['c', 'UDP', 83, 9090],
    ]);
  });

  it('defaults ClientIP affinity to 10800 s and leaves it undefined for None', () => {
    const base = { clusterIP: '10.96.0.10', ports: [{ port: 80 }] };
    expect(slimService(service({ ...base, sessionAffinity: 'ClientIP' })).value.affinityTimeoutSeconds).toBe(10800);
    const custom = {
      ...base,
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
    };
    expect(slimService(service(custom)).value.affinityTimeoutSeconds).toBe(60);
    expect(slimService(service({ ...base, sessionAffinity: 'None' })).value.affinityTimeoutSeconds).toBeUndefined();
  });

  it('reads NodePort and LoadBalancer fields', () => {
    const { value, warnings } = slimService(
      service(
        {
          type: 'LoadBalancer',
          clusterIP: '10.96.0.10',
          ports: [{ port: 80, nodePort: 30080 }],
          externalTrafficPolicy: 'Local',
          internalTrafficPolicy: 'Local',
          healthCheckNodePort: 32000,
          loadBalancerSourceRanges: [' 192.0.2.0/24', '2001:db8::/32'],
          externalIPs: ['198.51.100.1'],
          trafficDistribution: 'PreferClose',
        },
        { labels: { 'service.kubernetes.io/service-proxy-name': 'switchyard' } },
        {
          status: {
            loadBalancer: {
              ingress: [
                { ip: '203.0.113.1' },
                { hostname: 'lb.example.com' },
                { ip: '203.0.113.2', ipMode: 'Proxy' },
                { ip: '203.0.113.3', ipMode: 'VIP' },
              ],
            },
          },
        },
      ),
    );
    expect(warnings).toEqual([]);
    expect(value).toMatchObject({
      type: 'LoadBalancer',
      ports: [{ port: 80, nodePort: 30080 }],
      externalTrafficPolicy: 'Local',
      internalTrafficPolicy: 'Local',
      healthCheckNodePort: 32000,
      loadBalancerSourceRanges: ['192.0.2.0/24', '2001:db8::/32'],
      loadBalancerIPs: ['203.0.113.1', '203.0.113.3'],
      externalIPs: ['198.51.100.1'],
      trafficDistribution: 'PreferClose',
      serviceProxyName: 'switchyard',
    });
  });

  it('reads source ranges from the annotation when the field is empty', () => {
    const { value } = slimService(
      service(
        { type: 'LoadBalancer', clusterIP: '10.96.0.10', ports: [{ port: 80 }] },
        { annotations: { 'service.beta.kubernetes.io/load-balancer-source-ranges': '192.0.2.0/24, 198.51.100.0/24' } },
      ),
    );
    expect(value.loadBalancerSourceRanges).toEqual(['192.0.2.0/24', '198.51.100.0/24']);
  });
});

describe('slimService: bad parts are dropped with a warning', () => {
  const ok = { clusterIP: '10.96.0.10' };

  it.each([
    [
      'protocol FOO',
      { name: 'x', port: 81, protocol: 'FOO' },
      'spec.ports[1].protocol: "FOO" is not TCP, UDP or SCTP; port dropped',
    ],
    ['port 70000', { name: 'x', port: 70000 }, 'spec.ports[1].port: 70000 is not a port (1-65535); port dropped'],
    ['a quoted port', { name: 'x', port: '81' }, 'spec.ports[1].port: "81" is not a port (1-65535); port dropped'],
    [
      'targetPort 70000',
      { name: 'x', port: 81, targetPort: 70000 },
      'spec.ports[1].targetPort: 70000 is neither a port (1-65535) nor a port name; port dropped',
    ],
    [
      'a numeric targetPort string',
      { name: 'x', port: 81, targetPort: '8080' },
      'spec.ports[1].targetPort: "8080" is neither a port (1-65535) nor a port name; port dropped',
    ],
    [
      'a 16-character targetPort name',
      { name: 'x', port: 81, targetPort: 'abcdefghijklmnop' },
      'spec.ports[1].targetPort: "abcdefghijklmnop" is neither a port (1-65535) nor a port name; port dropped',
    ],
    [
      'an upper-case port name',
      { name: 'HTTP', port: 81 },
      'spec.ports[1].name: "HTTP" is not a valid port name; port dropped',
    ],
    [
      'a duplicate name',
      { name: 'http', port: 81 },
      'spec.ports[1].name: "http" is used by an earlier port; port dropped',
    ],
    [
      'a duplicate port',
      { name: 'x', port: 80 },
      'spec.ports[1].port: 80/TCP is used by an earlier port; port dropped',
    ],
  ])('%s', (_, bad, warning) => {
    const { value, warnings } = slimService(service({ ...ok, ports: [{ name: 'http', port: 80 }, bad] }));
    expect(value.ports.map((p) => p.name)).toEqual(['http']);
    expect(warnings).toEqual([warning]);
  });

  it('keeps 80/UDP next to 80/TCP', () => {
    const { value } = slimService(
      service({
        ...ok,
        ports: [
          { name: 'tcp', port: 53 },
          { name: 'udp', port: 53, protocol: 'UDP' },
        ],
      }),
    );
    expect(value.ports).toHaveLength(2);
  });

  it('drops invalid externalIPs, ingress IPs and source ranges', () => {
    const { value, warnings } = slimService(
      service(
        {
          ...ok,
          type: 'LoadBalancer',
          ports: [{ port: 80 }],
          externalIPs: ['198.51.100.1', '300.1.1.1', 'fe80::1%eth0', 7],
          loadBalancerSourceRanges: ['192.0.2.0/33', '192.0.2.0/24'],
        },
        {},
        { status: { loadBalancer: { ingress: [{ ip: 'nope' }] } } },
      ),
    );
    expect(value.externalIPs).toEqual(['198.51.100.1']);
    expect(value.loadBalancerSourceRanges).toEqual(['192.0.2.0/24']);
    expect(value.loadBalancerIPs).toEqual([]);
    expect(warnings).toEqual([
      'spec.externalIPs[1]: "300.1.1.1" is not an IP address',
      'spec.externalIPs[2]: "fe80::1%eth0" is not an IP address',
      'spec.externalIPs[3]: 7 is not an IP address',
      'status.loadBalancer.ingress[0].ip: "nope" is not an IP address',
      'spec.loadBalancerSourceRanges[0]: "192.0.2.0/33" is not a CIDR',
    ]);
  });

  it('ignores node-port fields where the type has none', () => {
    const { value, warnings } = slimService(
      service({
        ...ok,
        ports: [{ port: 80, nodePort: 30080 }],
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 32000,
      }),
    );
    expect(value.ports[0]?.nodePort).toBeUndefined();
    expect(value.externalTrafficPolicy).toBe('Cluster');
    expect(value.healthCheckNodePort).toBeUndefined();
    expect(warnings).toEqual([
      'spec.ports[0].nodePort: ignored: type ClusterIP has no node ports',
      'spec.externalTrafficPolicy: ignored: only NodePort and LoadBalancer services have one, not ClusterIP',
      'spec.healthCheckNodePort: ignored: only a LoadBalancer service with externalTrafficPolicy Local has one',
    ]);
  });

  it('falls back to defaults for bad enums and affinity timeouts', () => {
    const { value, warnings } = slimService(
      service({
        ...ok,
        ports: [{ port: 80 }],
        internalTrafficPolicy: 'Nearby',
        sessionAffinity: 'ClientIP',
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } },
      }),
    );
    expect(value).toMatchObject({ internalTrafficPolicy: 'Cluster', affinityTimeoutSeconds: 10800 });
    expect(warnings).toEqual([
      'spec.internalTrafficPolicy: "Nearby" is not one of Cluster, Local; using Cluster',
      'spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 is not 1-86400; using 10800',
    ]);
  });

  it('warns about a service without a cluster IP (nothing allocates one in standalone mode)', () => {
    const { value, warnings } = slimService(service({ ports: [{ port: 80 }] }));
    expect(value.clusterIPs).toEqual([]);
    expect(warnings).toEqual(['spec.clusterIP: not set; the service has no virtual IP']);
  });
});

describe('slimService: unusable objects throw ObjectError', () => {
  it('lists every problem with its field path when no port is valid', () => {
    const e = objectError(() =>
      slimService(
        service({
          clusterIP: '10.96.0.10',
          ports: [
            { name: 'a', port: 0 },
            { name: 'b', port: 70000 },
          ],
        }),
      ),
    );
    expect(e).toMatchObject({ code: 'ERR_SOURCE_OBJECT', kind: 'Service', namespace: 'shop', name: 'web' });
    expect(e.problems).toEqual([
      'spec.ports[0].port: 0 is not a port (1-65535); port dropped',
      'spec.ports[1].port: 70000 is not a port (1-65535); port dropped',
      'spec.ports: no valid port',
    ]);
    expect(e.message).toBe(`Service shop/web: ${e.problems.join('; ')}`);
  });

  it.each([
    ['not an object', 'hello', 'not an object: "hello"'],
    [
      'no name',
      { apiVersion: 'v1', kind: 'Service', metadata: {}, spec: { ports: [{ port: 80 }] } },
      'metadata.name: missing',
    ],
    [
      'an invalid name',
      service({ ports: [{ port: 80 }] }, { name: 'Web_1' }),
      'metadata.name: "Web_1" is not a valid Service name',
    ],
    [
      'an invalid namespace',
      service({ ports: [{ port: 80 }] }, { namespace: 'Shop!' }),
      'metadata.namespace: "Shop!" is not a valid namespace',
    ],
    ['a wrong kind', { ...service({ ports: [{ port: 80 }] }), kind: 'Pod' }, 'kind: "Pod" is not Service'],
    ['a wrong apiVersion', { ...service({ ports: [{ port: 80 }] }), apiVersion: 'v2' }, 'apiVersion: "v2" is not v1'],
    [
      'an unknown type',
      service({ type: 'Magic', ports: [{ port: 80 }] }),
      'spec.type: "Magic" is not one of ClusterIP, NodePort, LoadBalancer, ExternalName',
    ],
    ['no ports', service({ clusterIP: '10.96.0.10' }), 'spec.ports: at least one port is required'],
    ['ports not a list', service({ clusterIP: '10.96.0.10', ports: { port: 80 } }), 'spec.ports: not a list'],
  ])('%s', (_, raw, problem) => {
    expect(objectError(() => slimService(raw)).problems).toContain(problem);
  });
});

describe('slimEndpointSlice', () => {
  it('defaults conditions, port name and protocol, and reads the service name label', () => {
    const { value, warnings } = slimEndpointSlice(
      slice({
        ports: [{ port: 8080 }],
        endpoints: [
          { addresses: ['10.0.0.1'], nodeName: 'node-a', zone: 'z1' },
          { addresses: ['10.0.0.2'], conditions: { ready: false } },
          { addresses: ['10.0.0.3'], conditions: { ready: false, serving: true, terminating: true } },
        ],
      }),
    );
    expect(warnings).toEqual([]);
    expect(value).toEqual({
      namespace: 'shop',
      name: 'web-abc12',
      serviceName: 'web',
      addressType: 'IPv4',
      ports: [{ name: '', protocol: 'TCP', port: 8080 }],
      endpoints: [
        { addresses: ['10.0.0.1'], ready: true, serving: true, terminating: false, nodeName: 'node-a', zone: 'z1' },
        { addresses: ['10.0.0.2'], ready: false, serving: false, terminating: false },
        { addresses: ['10.0.0.3'], ready: false, serving: true, terminating: true },
      ],
    });
  });

  it('reads hints', () => {
    const { value } = slimEndpointSlice(
      slice({
        endpoints: [
          {
            addresses: ['10.0.0.1'],
            hints: { forZones: [{ name: 'z1' }, { name: 'z2' }], forNodes: [{ name: 'node-a' }] },
          },
        ],
      }),
    );
    expect(value.endpoints[0]?.hints).toEqual({ forZones: ['z1', 'z2'], forNodes: ['node-a'] });
  });

  it('reads "endpoints: null" (how the API server writes an empty slice) as no endpoints', () => {
    expect(slimEndpointSlice(slice({ endpoints: null })).value.endpoints).toEqual([]);
  });

  it('drops addresses of the wrong family and endpoints left without one', () => {
    const { value, warnings } = slimEndpointSlice(
      slice({
        addressType: 'IPv6',
        endpoints: [
          { addresses: ['fd00::1', '10.0.0.1'] },
          { addresses: ['10.0.0.2'] },
          { addresses: [] },
          { addresses: ['fd00::3'], conditions: { ready: 'yes' } },
        ],
      }),
    );
    expect(value.endpoints.map((e) => e.addresses)).toEqual([['fd00::1'], ['fd00::3']]);
    expect(value.endpoints[1]?.ready).toBe(true);
    expect(warnings).toEqual([
      'endpoints[0].addresses[1]: "10.0.0.1" is not an IPv6 address',
      'endpoints[1].addresses[0]: "10.0.0.2" is not an IPv6 address',
      'endpoints[1]: no valid address; endpoint dropped',
      'endpoints[2]: no valid address; endpoint dropped',
      'endpoints[3].conditions.ready: "yes" is not a boolean; using true',
    ]);
  });

  it('drops bad ports', () => {
    const { value, warnings } = slimEndpointSlice(
      slice({
        ports: [
          { name: 'http', port: 8080 },
          { name: 'all' },
          { name: 'x', port: 1, protocol: 'ICMP' },
          { name: 'http', port: 9090 },
        ],
      }),
    );
    expect(value.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 8080 }]);
    expect(warnings).toEqual([
      'ports[1].port: undefined is not a port (1-65535); port dropped',
      'ports[2].protocol: "ICMP" is not TCP, UDP or SCTP; port dropped',
      'ports[3].name: "http" is used by an earlier port; port dropped',
    ]);
  });

  it('caps the warnings of a very broken slice', () => {
    const endpoints = Array.from({ length: 80 }, () => ({ addresses: ['bad'] }));
    const { warnings } = slimEndpointSlice(slice({ endpoints }));
    expect(warnings).toHaveLength(51);
    expect(warnings.at(-1)).toBe('… and 110 more');
  });

  it.each([
    [
      'no service-name label',
      slice({}, {}),
      'metadata.labels["kubernetes.io/service-name"]: missing; the slice belongs to no service',
    ],
    [
      'addressType FQDN',
      slice({ addressType: 'FQDN' }),
      'addressType: FQDN slices are not proxied (kube-proxy ignores them)',
    ],
    ['no addressType', slice({ addressType: undefined }), 'addressType: undefined is not IPv4 or IPv6'],
    [
      'v1beta1',
      { ...slice({}), apiVersion: 'discovery.k8s.io/v1beta1' },
      'apiVersion: "discovery.k8s.io/v1beta1" is not discovery.k8s.io/v1',
    ],
    [
      '101 ports',
      slice({ ports: Array.from({ length: 101 }, (_, i) => ({ name: `p${i}`, port: i + 1 })) }),
      'ports: 101 ports, more than the 100 the API allows',
    ],
    [
      '1001 endpoints',
      slice({ endpoints: Array.from({ length: 1001 }, () => ({ addresses: ['10.0.0.1'] })) }),
      'endpoints: 1001 endpoints, more than the 1000 the API allows',
    ],
    [
      'an endpoint with 101 addresses',
      slice({ endpoints: [{ addresses: Array.from({ length: 101 }, (_, i) => `10.0.1.${i}`) }] }),
      'endpoints[0].addresses: 101 addresses, more than the 100 the API allows',
    ],
  ])('%s is an ObjectError', (_, raw, problem) => {
    const e = objectError(() => slimEndpointSlice(raw));
    expect(e).toMatchObject({ kind: 'EndpointSlice', namespace: 'shop', name: 'web-abc12' });
    expect(e.problems).toContain(problem);
  });

  it('accepts a slice of exactly the maximum size', () => {
    const endpoints = Array.from({ length: MAX_SLICE_ENDPOINTS }, (_, i) => ({
      addresses: [`10.0.${i >> 8}.${i & 255}`],
    }));
    expect(slimEndpointSlice(slice({ endpoints })).value.endpoints).toHaveLength(MAX_SLICE_ENDPOINTS);
  });
});

describe('slimNode', () => {
  it('reads addresses (InternalIP first), zone, labels and pod CIDRs', () => {
    const { value, warnings } = slimNode({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'z1', role: 'worker' } },
      spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'] },
      status: {
        addresses: [
          { type: 'ExternalIP', address: '203.0.113.5' },
          { type: 'Hostname', address: 'node-a' },
          { type: 'InternalIP', address: '192.168.1.5' },
          { type: 'InternalIP', address: 'not-an-ip' },
        ],
      },
    });
    expect(value).toEqual({
      name: 'node-a',
      zone: 'z1',
      labels: { 'topology.kubernetes.io/zone': 'z1', role: 'worker' },
      addresses: ['192.168.1.5', '203.0.113.5'],
      podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'],
    });
    expect(warnings).toEqual(['status.addresses[3].address: "not-an-ip" is not an IP address']);
  });

  it('falls back to spec.podCIDR', () => {
    const { value, warnings } = slimNode({ kind: 'Node', metadata: { name: 'n' }, spec: { podCIDR: '10.244.0.0/24' } });
    expect(value).toEqual({ name: 'n', labels: {}, addresses: [], podCIDRs: ['10.244.0.0/24'] });
    expect(warnings).toEqual([]);
    expect(slimNode({ kind: 'Node', metadata: { name: 'n' }, spec: { podCIDR: '10.244.0.0' } }).warnings).toEqual([
      'spec.podCIDR: "10.244.0.0" is not a CIDR',
    ]);
  });
});

describe('slimObject', () => {
  it('dispatches on kind', () => {
    expect(slimObject(service({ clusterIP: '10.96.0.10', ports: [{ port: 80 }] })).kind).toBe('Service');
    expect(slimObject(slice({})).kind).toBe('EndpointSlice');
    expect(slimObject({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' } })).toMatchObject({
      kind: 'Node',
      value: { name: 'n' },
    });
  });

  it('refuses other kinds', () => {
    const e = objectError(() => slimObject({ kind: 'Deployment', metadata: { name: 'api', namespace: 'shop' } }));
    expect(e).toMatchObject({ kind: 'Deployment', namespace: 'shop', name: 'api' });
    expect(e.message).toBe('Deployment shop/api: kind: "Deployment" is not Service, EndpointSlice or Node');
    expect(objectError(() => slimObject(null)).problems).toEqual([
      'kind: undefined is not Service, EndpointSlice or Node',
    ]);
  });
});
