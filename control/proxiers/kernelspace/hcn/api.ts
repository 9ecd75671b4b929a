// The HCN C API (computenetwork.dll, ComputeNetwork.h) one call per method,
// with the C calling shape kept: GUIDs as strings, JSON documents as strings,
// handles opaque, and every call answering its HRESULT and the strings HNS
// allocated (already decoded from UTF-16 and freed by the implementation).
//
// Two implementations: koffi over the real DLL on Windows, or over a stand-in
// library with the same signatures on Linux (koffi.ts), and the emulator the
// tests run against (emulator.ts). The typed client (client.ts) is written
// once over this interface, so the JSON the emulator validates is exactly the
// JSON the DLL would be given.

/** An HCN_NETWORK / HCN_ENDPOINT / HCN_LOADBALANCER handle; only the implementation that made it reads it. */
export type HcnHandle = unknown;

/** One call's outcome: the HRESULT (signed, as C returns it) and what HNS wrote to the out-parameters. */
export interface HcnCall {
  hr: number;
  /** The `PWSTR*` result: an ID list, a properties document, a V1 response. */
  result?: string;
  /** The `PWSTR* ErrorRecord`; a non-empty record is a failure even when hr is 0. */
  errorRecord?: string;
  /** The `PHCN_*` out-handle of open and create calls. */
  handle?: HcnHandle;
}

export interface HcnApi {
  HcnEnumerateNetworks(query: string): Promise<HcnCall>;
  HcnOpenNetwork(id: string): Promise<HcnCall>;
  HcnQueryNetworkProperties(network: HcnHandle, query: string): Promise<HcnCall>;
  HcnCloseNetwork(network: HcnHandle): Promise<HcnCall>;

  HcnEnumerateEndpoints(query: string): Promise<HcnCall>;
  HcnCreateEndpoint(network: HcnHandle, id: string, settings: string): Promise<HcnCall>;
  HcnOpenEndpoint(id: string): Promise<HcnCall>;
  HcnQueryEndpointProperties(endpoint: HcnHandle, query: string): Promise<HcnCall>;
  HcnDeleteEndpoint(id: string): Promise<HcnCall>;
  HcnCloseEndpoint(endpoint: HcnHandle): Promise<HcnCall>;

  HcnEnumerateLoadBalancers(query: string): Promise<HcnCall>;
  HcnCreateLoadBalancer(id: string, settings: string): Promise<HcnCall>;
  HcnOpenLoadBalancer(id: string): Promise<HcnCall>;
  HcnQueryLoadBalancerProperties(loadBalancer: HcnHandle, query: string): Promise<HcnCall>;
  HcnModifyLoadBalancer(loadBalancer: HcnHandle, settings: string): Promise<HcnCall>;
  HcnDeleteLoadBalancer(id: string): Promise<HcnCall>;
  HcnCloseLoadBalancer(loadBalancer: HcnHandle): Promise<HcnCall>;

  /** vmcompute.dll's V1 HNSCall(method, path, request, &response): only GET /globals/version is used. */
  HNSCall(method: string, path: string, request: string): Promise<HcnCall>;
}

/** The calls that change what HNS holds (an idle sync makes none of them). */
export const MUTATING_CALLS = [
  'HcnCreateEndpoint',
  'HcnDeleteEndpoint',
  'HcnCreateLoadBalancer',
  'HcnModifyLoadBalancer',
  'HcnDeleteLoadBalancer',
] as const satisfies ReadonlyArray<keyof HcnApi>;

export type HcnCallName = keyof HcnApi;

/** Counts every call made through `api`, by name: the bench's and the contract tests' HCN call figures. */
export class CountingApi implements HcnApi {
  readonly counts = new Map<HcnCallName, number>();
  readonly #api: HcnApi;

  constructor(api: HcnApi) {
    this.#api = api;
  }

  #count<K extends HcnCallName>(name: K, ...args: Parameters<HcnApi[K]>): Promise<HcnCall> {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    return (this.#api[name] as (...a: Parameters<HcnApi[K]>) => Promise<HcnCall>)(...args);
  }

  /** Every call since the last reset. */
  total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  /** The calls that changed HNS since the last reset. */
  mutating(): number {
    return MUTATING_CALLS.reduce((n, name) => n + (this.counts.get(name) ?? 0), 0);
  }

  reset(): void {
    this.counts.clear();
  }

  HcnEnumerateNetworks = (query: string) => this.#count('HcnEnumerateNetworks', query);
  HcnOpenNetwork = (id: string) => this.#count('HcnOpenNetwork', id);
  HcnQueryNetworkProperties = (h: HcnHandle, q: string) => this.#count('HcnQueryNetworkProperties', h, q);
  HcnCloseNetwork = (h: HcnHandle) => this.#count('HcnCloseNetwork', h);
  HcnEnumerateEndpoints = (query: string) => this.#count('HcnEnumerateEndpoints', query);
  HcnCreateEndpoint = (n: HcnHandle, id: string, s: string) => this.#count('HcnCreateEndpoint', n, id, s);
  HcnOpenEndpoint = (id: string) => this.#count('HcnOpenEndpoint', id);
  HcnQueryEndpointProperties = (h: HcnHandle, q: string) => this.#count('HcnQueryEndpointProperties', h, q);
  HcnDeleteEndpoint = (id: string) => this.#count('HcnDeleteEndpoint', id);
  HcnCloseEndpoint = (h: HcnHandle) => this.#count('HcnCloseEndpoint', h);
  HcnEnumerateLoadBalancers = (query: string) => this.#count('HcnEnumerateLoadBalancers', query);
  HcnCreateLoadBalancer = (id: string, s: string) => this.#count('HcnCreateLoadBalancer', id, s);
  HcnOpenLoadBalancer = (id: string) => this.#count('HcnOpenLoadBalancer', id);
  HcnQueryLoadBalancerProperties = (h: HcnHandle, q: string) => this.#count('HcnQueryLoadBalancerProperties', h, q);
  HcnModifyLoadBalancer = (h: HcnHandle, s: string) => this.#count('HcnModifyLoadBalancer', h, s);
  HcnDeleteLoadBalancer = (id: string) => this.#count('HcnDeleteLoadBalancer', id);
  HcnCloseLoadBalancer = (h: HcnHandle) => this.#count('HcnCloseLoadBalancer', h);
  HNSCall = (m: string, p: string, r: string) => this.#count('HNSCall', m, p, r);
}
