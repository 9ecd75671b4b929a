// The resources the test API server serves, and how a request path maps onto
// them. Paths follow the real apiserver's layout:
//
//   /api/v1/services                                   every namespace
//   /api/v1/namespaces/{ns}/services[/{name}]
//   /apis/discovery.k8s.io/v1/endpointslices
//   /apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices[/{name}]
//   /api/v1/nodes[/{name}]                             cluster-scoped

export type Kind = 'Service' | 'EndpointSlice' | 'Node';

export const KINDS: readonly Kind[] = ['Service', 'EndpointSlice', 'Node'];

export interface ResourceInfo {
  kind: Kind;
  listKind: string;
  /** Plural, as in the path. */
  resource: string;
  /** "" for the core group. */
  group: string;
  version: string;
  /** "v1" or "group/v1": what objects of this kind carry in apiVersion. */
  apiVersion: string;
  namespaced: boolean;
  /** Whether a DELETE answers with the deleted object (Service) or a Status, as the real server does. */
  deleteReturnsObject: boolean;
}

export const RESOURCES: Readonly<Record<Kind, ResourceInfo>> = {
  Service: {
    kind: 'Service',
    listKind: 'ServiceList',
    resource: 'services',
    group: '',
    version: 'v1',
    apiVersion: 'v1',
    namespaced: true,
    deleteReturnsObject: true,
  },
  EndpointSlice: {
    kind: 'EndpointSlice',
    listKind: 'EndpointSliceList',
    resource: 'endpointslices',
    group: 'discovery.k8s.io',
    version: 'v1',
    apiVersion: 'discovery.k8s.io/v1',
    namespaced: true,
    deleteReturnsObject: false,
  },
  Node: {
    kind: 'Node',
    listKind: 'NodeList',
    resource: 'nodes',
    group: '',
    version: 'v1',
    apiVersion: 'v1',
    namespaced: false,
    deleteReturnsObject: false,
  },
};

export function isKind(value: unknown): value is Kind {
  return typeof value === 'string' && Object.hasOwn(RESOURCES, value);
}

/** A request path resolved to a resource: a collection when name is undefined. */
export interface ResourcePath {
  info: ResourceInfo;
  /** undefined: every namespace (or a cluster-scoped kind). */
  namespace?: string;
  name?: string;
}

const byPrefixAndResource = new Map<string, ResourceInfo>(
  Object.values(RESOURCES).map((r) => [`${r.group === '' ? 'api' : `apis/${r.group}`}/${r.version}/${r.resource}`, r]),
);

/**
 * Resolves a URL path to a resource, or undefined when the path names nothing
 * this server serves (the caller answers 404).
 */
export function parseResourcePath(pathname: string): ResourcePath | undefined {
  const parts = pathname
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  // api/v1/... has a two-segment prefix, apis/{group}/v1/... a three-segment one.
  const prefixLength = parts[0] === 'api' ? 2 : parts[0] === 'apis' ? 3 : -1;
  if (prefixLength < 0) return undefined;
  const prefix = parts.slice(0, prefixLength).join('/');
  let rest = parts.slice(prefixLength);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 2) return undefined;
  const info = byPrefixAndResource.get(`${prefix}/${rest[0]}`);
  if (info === undefined) return undefined;
  // A namespace segment on a cluster-scoped kind is not a path the real server has.
  if (namespace !== undefined && !info.namespaced) return undefined;
  const name = rest[1];
  // A named object of a namespaced kind needs its namespace in the path.
  if (name !== undefined && info.namespaced && namespace === undefined) return undefined;
  return { info, ...(namespace !== undefined && { namespace }), ...(name !== undefined && { name }) };
}
