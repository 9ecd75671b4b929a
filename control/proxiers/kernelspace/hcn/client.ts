// The typed HCN client: documents in and out, one HcnError per failure, over
// any HcnApi (the DLL through koffi, or the emulator). It makes the calls the
// way hcsshim does, so the call counts it causes are the ones a real node
// would see: a list is one enumerate plus open, query and close per object;
// a create is the create plus a close of the handle it returns (the created
// document comes back from one properties query).
import type { HcnApi, HcnCall, HcnCallName, HcnHandle } from './api.js';
import {
  HResult,
  QueryFlags,
  SCHEMA_VERSION,
  ZERO_GUID,
  hresultHex,
  type HcnErrorRecord,
  type HnsVersion,
  type HostComputeEndpoint,
  type HostComputeLoadBalancer,
  type HostComputeNetwork,
} from './schema.js';

/**
 * HRESULTs that say HNS did not answer, not that it refused: the service is
 * stopped or restarting. A caller must not read them as "the object is not
 * there" (kubernetes#139519: load balancers taken for gone while HNS was
 * down came back on its restart, and every create then failed).
 */
const UNREACHABLE = new Set<number>([
  HResult.RPC_UNAVAILABLE,
  0x800706be, // RPC_S_CALL_FAILED
  0x800706bf, // RPC_S_CALL_FAILED_DNE
  0x80070015, // ERROR_NOT_READY
  0x800705b4, // ERROR_TIMEOUT
]);

export class HcnError extends Error {
  /** The HRESULT, unsigned (0x803b0013), as HNS's logs print it. */
  readonly hresult: number;
  readonly call: HcnCallName;
  readonly record?: HcnErrorRecord;

  constructor(call: HcnCallName, hresult: number, record: HcnErrorRecord | undefined, what: string) {
    const detail = record?.Error?.trim();
    super(`${call} ${what}: ${hresultHex(hresult)}${detail ? ` (${detail})` : ''}`);
    this.name = 'HcnError';
    this.call = call;
    this.hresult = hresult >>> 0;
    if (record) this.record = record;
  }

  /** HNS did not answer: retry later, and conclude nothing about what it holds. */
  get unreachable(): boolean {
    return UNREACHABLE.has(this.hresult);
  }

  /** The object named does not exist (ERROR_NOT_FOUND, or HCN's own not-found codes). */
  get notFound(): boolean {
    return (
      this.hresult === HResult.NOT_FOUND ||
      this.hresult === HResult.HCN_ENDPOINT_NOT_FOUND ||
      this.hresult === HResult.HCN_NETWORK_NOT_FOUND
    );
  }
}

export const isHcnError = (err: unknown, hresult?: number): err is HcnError =>
  err instanceof HcnError && (hresult === undefined || err.hresult === hresult >>> 0);

/** True when HNS could not be reached: a sync that meets it stops and retries, changing nothing it cannot see. */
export const isUnreachable = (err: unknown): boolean => err instanceof HcnError && err.unreachable;

function parseRecord(text: string | undefined): HcnErrorRecord | undefined {
  if (!text) return undefined;
  try {
    const r = JSON.parse(text) as Partial<HcnErrorRecord>;
    return { Success: false, Error: String(r.Error ?? text), ErrorCode: Number(r.ErrorCode ?? 0) };
  } catch {
    return { Success: false, Error: text, ErrorCode: 0 };
  }
}

/**
 * hcsshim's checkForErrors: a call failed when its HRESULT is negative or it
 * wrote an error record, which HNS does with S_OK too.
 */
function check(call: HcnCallName, res: HcnCall, what: string): HcnCall {
  const record = parseRecord(res.errorRecord);
  if (res.hr < 0 || record) {
    const hr = res.hr < 0 ? res.hr : record?.ErrorCode || HResult.E_INVALIDARG;
    throw new HcnError(call, hr, record, what);
  }
  return res;
}

function parseJson<T>(call: HcnCallName, text: string | undefined, what: string): T {
  try {
    return JSON.parse(text ?? '') as T;
  } catch {
    throw new HcnError(call, HResult.HCN_INVALID_JSON, undefined, `${what} answered a document that is not JSON`);
  }
}

/** A HostComputeQuery; the filter is itself JSON-encoded, as HCN wants it. */
export const hcnQuery = (filter?: Record<string, string>): string =>
  JSON.stringify({
    SchemaVersion: SCHEMA_VERSION,
    Flags: QueryFlags.None,
    ...(filter ? { Filter: JSON.stringify(filter) } : {}),
  });

type Kind = 'Network' | 'Endpoint' | 'LoadBalancer';

export class HcnClient {
  readonly api: HcnApi;

  constructor(api: HcnApi) {
    this.api = api;
  }

  /** The HNS version, from the V1 API (HNSCall GET /globals/version), as hcsshim reads it. */
  async version(): Promise<HnsVersion> {
    const res = check('HNSCall', await this.api.HNSCall('GET', '/globals/version', ''), 'GET /globals/version');
    const body = parseJson<{ Success?: boolean; Error?: string; Output?: { Major?: number; Minor?: number } }>(
      'HNSCall',
      res.result,
      'GET /globals/version',
    );
    if (!body.Success || typeof body.Output?.Major !== 'number')
      throw new HcnError('HNSCall', HResult.E_NOTIMPL, parseRecord(JSON.stringify(body)), 'GET /globals/version');
    return { major: body.Output.Major, minor: body.Output.Minor ?? 0 };
  }

  /** The network of that name; an HcnError with HCN_NETWORK_NOT_FOUND when there is none. */
  async networkByName(name: string): Promise<HostComputeNetwork> {
    const [network] = await this.#list<HostComputeNetwork>('Network', hcnQuery({ Name: name }));
    if (!network)
      throw new HcnError('HcnEnumerateNetworks', HResult.HCN_NETWORK_NOT_FOUND, undefined, `network "${name}"`);
    return network;
  }

  /** The endpoints of a network (local ones the CNI made, remote ones a proxy made). */
  endpoints(networkId: string): Promise<HostComputeEndpoint[]> {
    return this.#list<HostComputeEndpoint>('Endpoint', hcnQuery({ VirtualNetwork: networkId }));
  }

  /** Every load balancer on the host (HNS does not scope them to a network). */
  loadBalancers(): Promise<HostComputeLoadBalancer[]> {
    return this.#list<HostComputeLoadBalancer>('LoadBalancer', hcnQuery());
  }

  /** One endpoint by ID, or undefined when HNS no longer holds it. */
  async endpoint(id: string): Promise<HostComputeEndpoint | undefined> {
    let handle: HcnHandle;
    try {
      handle = check('HcnOpenEndpoint', await this.api.HcnOpenEndpoint(id), `endpoint ${id}`).handle;
    } catch (err) {
      if (isHcnError(err) && err.notFound) return undefined;
      throw err;
    }
    return this.#queryAndClose<HostComputeEndpoint>('Endpoint', handle);
  }

  /** The IDs of the network's endpoints: one call, the cheap check that nothing this mode made went away. */
  endpointIds(networkId: string): Promise<string[]> {
    return this.#ids('Endpoint', hcnQuery({ VirtualNetwork: networkId }));
  }

  /** The IDs of every load balancer: one call. */
  loadBalancerIds(): Promise<string[]> {
    return this.#ids('LoadBalancer', hcnQuery());
  }

  async createEndpoint(networkId: string, doc: HostComputeEndpoint): Promise<HostComputeEndpoint> {
    const network = check('HcnOpenNetwork', await this.api.HcnOpenNetwork(networkId), `network ${networkId}`).handle;
    try {
      const res = check(
        'HcnCreateEndpoint',
        await this.api.HcnCreateEndpoint(network, ZERO_GUID, JSON.stringify(doc)),
        `endpoint ${doc.IpConfigurations?.[0]?.IpAddress ?? ''}`,
      );
      return await this.#queryAndClose<HostComputeEndpoint>('Endpoint', res.handle);
    } finally {
      await this.api.HcnCloseNetwork(network);
    }
  }

  async deleteEndpoint(id: string): Promise<void> {
    check('HcnDeleteEndpoint', await this.api.HcnDeleteEndpoint(id), `endpoint ${id}`);
  }

  async createLoadBalancer(doc: HostComputeLoadBalancer): Promise<HostComputeLoadBalancer> {
    const res = check(
      'HcnCreateLoadBalancer',
      await this.api.HcnCreateLoadBalancer(ZERO_GUID, JSON.stringify(doc)),
      'load balancer',
    );
    return this.#queryAndClose<HostComputeLoadBalancer>('LoadBalancer', res.handle);
  }

  /** The full document replaces the load balancer's settings (HNS ≥ 15.5; E_NOTIMPL below). */
  async modifyLoadBalancer(id: string, doc: HostComputeLoadBalancer): Promise<HostComputeLoadBalancer> {
    const handle = check('HcnOpenLoadBalancer', await this.api.HcnOpenLoadBalancer(id), `load balancer ${id}`).handle;
    try {
      check(
        'HcnModifyLoadBalancer',
        await this.api.HcnModifyLoadBalancer(handle, JSON.stringify({ ...doc, ID: id })),
        `load balancer ${id}`,
      );
      const props = check(
        'HcnQueryLoadBalancerProperties',
        await this.api.HcnQueryLoadBalancerProperties(handle, hcnQuery()),
        `load balancer ${id}`,
      );
      return parseJson<HostComputeLoadBalancer>('HcnQueryLoadBalancerProperties', props.result, `load balancer ${id}`);
    } finally {
      await this.api.HcnCloseLoadBalancer(handle);
    }
  }

  async deleteLoadBalancer(id: string): Promise<void> {
    check('HcnDeleteLoadBalancer', await this.api.HcnDeleteLoadBalancer(id), `load balancer ${id}`);
  }

  /**
   * Enumerate, then open, query and close each object. One that went away
   * between the enumerate and its open is left out: that is a race, not a
   * failure. Any other failure fails the list: a partial list read as the
   * whole would make the caller delete or recreate what it did not see.
   */
  async #ids(kind: Kind, query: string): Promise<string[]> {
    const enumerate = `HcnEnumerate${kind}s` as const;
    const res = check(enumerate, await this.api[enumerate](query), `${kind.toLowerCase()}s`);
    return parseJson<string[] | null>(enumerate, res.result, enumerate) ?? [];
  }

  async #list<T>(kind: Kind, query: string): Promise<T[]> {
    const ids = await this.#ids(kind, query);
    const out: T[] = [];
    for (const id of ids) {
      const open = `HcnOpen${kind}` as const;
      let handle: HcnHandle;
      try {
        handle = check(open, await this.api[open](id), `${kind.toLowerCase()} ${id}`).handle;
      } catch (err) {
        if (isHcnError(err) && err.notFound) continue;
        throw err;
      }
      out.push(await this.#queryAndClose<T>(kind, handle, query));
    }
    return out;
  }

  async #queryAndClose<T>(kind: Kind, handle: HcnHandle, query = hcnQuery()): Promise<T> {
    const name = `HcnQuery${kind}Properties` as const;
    try {
      const props = check(name, await this.api[name](handle, query), kind.toLowerCase());
      return parseJson<T>(name, props.result, kind.toLowerCase());
    } finally {
      await this.api[`HcnClose${kind}`](handle);
    }
  }
}
