// The discovery documents clients fetch before they list anything: /version,
// /api, /apis and the per-group resource lists. Minimal, but shaped like the
// real ones, so a client that checks the server version or looks up a
// resource's verbs finds what it expects.

import type { ResourceInfo } from './resources.js';
import { RESOURCES } from './resources.js';

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

const version = {
  major: '1',
  minor: '33',
  gitVersion: 'v1.33.0-switchyard-test',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.24.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

const resourceList = (groupVersion: string, resources: ResourceInfo[]) => ({
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion,
  resources: resources.map((r) => ({
    name: r.resource,
    singularName: r.kind.toLowerCase(),
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: VERBS,
  })),
});

const discoveryGroup = {
  name: 'discovery.k8s.io',
  versions: [{ groupVersion: 'discovery.k8s.io/v1', version: 'v1' }],
  preferredVersion: { groupVersion: 'discovery.k8s.io/v1', version: 'v1' },
};

/** Discovery documents by path, serialized once. */
export const DISCOVERY: ReadonlyMap<string, string> = new Map(
  Object.entries({
    '/version': version,
    '/api': {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:443' }],
    },
    '/apis': { kind: 'APIGroupList', apiVersion: 'v1', groups: [discoveryGroup] },
    '/api/v1': resourceList('v1', [RESOURCES.Service, RESOURCES.Node]),
    '/apis/discovery.k8s.io': { kind: 'APIGroup', apiVersion: 'v1', ...discoveryGroup },
    '/apis/discovery.k8s.io/v1': resourceList('discovery.k8s.io/v1', [RESOURCES.EndpointSlice]),
  }).map(([path, doc]) => [path, JSON.stringify(doc)]),
);

/** Health endpoints answer "ok" as text, as the real server's do. */
export const HEALTH_PATHS: ReadonlySet<string> = new Set(['/healthz', '/livez', '/readyz']);
