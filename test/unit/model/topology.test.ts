// categorizeEndpoints against kube-proxy's pkg/proxy/topology.go semantics.
// Expected values are derived from kube-proxy's rules (quoted in the names),
// several cases are ports of its topology_test.go.
import { describe, expect, it } from 'vitest';
import {
  categorizeEndpoints,
  usesClusterEndpoints,
  usesLocalEndpoints,
  type CategorizeInput,
} from '../../../control/model/topology.js';
import type { EndpointState, NodeContext } from '../../../control/model/types.js';
import { NODE, NOT_READY, NOT_SERVING_TERMINATING, SERVING_TERMINATING, asText, ep } from './fixtures.js';

/** categorizeEndpoints with its lists as "ip:port" text. */
const categorize = (...args: Parameters<typeof categorizeEndpoints>) => asText(categorizeEndpoints(...args));

function policy(
  itp: 'Cluster' | 'Local',
  etp: 'Cluster' | 'Local',
  externallyAccessible: boolean,
  clusterIPs = ['10.96.0.10'],
): CategorizeInput {
  return { clusterIPs, internalTrafficPolicy: itp, externalTrafficPolicy: etp, externallyAccessible };
}

const CLUSTER = policy('Cluster', 'Cluster', false);

describe('which paths a service port uses (serviceport.go)', () => {
  // [itp, etp, externally accessible, uses Cluster, uses Local, why]
  const table = [
    ['Cluster', 'Cluster', false, true, false, 'internal traffic takes the Cluster policy'],
    ['Cluster', 'Cluster', true, true, false, 'all traffic takes the Cluster policy'],
    ['Cluster', 'Local', false, true, false, 'etp is ignored when nothing external reaches the port'],
    ['Cluster', 'Local', true, true, true, 'internal → Cluster, external → Local'],
    ['Local', 'Cluster', false, false, true, 'internal-only with itp Local never uses Cluster'],
    ['Local', 'Cluster', true, true, true, 'external traffic takes the Cluster policy'],
    ['Local', 'Local', false, false, true, 'only Local'],
    ['Local', 'Local', true, true, true, 'Cluster is still needed to short-circuit pod → external IP'],
  ] as const;

  it.each(table)('itp=%s etp=%s external=%s → cluster %s, local %s (%s)', (itp, etp, ext, cluster, local) => {
    expect(usesClusterEndpoints(policy(itp, etp, ext))).toBe(cluster);
    expect(usesLocalEndpoints(policy(itp, etp, ext))).toBe(local);
  });
});

describe('readiness × locality × traffic policy', () => {
  const LR = ep('10.0.0.1', { isLocal: true });
  const RR = ep('10.0.0.2');
  const LST = ep('10.0.0.3', { isLocal: true, ...SERVING_TERMINATING });
  const RST = ep('10.0.0.4', SERVING_TERMINATING);
  const LNST = ep('10.0.0.5', { isLocal: true, ...NOT_SERVING_TERMINATING });
  const RNST = ep('10.0.0.6', NOT_SERVING_TERMINATING);
  const LNR = ep('10.0.0.7', { isLocal: true, ...NOT_READY });
  const RNR = ep('10.0.0.8', NOT_READY);

  // What each path gets when it is used. hasAnyEndpoints does not depend on the
  // policy: the cluster path is non-empty exactly when a ready or
  // serving-terminating endpoint exists, which is what the local pre-scan counts.
  const scenarios: [string, EndpointState[], string[], string[], boolean][] = [
    [
      'ready local and remote: cluster = all ready, local = local ready',
      [LR, RR, LNR, RNR],
      ['10.0.0.1:80', '10.0.0.2:80'],
      ['10.0.0.1:80'],
      true,
    ],
    [
      'ready only remote: local is empty but endpoints exist elsewhere (drop, not reject)',
      [RR, LNR],
      ['10.0.0.2:80'],
      [],
      true,
    ],
    ['ready only local', [LR, RNR], ['10.0.0.1:80'], ['10.0.0.1:80'], true],
    ['local ready preferred over local serving-terminating', [LR, LST, RST], ['10.0.0.1:80'], ['10.0.0.1:80'], true],
    [
      'remote ready, local only serving-terminating: local falls back independently of cluster',
      [RR, LST],
      ['10.0.0.2:80'],
      ['10.0.0.3:80'],
      true,
    ],
    [
      'no ready anywhere: both fall back to serving-terminating',
      [LST, RST, LNR],
      ['10.0.0.3:80', '10.0.0.4:80'],
      ['10.0.0.3:80'],
      true,
    ],
    [
      'no ready, serving-terminating only remote: cluster falls back, local empty',
      [RST, LNST],
      ['10.0.0.4:80'],
      [],
      true,
    ],
    ['only not-serving terminating: nothing usable', [LNST, RNST], [], [], false],
    ['only not-ready (not terminating): nothing usable', [LNR, RNR], [], [], false],
    ['no endpoints: used paths are empty, not null', [], [], [], false],
  ];

  const policies = [
    policy('Cluster', 'Cluster', false),
    policy('Cluster', 'Cluster', true),
    policy('Cluster', 'Local', false),
    policy('Cluster', 'Local', true),
    policy('Local', 'Cluster', false),
    policy('Local', 'Cluster', true),
    policy('Local', 'Local', false),
    policy('Local', 'Local', true),
  ];

  const cases = policies.flatMap((p) =>
    scenarios.map(([name, endpoints, cluster, local, any]) => ({
      title: `itp=${p.internalTrafficPolicy} etp=${p.externalTrafficPolicy} external=${p.externallyAccessible} · ${name}`,
      p,
      endpoints,
      cluster: usesClusterEndpoints(p) ? cluster : null,
      local: usesLocalEndpoints(p) ? local : null,
      any,
    })),
  );

  it.each(cases)('$title', ({ p, endpoints, cluster, local, any }) => {
    expect(categorize(endpoints, p, NODE)).toEqual({
      clusterEndpoints: cluster,
      localEndpoints: local,
      hasAnyEndpoints: any,
      topologyMode: '',
    });
  });
});

describe('topology hints', () => {
  const zoned = (ip: string, zones: string[], extra: Partial<EndpointState> = {}) =>
    ep(ip, { zoneHints: zones, ...extra });

  it('PreferSameZone: every ready endpoint hinted, some for our zone → only those', () => {
    const r = categorize(
      [
        zoned('10.1.2.3', ['zone-a']),
        zoned('10.1.2.4', ['zone-b']),
        zoned('10.1.2.5', ['zone-c']),
        zoned('10.1.2.6', ['zone-a']),
      ],
      CLUSTER,
      NODE,
    );
    expect(r.topologyMode).toBe('PreferSameZone');
    expect(r.clusterEndpoints).toEqual(['10.1.2.3:80', '10.1.2.6:80']);
  });

  it('an endpoint hinted for several zones is used by each of them', () => {
    const r = categorize(
      [
        zoned('10.1.2.3', ['zone-a', 'zone-b', 'zone-c']),
        zoned('10.1.2.4', ['zone-b', 'zone-c']),
        zoned('10.1.2.5', ['zone-b', 'zone-d']),
        zoned('10.1.2.6', ['zone-c']),
      ],
      CLUSTER,
      { nodeName: 'node-a', zone: 'zone-c' },
    );
    expect(r.clusterEndpoints).toEqual(['10.1.2.3:80', '10.1.2.4:80', '10.1.2.6:80']);
  });

  it('no endpoint hinted for our zone → hints ignored, all ready endpoints', () => {
    const r = categorize([zoned('10.1.2.3', ['zone-a'])], CLUSTER, { nodeName: 'node-a', zone: 'zone-b' });
    expect(r.topologyMode).toBe('');
    expect(r.clusterEndpoints).toEqual(['10.1.2.3:80']);
  });

  it('one ready endpoint missing a zone hint → hints ignored', () => {
    const r = categorize(
      [
        zoned('10.1.2.3', ['zone-a']),
        zoned('10.1.2.4', ['zone-b']),
        zoned('10.1.2.5', []),
        zoned('10.1.2.6', ['zone-a']),
      ],
      CLUSTER,
      NODE,
    );
    expect(r.topologyMode).toBe('');
    expect(r.clusterEndpoints).toEqual(['10.1.2.3:80', '10.1.2.4:80', '10.1.2.5:80', '10.1.2.6:80']);
  });

  it('only ready endpoints count: an unready endpoint without hints does not disable topology', () => {
    const r = categorize(
      [zoned('10.1.2.3', ['zone-a']), zoned('10.1.2.4', ['zone-b']), zoned('10.1.2.9', [], NOT_READY)],
      CLUSTER,
      NODE,
    );
    expect(r.topologyMode).toBe('PreferSameZone');
    expect(r.clusterEndpoints).toEqual(['10.1.2.3:80']);
  });

  it('only unready endpoints are hinted for our zone → no filtering (kube-proxy "should not filter")', () => {
    const r = categorize(
      [
        zoned('10.1.2.3', ['zone-a'], NOT_READY),
        zoned('10.1.2.4', ['zone-b']),
        zoned('10.1.2.5', ['zone-c']),
        zoned('10.1.2.6', ['zone-a'], NOT_READY),
      ],
      CLUSTER,
      NODE,
    );
    expect(r.topologyMode).toBe('');
    expect(r.clusterEndpoints).toEqual(['10.1.2.4:80', '10.1.2.5:80']);
  });

  it('node without a zone label → zone hints ignored', () => {
    const r = categorize([zoned('10.1.2.3', ['zone-a']), zoned('10.1.2.4', ['zone-b'])], CLUSTER, {
      nodeName: 'node-a',
    });
    expect(r.topologyMode).toBe('');
    expect(r.clusterEndpoints).toEqual(['10.1.2.3:80', '10.1.2.4:80']);
  });

  it('PreferSameNode: every ready endpoint has a node hint, one for this node → only it', () => {
    const r = categorize(
      [
        ep('10.1.2.3', { nodeHints: ['node-a'], zoneHints: ['zone-a'] }),
        ep('10.1.2.4', { nodeHints: ['node-b'], zoneHints: ['zone-a'] }),
      ],
      CLUSTER,
      NODE,
    );
    expect(r.topologyMode).toBe('PreferSameNode');
    expect(r.clusterEndpoints).toEqual(['10.1.2.3:80']);
  });

  it('PreferSameNode needs no zone hints and no zone label', () => {
    const r = categorize(
      [ep('10.1.2.3', { nodeHints: ['node-a'] }), ep('10.1.2.4', { nodeHints: ['node-b'] })],
      CLUSTER,
      { nodeName: 'node-a' },
    );
    expect(r.topologyMode).toBe('PreferSameNode');
    expect(r.clusterEndpoints).toEqual(['10.1.2.3:80']);
  });

  it('node hints, none for this node → falls through to zone hints', () => {
    const r = categorize(
      [
        ep('10.1.2.3', { nodeHints: ['node-b'], zoneHints: ['zone-a'] }),
        ep('10.1.2.4', { nodeHints: ['node-c'], zoneHints: ['zone-b'] }),
      ],
      CLUSTER,
      NODE,
    );
    expect(r.topologyMode).toBe('PreferSameZone');
    expect(r.clusterEndpoints).toEqual(['10.1.2.3:80']);
  });

  it('a ready endpoint missing its node hint → node hints ignored, zone hints apply', () => {
    const r = categorize(
      [ep('10.1.2.3', { nodeHints: ['node-a'], zoneHints: ['zone-b'] }), ep('10.1.2.4', { zoneHints: ['zone-a'] })],
      CLUSTER,
      NODE,
    );
    expect(r.topologyMode).toBe('PreferSameZone');
    expect(r.clusterEndpoints).toEqual(['10.1.2.4:80']);
  });

  it('node hints for another node and no zone hints → no topology', () => {
    const r = categorize([ep('10.1.2.3', { nodeHints: ['node-b'] })], CLUSTER, NODE);
    expect(r.topologyMode).toBe('');
    expect(r.clusterEndpoints).toEqual(['10.1.2.3:80']);
  });

  it('no ready endpoints → no topology; fallback to serving-terminating ignores hints', () => {
    const r = categorize(
      [zoned('10.1.2.3', ['zone-b'], SERVING_TERMINATING), zoned('10.1.2.4', ['zone-a'], SERVING_TERMINATING)],
      CLUSTER,
      NODE,
    );
    expect(r.topologyMode).toBe('');
    expect(r.clusterEndpoints).toEqual(['10.1.2.3:80', '10.1.2.4:80']);
    expect(r.hasAnyEndpoints).toBe(true);
  });

  it('etp Local: topology filters the cluster path only, never the local path', () => {
    const r = categorize(
      [
        zoned('10.1.2.3', ['zone-a'], { isLocal: true }),
        zoned('10.1.2.4', ['zone-b'], { isLocal: true }),
        zoned('10.1.2.5', ['zone-c']),
        zoned('10.1.2.6', ['zone-a']),
      ],
      policy('Cluster', 'Local', true),
      NODE,
    );
    expect(r).toEqual({
      clusterEndpoints: ['10.1.2.3:80', '10.1.2.6:80'],
      localEndpoints: ['10.1.2.3:80', '10.1.2.4:80'],
      hasAnyEndpoints: true,
      topologyMode: 'PreferSameZone',
    });
  });

  it('itp Local on an internal-only port: no cluster path, so no topology mode either', () => {
    const r = categorize(
      [zoned('10.1.2.3', ['zone-b'], { isLocal: true }), zoned('10.1.2.4', ['zone-a'])],
      policy('Local', 'Cluster', false),
      NODE,
    );
    expect(r).toEqual({
      clusterEndpoints: null,
      localEndpoints: ['10.1.2.3:80'],
      hasAnyEndpoints: true,
      topologyMode: '',
    });
  });
});

describe('dual-stack: each family is categorized on its own, as kube-proxy runs a proxier per family', () => {
  const dual = policy('Cluster', 'Cluster', false, ['10.96.0.10', 'fd00:96::10']);

  it('IPv6 endpoints print as [ip]:port and sort after IPv4', () => {
    const r = categorize([ep('fd00::2'), ep('10.0.0.2'), ep('fd00::1'), ep('10.0.0.1')], dual, NODE);
    expect(r.clusterEndpoints).toEqual(['10.0.0.1:80', '10.0.0.2:80', '[fd00::1]:80', '[fd00::2]:80']);
  });

  it('IPv4 ready while IPv6 only serving-terminating → IPv6 still falls back', () => {
    const r = categorize(
      [
        ep('10.0.0.1'),
        ep('10.0.0.2', SERVING_TERMINATING),
        ep('fd00::1', SERVING_TERMINATING),
        ep('fd00::2', NOT_READY),
      ],
      dual,
      NODE,
    );
    expect(r.clusterEndpoints).toEqual(['10.0.0.1:80', '[fd00::1]:80']);
  });

  it('hints apply per family; the primary family reports the mode', () => {
    const node: NodeContext = { nodeName: 'node-a', zone: 'zone-a' };
    const r = categorize(
      [
        ep('10.0.0.1', { zoneHints: ['zone-a'] }),
        ep('10.0.0.2', { zoneHints: ['zone-b'] }),
        ep('fd00::1', { zoneHints: ['zone-b'] }),
        ep('fd00::2'),
      ],
      dual,
      node,
    );
    expect(r.topologyMode).toBe('PreferSameZone');
    expect(r.clusterEndpoints).toEqual(['10.0.0.1:80', '[fd00::1]:80', '[fd00::2]:80']);
  });

  it('local path falls back per family too', () => {
    const r = categorize(
      [ep('10.0.0.1', { isLocal: true }), ep('fd00::1', { isLocal: true, ...SERVING_TERMINATING }), ep('fd00::2')],
      policy('Local', 'Cluster', false, ['10.96.0.10', 'fd00:96::10']),
      NODE,
    );
    expect(r.localEndpoints).toEqual(['10.0.0.1:80', '[fd00::1]:80']);
  });
});

describe('hasAnyEndpoints with only the local path', () => {
  it('remote serving-terminating endpoints count: traffic is dropped here, not rejected', () => {
    const r = categorize([ep('10.0.0.4', SERVING_TERMINATING)], policy('Local', 'Local', false), NODE);
    expect(r).toEqual({ clusterEndpoints: null, localEndpoints: [], hasAnyEndpoints: true, topologyMode: '' });
  });

  it('a remote not-serving terminating endpoint does not count', () => {
    const r = categorize([ep('10.0.0.6', NOT_SERVING_TERMINATING)], policy('Local', 'Local', false), NODE);
    expect(r.hasAnyEndpoints).toBe(false);
  });
});
