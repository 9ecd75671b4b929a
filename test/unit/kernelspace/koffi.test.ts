// The koffi binding of the HCN API (control/proxiers/kernelspace/hcn/koffi.ts),
// run for real: the same declarations that load computenetwork.dll on Windows
// load test/native/hcn-shim.c here, a library with the exact HCN signatures.
// What crosses the C boundary is checked from both sides: GUID structs,
// opaque handles, UTF-16 strings in and out, error records, and that every
// string the library allocated went back to its free function (the shim
// counts) and every handle was closed.
import koffi from 'koffi';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HcnApi, HcnCall } from '../../../control/proxiers/kernelspace/hcn/api.js';
import { guidFromStruct, guidToStruct, loadHcnApi } from '../../../control/proxiers/kernelspace/hcn/koffi.js';
import { GUID_PATTERN, HResult, hresultHex, ZERO_GUID } from '../../../control/proxiers/kernelspace/hcn/schema.js';
import { buildHcnShim } from '../../harness/hcn-shim.js';

/** The signed HRESULT C returns, from schema.ts's unsigned spelling. */
const signed = (hr: number) => hr | 0;

// The test's own view of the shim, declared apart from koffi.ts (anonymous
// types, the GUID written field by field) so that it checks koffi.ts rather
// than repeating it.
interface Shim {
  outstanding(): number;
  openHandles(): number;
  badFrees(): number;
  /** The last REFGUID's 16 bytes in memory order, as hex. */
  lastGuid(): string;
  createNetwork(id: object, settings: string): { hr: number; handle: unknown };
  deleteNetwork(id: object): number;
}

function declareShim(so: string): Shim {
  const lib = koffi.load(so);
  const guid = koffi.struct({
    Data1: 'uint32_t',
    Data2: 'uint16_t',
    Data3: 'uint16_t',
    Data4: koffi.array('uint8_t', 8, 'Array'),
  });
  const outstanding = lib.func('ShimOutstanding', 'int', []);
  const openHandles = lib.func('ShimOpenHandles', 'int', []);
  const badFrees = lib.func('ShimBadFrees', 'int', []);
  const lastGuid = lib.func('ShimLastGuid', 'const char *', []);
  const createNetwork = lib.func('HcnCreateNetwork', 'int32_t', [
    koffi.pointer(guid),
    'const char16_t *',
    koffi.out(koffi.pointer(koffi.opaque(), 2)),
    koffi.out(koffi.pointer('void *')),
  ]);
  const deleteNetwork = lib.func('HcnDeleteNetwork', 'int32_t', [
    koffi.pointer(guid),
    koffi.out(koffi.pointer('void *')),
  ]);
  return {
    outstanding: () => outstanding(),
    openHandles: () => openHandles(),
    badFrees: () => badFrees(),
    lastGuid: () => lastGuid(),
    createNetwork: (id, settings) => {
      const handle: [unknown] = [null];
      const hr = createNetwork(id, settings, handle, [null]);
      return { hr, handle: handle[0] };
    },
    deleteNetwork: (id) => deleteNetwork(id, [null]),
  };
}

// Not symmetric in any group, so a swapped field or byte order shows.
const LB_ID = '6f9619ff-8b86-d011-b42d-00c04fc964ff';
const LB_ID_BYTES = 'ff19966f868b11d0b42d00c04fc964ff';
const NETWORK_ID = '0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9';
const NETWORK_STRUCT = {
  Data1: 0x0a1b2c3d,
  Data2: 0x4e5f,
  Data3: 0x6071,
  Data4: [0x82, 0x93, 0xa4, 0xb5, 0xc6, 0xd7, 0xe8, 0xf9],
};
const UNKNOWN_ID = '11111111-2222-3333-4444-555555555555';
/** Two-byte, three-byte and four-byte UTF-8 (a surrogate pair in UTF-16: U+1F6A6). */
const NAME = 'Zürich 東京 🚦';
const LB_SETTINGS = JSON.stringify({
  HostComputeEndpoints: [UNKNOWN_ID],
  PortMappings: [{ Protocol: 6, InternalPort: 8080, ExternalPort: 80 }],
  SchemaVersion: { Major: 2, Minor: 0 },
});

const ok = (call: HcnCall) => {
  expect(call.errorRecord).toBeUndefined();
  expect(hresultHex(call.hr)).toBe(hresultHex(HResult.S_OK));
  return call;
};
const parse = (text: string | undefined) => JSON.parse(text ?? 'undefined');

describe('the koffi HCN binding, over a library with the HCN signatures', () => {
  let api: HcnApi;
  let shim: Shim;

  beforeAll(async () => {
    const so = buildHcnShim();
    api = await loadHcnApi({ computenetwork: so, vmcompute: so, memFree: { library: so, symbol: 'ShimMemFree' } });
    shim = declareShim(so);
  }, 60_000);

  // Every test gives back what it was handed: each string freed through the
  // named function (koffi.free would leave them counted), each handle closed.
  // Counted against the test's start, so a leak fails the test that made it.
  const held = () => ({ outstanding: shim.outstanding(), openHandles: shim.openHandles(), badFrees: shim.badFrees() });
  let before: ReturnType<typeof held>;
  beforeEach(() => {
    before = held();
  });
  afterEach(() => {
    expect(held()).toEqual(before);
  });

  it('converts the text of a GUID to the struct and back: Data1..Data3 as integers, Data4 as bytes', () => {
    expect(guidToStruct(LB_ID)).toEqual({
      Data1: 0x6f9619ff,
      Data2: 0x8b86,
      Data3: 0xd011,
      Data4: [0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff],
    });
    expect(guidToStruct(LB_ID.toUpperCase())).toEqual(guidToStruct(LB_ID));
    expect(guidFromStruct(guidToStruct(LB_ID.toUpperCase()))).toBe(LB_ID);
    expect(guidFromStruct(NETWORK_STRUCT)).toBe(NETWORK_ID);
    expect(guidFromStruct(guidToStruct(ZERO_GUID))).toBe(ZERO_GUID);
    for (const bad of ['', '6f9619ff8b86d011b42d00c04fc964ff', `{${LB_ID}}`, LB_ID.replace('f', 'g')]) {
      expect(() => guidToStruct(bad)).toThrow(TypeError);
    }
  });

  it('passes a GUID by REFGUID in the layout Windows uses, and its text comes back unchanged', async () => {
    const created = ok(await api.HcnCreateLoadBalancer(LB_ID, LB_SETTINGS));
    expect(shim.lastGuid()).toBe(LB_ID_BYTES);
    expect(typeof created.handle).toBe('bigint');
    try {
      expect(parse(ok(await api.HcnQueryLoadBalancerProperties(created.handle, '')).result)).toEqual({
        ID: LB_ID,
        ...JSON.parse(LB_SETTINGS),
      });
      expect(parse(ok(await api.HcnEnumerateLoadBalancers('{}')).result)).toEqual([LB_ID]);
    } finally {
      ok(await api.HcnCloseLoadBalancer(created.handle));
    }
    // Upper case is the same GUID (kube-proxy upper-cases IDs).
    const opened = ok(await api.HcnOpenLoadBalancer(LB_ID.toUpperCase()));
    expect(shim.lastGuid()).toBe(LB_ID_BYTES);
    ok(await api.HcnCloseLoadBalancer(opened.handle));
    ok(await api.HcnDeleteLoadBalancer(LB_ID));
    expect(parse(ok(await api.HcnEnumerateLoadBalancers('')).result)).toEqual([]);
  });

  it('creates with the zero GUID, and HNS assigns the ID', async () => {
    const created = ok(await api.HcnCreateLoadBalancer(ZERO_GUID, LB_SETTINGS));
    expect(shim.lastGuid()).toBe('0'.repeat(32));
    const { ID } = parse(ok(await api.HcnQueryLoadBalancerProperties(created.handle, '')).result);
    ok(await api.HcnCloseLoadBalancer(created.handle));
    expect(ID).toMatch(GUID_PATTERN);
    expect(ID).not.toBe(ZERO_GUID);
    expect(parse(ok(await api.HcnEnumerateLoadBalancers('')).result)).toEqual([ID]);
    ok(await api.HcnDeleteLoadBalancer(ID));
  });

  it('hands opaque handles out and takes them back in: a network handle makes its endpoint', async () => {
    const seeded = shim.createNetwork(NETWORK_STRUCT, JSON.stringify({ Name: NAME, Type: 'L2Bridge' }));
    expect(seeded.hr).toBe(0);
    ok(await api.HcnCloseNetwork(seeded.handle));
    expect(shim.openHandles()).toBe(0);

    expect(parse(ok(await api.HcnEnumerateNetworks('')).result)).toEqual([NETWORK_ID]);
    const network = ok(await api.HcnOpenNetwork(NETWORK_ID)).handle;
    const settings = { IpConfigurations: [{ IpAddress: '10.244.1.7' }], Flags: 1 };
    const endpoint = ok(await api.HcnCreateEndpoint(network, ZERO_GUID, JSON.stringify(settings))).handle;
    expect(shim.openHandles()).toBe(2);
    expect(endpoint).not.toBe(network);
    try {
      expect(parse(ok(await api.HcnQueryNetworkProperties(network, '')).result)).toEqual({
        ID: NETWORK_ID,
        Name: NAME,
        Type: 'L2Bridge',
      });
      const { ID, ...rest } = parse(ok(await api.HcnQueryEndpointProperties(endpoint, '')).result);
      expect(rest).toEqual({ HostComputeNetwork: NETWORK_ID, ...settings });
      expect(parse(ok(await api.HcnEnumerateEndpoints('')).result)).toEqual([ID]);

      // A handle of the wrong kind is refused by the library, not by koffi.
      const wrong = await api.HcnQueryNetworkProperties(endpoint, '');
      expect(hresultHex(wrong.hr)).toBe('0x80070006');
      expect(parse(wrong.errorRecord).Error).toBe('The handle is invalid.');

      ok(await api.HcnCloseEndpoint(endpoint));
      // Closed is closed: a second close fails (and frees nothing twice).
      expect(hresultHex((await api.HcnCloseEndpoint(endpoint)).hr)).toBe('0x80070006');
      ok(await api.HcnDeleteEndpoint(ID));
      expect(parse(ok(await api.HcnEnumerateEndpoints('')).result)).toEqual([]);
    } finally {
      ok(await api.HcnCloseNetwork(network));
      expect(shim.deleteNetwork(NETWORK_STRUCT)).toBe(0);
    }
  });

  it('sends and receives UTF-16: non-ASCII text and a surrogate pair survive both ways', async () => {
    expect(NAME.length).toBe([...NAME].length + 1); // the pair is two UTF-16 units
    const settings = JSON.stringify({ ...JSON.parse(LB_SETTINGS), Name: NAME });
    const created = ok(await api.HcnCreateLoadBalancer(LB_ID, settings));
    const text = ok(await api.HcnQueryLoadBalancerProperties(created.handle, '')).result!;
    ok(await api.HcnCloseLoadBalancer(created.handle));
    ok(await api.HcnDeleteLoadBalancer(LB_ID));
    expect(text).toBe(`{"ID":"${LB_ID}",${settings.slice(1)}`);
    expect(parse(text).Name).toBe(NAME);

    const echoed = ok(await api.HNSCall('POST', '/shim/echo', JSON.stringify({ Name: NAME })));
    expect(parse(echoed.result)).toEqual({ Success: true, Output: { Name: NAME } });
  });

  it('reports a failing HRESULT as C returns it (negative) with the error record decoded', async () => {
    const missing = await api.HcnOpenLoadBalancer(UNKNOWN_ID);
    expect(missing.hr).toBe(signed(HResult.NOT_FOUND));
    expect(missing.hr).toBeLessThan(0);
    expect(missing.handle).toBeUndefined();
    expect(missing.result).toBeUndefined();
    expect(parse(missing.errorRecord)).toEqual({ Success: false, Error: 'Element not found.', ErrorCode: 2147943568 });

    const notJson = await api.HcnCreateLoadBalancer(ZERO_GUID, 'PortMappings: none');
    expect(hresultHex(notJson.hr)).toBe(hresultHex(HResult.HCN_INVALID_JSON));
    expect(notJson.handle).toBeUndefined();
    expect(parse(notJson.errorRecord)).toMatchObject({ Success: false, ErrorCode: HResult.HCN_INVALID_JSON });

    const gone = await api.HcnDeleteEndpoint(UNKNOWN_ID);
    expect(gone.hr).toBe(signed(HResult.NOT_FOUND));
    expect(parse(gone.errorRecord).ErrorCode).toBe(HResult.NOT_FOUND);

    const badQuery = await api.HcnEnumerateEndpoints('Name=x');
    expect(hresultHex(badQuery.hr)).toBe(hresultHex(HResult.HCN_INVALID_JSON));
    expect(badQuery.result).toBeUndefined();
  });

  it('surfaces an error record that comes with hr 0, and drops an empty one (after freeing it)', async () => {
    const recordOnly = JSON.stringify({ ...JSON.parse(LB_SETTINGS), ShimRecordOnly: true });
    const create = await api.HcnCreateLoadBalancer(LB_ID, recordOnly);
    expect(create.hr).toBe(0);
    expect(create.handle).toBeUndefined();
    expect(parse(create.errorRecord)).toMatchObject({ Success: false, ErrorCode: 0 });

    const created = ok(await api.HcnCreateLoadBalancer(LB_ID, JSON.stringify({ ShimEmptyRecord: true })));
    try {
      const modify = await api.HcnModifyLoadBalancer(created.handle, recordOnly);
      expect(modify.hr).toBe(0);
      expect(parse(modify.errorRecord).Success).toBe(false);
      expect(parse(ok(await api.HcnQueryLoadBalancerProperties(created.handle, '')).result)).toEqual({
        ID: LB_ID,
        ShimEmptyRecord: true,
      });

      ok(await api.HcnModifyLoadBalancer(created.handle, LB_SETTINGS));
      expect(parse(ok(await api.HcnQueryLoadBalancerProperties(created.handle, '')).result)).toEqual({
        ID: LB_ID,
        ...JSON.parse(LB_SETTINGS),
      });
    } finally {
      ok(await api.HcnCloseLoadBalancer(created.handle));
      ok(await api.HcnDeleteLoadBalancer(LB_ID));
    }
  });

  it("calls vmcompute.dll's V1 HNSCall: the version document", async () => {
    const version = ok(await api.HNSCall('GET', '/globals/version', ''));
    expect(parse(version.result)).toEqual({ Success: true, Output: { Major: 15, Minor: 5 } });
    expect(parse(ok(await api.HNSCall('GET', '/no/such/path', '')).result).Success).toBe(false);
  });

  it('runs each call on a worker thread: the event loop goes on while the library blocks', async () => {
    const order: string[] = [];
    const started = performance.now();
    const call = api.HNSCall('GET', '/shim/sleep', '').then((c) => {
      order.push('call');
      return c;
    });
    // A call made synchronously would have slept its 100 ms already.
    expect(performance.now() - started).toBeLessThan(50);
    setImmediate(() => order.push('immediate'));
    setTimeout(() => order.push('timer'), 10);
    ok(await call);
    expect(order).toEqual(['immediate', 'timer', 'call']);
  });

  it('keeps concurrent calls apart', async () => {
    const ids = Array.from(
      { length: 24 },
      (_, i) => `0000${i.toString(16).padStart(4, '0')}-aaaa-bbbb-cccc-ddddeeeeffff`,
    );
    const created = await Promise.all(ids.map((id) => api.HcnCreateLoadBalancer(id, JSON.stringify({ Name: id }))));
    const names = await Promise.all(created.map((c) => api.HcnQueryLoadBalancerProperties(ok(c).handle, '')));
    expect(names.map((n) => parse(ok(n).result).Name)).toEqual(ids);
    await Promise.all(created.map((c) => api.HcnCloseLoadBalancer(c.handle)));
    expect(parse(ok(await api.HcnEnumerateLoadBalancers('')).result).sort()).toEqual(ids);
    const deleted = await Promise.all(ids.map((id) => api.HcnDeleteLoadBalancer(id)));
    expect(deleted.map((d) => d.hr)).toEqual(ids.map(() => 0));
  });

  it('rejects, without calling, a GUID that is not one or a handle that is not a pointer', async () => {
    await expect(api.HcnOpenLoadBalancer('lb-1')).rejects.toThrow(/not a GUID/);
    await expect(api.HcnDeleteEndpoint('')).rejects.toThrow(TypeError);
    await expect(api.HcnCloseLoadBalancer({ id: 'emulator handle' })).rejects.toThrow();
  });

  it('leaves, after all the calls above, no string unfreed and no handle open', () => {
    expect(held()).toEqual({ outstanding: 0, openHandles: 0, badFrees: 0 });
  });

  it('loads nothing off Windows unless it is told which libraries to use', async () => {
    if (process.platform === 'win32') return;
    await expect(loadHcnApi()).rejects.toThrow(/only on Windows/);
  });
});
