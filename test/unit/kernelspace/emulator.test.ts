// HnsEmulator through the raw HCN C API, as a C caller drives it: JSON
// strings in, an HRESULT, a result string, an error record and handles out.
// Every refusal is checked for its exact HRESULT (signed, as C returns it)
// and its error record.
import { beforeEach, describe, expect, it } from 'vitest';
import type { HcnCall, HcnHandle } from '../../../control/proxiers/kernelspace/hcn/api.js';
import { HnsEmulator, l2bridgeNetwork, overlayNetwork } from '../../../control/proxiers/kernelspace/hcn/emulator.js';
import { HResult, ZERO_GUID } from '../../../control/proxiers/kernelspace/hcn/schema.js';

const SV = { Major: 2, Minor: 0 };
const QUERY = JSON.stringify({ SchemaVersion: SV, Flags: 0 });
const filtered = (filter: object) => JSON.stringify({ SchemaVersion: SV, Flags: 0, Filter: JSON.stringify(filter) });
const UNKNOWN = '0123abcd-0000-0000-0000-000000000000';
const CBR0 = 'A0000000-0000-4000-8000-000000000001';

/** A refusal: the signed HRESULT, no result or handle, and HNS's record carrying the unsigned code. */
function expectRefused(call: HcnCall, hr: number): void {
  expect(call.hr).toBe(hr | 0);
  expect(call.hr).toBeLessThan(0);
  expect(call.result).toBeUndefined();
  expect(call.handle).toBeUndefined();
  const record = JSON.parse(call.errorRecord!);
  expect(record).toEqual({ Success: false, Error: expect.stringMatching(/^.+\. \(.+\)$/), ErrorCode: hr >>> 0 });
}

function expectOk(call: HcnCall): void {
  expect(call.errorRecord).toBeUndefined();
  expect(call.hr).toBe(0);
}

const remoteEndpoint = (ip: string, o: object = {}) =>
  JSON.stringify({
    IpConfigurations: [{ IpAddress: ip }],
    MacAddress: '02-11-0A-F4-01-05',
    Flags: 1,
    SchemaVersion: SV,
    ...o,
  });

const providerAddress = (pa: string) => ({
  Policies: [{ Type: 'ProviderAddress', Settings: { ProviderAddress: pa } }],
});

function loadBalancer(endpoints: string[], o: object = {}, pm: object = {}): string {
  return JSON.stringify({
    HostComputeEndpoints: endpoints,
    FrontendVIPs: ['10.96.0.10'],
    PortMappings: [{ Protocol: 6, InternalPort: 8080, ExternalPort: 80, ...pm }],
    SchemaVersion: SV,
    Flags: 0,
    ...o,
  });
}

/** Opens, queries and closes, as hcsshim's getters do. */
async function properties(emu: HnsEmulator, kind: 'Network' | 'Endpoint' | 'LoadBalancer', id: string) {
  const open = await emu[`HcnOpen${kind}`](id);
  expectOk(open);
  const q = await emu[`HcnQuery${kind}Properties`](open.handle, QUERY);
  expectOk(q);
  expectOk(await emu[`HcnClose${kind}`](open.handle));
  return JSON.parse(q.result!);
}

/** Creates, reads back the ID HNS assigned, and closes the handle. */
async function createdId(emu: HnsEmulator, create: Promise<HcnCall>, kind: 'Endpoint' | 'LoadBalancer') {
  const c = await create;
  expectOk(c);
  const q = await emu[`HcnQuery${kind}Properties`](c.handle, QUERY);
  expectOk(await emu[`HcnClose${kind}`](c.handle));
  return JSON.parse(q.result!).ID as string;
}

async function networkHandle(emu: HnsEmulator, id = CBR0): Promise<HcnHandle> {
  const open = await emu.HcnOpenNetwork(id);
  expectOk(open);
  return open.handle;
}

async function createRemote(emu: HnsEmulator, ip: string, o: object = {}, network = CBR0): Promise<string> {
  const n = await networkHandle(emu, network);
  const id = await createdId(emu, emu.HcnCreateEndpoint(n, ZERO_GUID, remoteEndpoint(ip, o)), 'Endpoint');
  expectOk(await emu.HcnCloseNetwork(n));
  return id;
}

const createLb = (emu: HnsEmulator, settings: string, id = ZERO_GUID) =>
  createdId(emu, emu.HcnCreateLoadBalancer(id, settings), 'LoadBalancer');

const ids = async (call: Promise<HcnCall>) => {
  const c = await call;
  expectOk(c);
  return JSON.parse(c.result!);
};

let emu: HnsEmulator;
let local: string;
beforeEach(() => {
  emu = new HnsEmulator();
  local = emu.addLocalEndpoint({ ip: '10.244.0.5', name: 'pod-a' });
});

describe('IDs, queries and handles', () => {
  it('answers a failure with the signed HRESULT and the error record HNS writes', async () => {
    const call = await emu.HcnOpenEndpoint(UNKNOWN);
    expect(call).toEqual({
      hr: -2147023728,
      errorRecord: `{"Success":false,"Error":"Element not found. (no endpoint ${UNKNOWN})","ErrorCode":2147943568}`,
    });
  });

  it('seeds one L2Bridge network, cbr0, with an upper-case ID HNS assigned', async () => {
    expect(await ids(emu.HcnEnumerateNetworks(QUERY))).toEqual([CBR0]);
    expect(await ids(emu.HcnEnumerateNetworks(''))).toEqual([CBR0]);
    expect(await properties(emu, 'Network', CBR0.toLowerCase())).toEqual({
      ID: CBR0,
      Name: 'cbr0',
      Type: 'L2Bridge',
      Ipams: [{ Type: 'Static', Subnets: [{ IpAddressPrefix: '10.244.0.0/24' }] }],
      SchemaVersion: SV,
    });
  });

  it('filters networks by Name and ID, and endpoints by VirtualNetwork, comparing GUIDs in any case', async () => {
    const vxlan = 'C0FFEE00-0000-0000-0000-0000000000AB';
    emu = new HnsEmulator({ networks: [l2bridgeNetwork(), overlayNetwork({ id: vxlan.toLowerCase() })] });
    expect(await ids(emu.HcnEnumerateNetworks(filtered({ Name: 'vxlan0' })))).toEqual([vxlan]);
    expect(await ids(emu.HcnEnumerateNetworks(filtered({ Name: 'flannel' })))).toEqual([]);
    expect(await ids(emu.HcnEnumerateNetworks(filtered({ ID: vxlan.toLowerCase() })))).toEqual([vxlan]);
    const onBridge = emu.addLocalEndpoint({ ip: '10.244.0.5', name: 'pod-a', network: 'cbr0' });
    const onVxlan = emu.addLocalEndpoint({ ip: '192.168.1.5', name: 'pod-b', network: vxlan.toLowerCase() });
    expect(await ids(emu.HcnEnumerateEndpoints(filtered({ VirtualNetwork: vxlan.toLowerCase() })))).toEqual([onVxlan]);
    expect(await ids(emu.HcnEnumerateEndpoints(filtered({ VirtualNetwork: CBR0 })))).toEqual([onBridge]);
    expect(await ids(emu.HcnEnumerateEndpoints(filtered({ Name: 'pod-b' })))).toEqual([onVxlan]);
    expect(await ids(emu.HcnEnumerateEndpoints(filtered({ ID: onBridge.toLowerCase(), Name: 'pod-b' })))).toEqual([]);
    expect(await ids(emu.HcnEnumerateEndpoints(QUERY))).toEqual([onBridge, onVxlan]);
  });

  it('refuses a malformed query or filter', async () => {
    expectRefused(await emu.HcnEnumerateNetworks('{"SchemaVersion":'), HResult.HCN_INVALID_JSON);
    expectRefused(await emu.HcnEnumerateNetworks('[]'), HResult.HCN_INVALID_JSON);
    expectRefused(
      await emu.HcnEnumerateEndpoints(JSON.stringify({ Flags: 0, Filter: '{Name' })),
      HResult.HCN_INVALID_JSON,
    );
    expectRefused(await emu.HcnEnumerateEndpoints(JSON.stringify({ Filter: { Name: 'x' } })), HResult.HCN_INVALID_JSON);
    expectRefused(await emu.HcnEnumerateNetworks(filtered({ VirtualNetwork: CBR0 })), HResult.E_INVALIDARG);
    expectRefused(await emu.HcnEnumerateEndpoints(filtered({ Nmae: 'pod-a' })), HResult.E_INVALIDARG);
    expectRefused(await emu.HcnEnumerateEndpoints(filtered({ Name: 1 })), HResult.E_INVALIDARG);
    const h = await networkHandle(emu);
    expectRefused(await emu.HcnQueryNetworkProperties(h, 'nope'), HResult.HCN_INVALID_JSON);
  });

  it('answers ERROR_NOT_FOUND for an unknown GUID and GUID_CONVERSION_FAILURE for a non-GUID', async () => {
    expectRefused(await emu.HcnOpenNetwork(UNKNOWN), HResult.NOT_FOUND);
    expectRefused(await emu.HcnOpenLoadBalancer(UNKNOWN), HResult.NOT_FOUND);
    expectRefused(await emu.HcnOpenEndpoint('cbr0'), HResult.HCN_GUID_CONVERSION_FAILURE);
    expectRefused(await emu.HcnOpenEndpoint(`{${local}}`), HResult.HCN_GUID_CONVERSION_FAILURE);
    expectRefused(await emu.HcnDeleteLoadBalancer('LBID-1'), HResult.HCN_GUID_CONVERSION_FAILURE);
  });

  it('tracks every handle opened or created until it is closed', async () => {
    expect(emu.openHandles()).toBe(0);
    const n = await networkHandle(emu);
    const e = await emu.HcnOpenEndpoint(local.toLowerCase());
    const c = await emu.HcnCreateEndpoint(n, ZERO_GUID, remoteEndpoint('10.244.1.5'));
    expect(emu.openHandles()).toBe(3);
    expectOk(await emu.HcnCloseEndpoint(c.handle));
    expectOk(await emu.HcnCloseEndpoint(e.handle));
    expectOk(await emu.HcnCloseNetwork(n));
    expect(emu.openHandles()).toBe(0);
  });

  it('refuses a closed, unknown or other-kind handle with ERROR_INVALID_HANDLE', async () => {
    const n = await networkHandle(emu);
    const e = await emu.HcnOpenEndpoint(local);
    expectRefused(await emu.HcnQueryEndpointProperties(n, QUERY), HResult.INVALID_HANDLE);
    expectRefused(await emu.HcnCloseLoadBalancer(e.handle), HResult.INVALID_HANDLE);
    expectRefused(await emu.HcnQueryNetworkProperties({}, QUERY), HResult.INVALID_HANDLE);
    expectOk(await emu.HcnCloseNetwork(n));
    expectRefused(await emu.HcnCloseNetwork(n), HResult.INVALID_HANDLE);
    expectRefused(await emu.HcnQueryNetworkProperties(n, QUERY), HResult.INVALID_HANDLE);
    expectRefused(await emu.HcnCreateEndpoint(n, ZERO_GUID, remoteEndpoint('10.244.1.5')), HResult.INVALID_HANDLE);
    expect(emu.openHandles()).toBe(1);
  });

  it('keeps a handle open after its object is deleted, naming nothing HNS can find', async () => {
    const e = await emu.HcnOpenEndpoint(local);
    expectOk(await emu.HcnDeleteEndpoint(local));
    expectRefused(await emu.HcnQueryEndpointProperties(e.handle, QUERY), HResult.NOT_FOUND);
    expect(emu.openHandles()).toBe(1);
    expectOk(await emu.HcnCloseEndpoint(e.handle));
  });
});

describe('HcnCreateEndpoint', () => {
  it('stores a remote endpoint as sent, with the ID HNS assigned and its network', async () => {
    const id = await createRemote(emu, '10.244.1.5');
    expect(id).toBe('E0000000-0000-4000-8000-000000000004');
    expect(await properties(emu, 'Endpoint', id.toLowerCase())).toEqual({
      ID: id,
      HostComputeNetwork: CBR0,
      IpConfigurations: [{ IpAddress: '10.244.1.5' }],
      MacAddress: '02-11-0A-F4-01-05',
      Flags: 1,
      SchemaVersion: SV,
    });
    expect(emu.openHandles()).toBe(0);
  });

  it('takes a given GUID in any case and refuses one already used', async () => {
    const n = await networkHandle(emu);
    const given = 'deadbeef-1111-2222-3333-444455556666';
    expect(await createdId(emu, emu.HcnCreateEndpoint(n, given, remoteEndpoint('10.244.1.5')), 'Endpoint')).toBe(
      given.toUpperCase(),
    );
    expectRefused(
      await emu.HcnCreateEndpoint(n, given.toUpperCase(), remoteEndpoint('10.244.1.6')),
      HResult.ALREADY_EXISTS,
    );
    expectRefused(
      await emu.HcnCreateEndpoint(n, 'EPID-1', remoteEndpoint('10.244.1.6')),
      HResult.HCN_GUID_CONVERSION_FAILURE,
    );
  });

  const ep = (o: object) =>
    JSON.stringify({ IpConfigurations: [{ IpAddress: '10.244.1.5' }], SchemaVersion: SV, ...o });
  it.each([
    ['not JSON', '{"IpConfigurations":[', HResult.HCN_INVALID_JSON],
    ['a JSON array', '[]', HResult.HCN_INVALID_JSON],
    ['no SchemaVersion', ep({ SchemaVersion: undefined }), HResult.HCN_INVALID_JSON],
    ['SchemaVersion 1.0', ep({ SchemaVersion: { Major: 1, Minor: 0 } }), HResult.HCN_INVALID_JSON],
    ['no IpConfigurations', ep({ IpConfigurations: undefined }), HResult.HCN_INVALID_IP],
    ['no address', ep({ IpConfigurations: [] }), HResult.HCN_INVALID_IP],
    ['a bad address', ep({ IpConfigurations: [{ IpAddress: '10.244.1' }] }), HResult.HCN_INVALID_IP],
    ['no IpAddress', ep({ IpConfigurations: [{ PrefixLength: 24 }] }), HResult.HCN_INVALID_IP],
    [
      'two IPv4 addresses',
      ep({ IpConfigurations: [{ IpAddress: '10.0.0.1' }, { IpAddress: '10.0.0.2' }] }),
      HResult.HCN_INVALID_IP,
    ],
    ['a colon MAC', ep({ MacAddress: '02:11:0a:f4:01:05' }), HResult.E_INVALIDARG],
    ['a short MAC', ep({ MacAddress: '02-11-0A-F4-01' }), HResult.E_INVALIDARG],
    ['negative Flags', ep({ Flags: -1 }), HResult.E_INVALIDARG],
    ['Policies not a list', ep({ Policies: { Type: 'ProviderAddress' } }), HResult.HCN_INVALID_JSON],
    ['the IP of another endpoint', ep({ IpConfigurations: [{ IpAddress: '10.244.0.5' }] }), HResult.ALREADY_EXISTS],
  ])('refuses %s', async (_what, settings, hr) => {
    const n = await networkHandle(emu);
    expectRefused(await emu.HcnCreateEndpoint(n, ZERO_GUID, settings), hr);
    expect(emu.endpoints()).toHaveLength(1);
  });

  it('takes a dual-stack endpoint (one address per family) and sees an IPv6 address in any spelling', async () => {
    const id = emu.addLocalEndpoint({ ip: ['10.244.0.6', 'fd00:244::6'] });
    expect((await properties(emu, 'Endpoint', id)).IpConfigurations).toEqual([
      { IpAddress: '10.244.0.6' },
      { IpAddress: 'fd00:244::6' },
    ]);
    const n = await networkHandle(emu);
    expectRefused(await emu.HcnCreateEndpoint(n, ZERO_GUID, remoteEndpoint('FD00:244:0::6')), HResult.ALREADY_EXISTS);
  });

  it('lets two endpoints share an IP when the WS2019 duplicate-IP fault is on, or when on two networks', async () => {
    emu.faults.allowDuplicateEndpointIp = true;
    const twin = await createRemote(emu, '10.244.0.5');
    expect(emu.endpoints().map((e) => e.ID)).toEqual([local, twin]);
    emu = new HnsEmulator({ networks: [l2bridgeNetwork(), l2bridgeNetwork({ name: 'other' })] });
    emu.addLocalEndpoint({ ip: '10.244.0.5' });
    emu.addLocalEndpoint({ ip: '10.244.0.5', network: 'other' });
    expect(emu.endpoints()).toHaveLength(2);
  });

  it('needs a ProviderAddress policy for a remote endpoint on overlay, and only there', async () => {
    emu = new HnsEmulator({ networks: [overlayNetwork()] });
    const vxlan = emu.networks()[0]!.ID!;
    const n = await networkHandle(emu, vxlan);
    expectRefused(
      await emu.HcnCreateEndpoint(n, ZERO_GUID, remoteEndpoint('192.168.2.5')),
      HResult.HCN_INVALID_REMOTE_ENDPOINT_OPERATION,
    );
    expectRefused(
      await emu.HcnCreateEndpoint(n, ZERO_GUID, remoteEndpoint('192.168.2.5', providerAddress('10.0.0'))),
      HResult.HCN_INVALID_REMOTE_ENDPOINT_OPERATION,
    );
    const remote = await createRemote(emu, '192.168.2.5', providerAddress('10.0.0.3'), vxlan);
    expect((await properties(emu, 'Endpoint', remote)).Policies).toEqual(providerAddress('10.0.0.3').Policies);
    expect(emu.addLocalEndpoint({ ip: '192.168.1.5' })).toMatch(/^E0000000-/);
    expect(await createRemote(new HnsEmulator(), '10.244.1.5')).toMatch(/^E0000000-/);
  });

  it('plays the CNI: a local endpoint with a Hyper-V MAC on the first network by default', async () => {
    expect(await properties(emu, 'Endpoint', local)).toEqual({
      ID: 'E0000000-0000-4000-8000-000000000003',
      HostComputeNetwork: CBR0,
      Name: 'pod-a',
      IpConfigurations: [{ IpAddress: '10.244.0.5' }],
      MacAddress: '00-15-5D-00-00-02',
      Flags: 0,
      SchemaVersion: SV,
    });
    expect(() => emu.addLocalEndpoint({ ip: '10.244.0.7', network: 'flannel' })).toThrow('no network flannel');
    expect(() => emu.addLocalEndpoint({ ip: '10.244.0.5' })).toThrow('0x800700b7');
  });
});

describe('HcnDeleteEndpoint', () => {
  it('deletes by GUID in any case; an unknown one is ERROR_NOT_FOUND', async () => {
    expectRefused(await emu.HcnDeleteEndpoint(UNKNOWN), HResult.NOT_FOUND);
    expectRefused(await emu.HcnDeleteEndpoint('pod-a'), HResult.HCN_GUID_CONVERSION_FAILURE);
    expectOk(await emu.HcnDeleteEndpoint(local.toLowerCase()));
    expect(emu.endpoints()).toEqual([]);
    expectRefused(await emu.HcnDeleteEndpoint(local), HResult.NOT_FOUND);
  });

  it('refuses an endpoint a load balancer uses, until the load balancer is gone', async () => {
    const lb = await createLb(emu, loadBalancer([local]));
    expectRefused(await emu.HcnDeleteEndpoint(local), HResult.HCN_ENTITY_HAS_REFERENCES);
    expect(() => emu.removeEndpoint(local)).toThrow('0x803b002c');
    expectOk(await emu.HcnDeleteLoadBalancer(lb));
    emu.removeEndpoint(local);
    expect(emu.endpoints()).toEqual([]);
  });
});

describe('HcnCreateLoadBalancer', () => {
  it('stores the document with the ID HNS assigned and endpoint GUIDs upper case', async () => {
    const id = await createLb(emu, loadBalancer([local.toLowerCase()], { SourceVIP: '10.244.0.2' }));
    expect(id).toBe('B0000000-0000-4000-8000-000000000004');
    const stored = {
      ID: id,
      HostComputeEndpoints: [local],
      FrontendVIPs: ['10.96.0.10'],
      PortMappings: [{ Protocol: 6, InternalPort: 8080, ExternalPort: 80 }],
      SchemaVersion: SV,
      Flags: 0,
      SourceVIP: '10.244.0.2',
    };
    expect(await properties(emu, 'LoadBalancer', id.toLowerCase())).toEqual(stored);
    expect(emu.loadBalancers()).toEqual([stored]);
    expect(await ids(emu.HcnEnumerateLoadBalancers(filtered({ ID: id.toLowerCase() })))).toEqual([id]);
    expect(emu.openHandles()).toBe(0);
  });

  it('takes a given GUID and refuses one already used', async () => {
    const given = 'abcdef00-0000-0000-0000-000000000001';
    expect(await createLb(emu, loadBalancer([local]), given)).toBe(given.toUpperCase());
    expectRefused(
      await emu.HcnCreateLoadBalancer(given, loadBalancer([local], { FrontendVIPs: ['10.96.0.11'] })),
      HResult.ALREADY_EXISTS,
    );
  });

  it.each([
    ['not JSON', () => '{"PortMappings":', HResult.HCN_INVALID_JSON],
    ['no SchemaVersion', () => loadBalancer([local], { SchemaVersion: undefined }), HResult.HCN_INVALID_JSON],
    ['SchemaVersion 1.0', () => loadBalancer([local], { SchemaVersion: { Major: 1 } }), HResult.HCN_INVALID_JSON],
    ['no PortMappings', () => loadBalancer([local], { PortMappings: [] }), HResult.E_INVALIDARG],
    [
      'two PortMappings',
      () => {
        const pm = { Protocol: 6, InternalPort: 80, ExternalPort: 80 };
        return loadBalancer([local], { PortMappings: [pm, { ...pm, Protocol: 17 }] });
      },
      HResult.E_INVALIDARG,
    ],
    ['ICMP', () => loadBalancer([local], {}, { Protocol: 1 }), HResult.E_INVALIDARG],
    ['the protocol by name', () => loadBalancer([local], {}, { Protocol: 'TCP' }), HResult.E_INVALIDARG],
    ['InternalPort 0', () => loadBalancer([local], {}, { InternalPort: 0 }), HResult.HCN_INVALID_INTERNAL_PORT],
    [
      'no InternalPort',
      () => loadBalancer([local], {}, { InternalPort: undefined }),
      HResult.HCN_INVALID_INTERNAL_PORT,
    ],
    ['InternalPort 65536', () => loadBalancer([local], {}, { InternalPort: 65536 }), HResult.HCN_INVALID_INTERNAL_PORT],
    ['ExternalPort 0', () => loadBalancer([local], {}, { ExternalPort: 0 }), HResult.E_INVALIDARG],
    ['DistributionType 7', () => loadBalancer([local], {}, { DistributionType: 7 }), HResult.E_INVALIDARG],
    [
      'two FrontendVIPs',
      () => loadBalancer([local], { FrontendVIPs: ['10.96.0.10', '10.96.0.11'] }),
      HResult.E_INVALIDARG,
    ],
    ['a bad FrontendVIP', () => loadBalancer([local], { FrontendVIPs: ['10.96.0.300'] }), HResult.HCN_INVALID_IP],
    ['a bad SourceVIP', () => loadBalancer([local], { SourceVIP: '' }), HResult.HCN_INVALID_IP],
    [
      'an IPv6 VIP without the IPv6 flag',
      () => loadBalancer([local], { FrontendVIPs: ['fd00::a'] }),
      HResult.E_INVALIDARG,
    ],
    ['an IPv4 VIP with the IPv6 flag', () => loadBalancer([local], { Flags: 2 }), HResult.E_INVALIDARG],
    [
      'an IPv4 SourceVIP with the IPv6 flag',
      () => loadBalancer([local], { Flags: 2, FrontendVIPs: ['fd00::a'], SourceVIP: '10.244.0.2' }),
      HResult.E_INVALIDARG,
    ],
    ['no backends (kubernetes#106936)', () => loadBalancer([]), HResult.E_INVALIDARG],
    ['no HostComputeEndpoints', () => loadBalancer([local], { HostComputeEndpoints: undefined }), HResult.E_INVALIDARG],
    ['a backend that is no GUID', () => loadBalancer(['EPID-1']), HResult.HCN_GUID_CONVERSION_FAILURE],
    ['an unknown backend', () => loadBalancer([local, UNKNOWN]), HResult.HCN_ENDPOINT_NOT_FOUND],
  ])('refuses %s', async (_what, settings, hr) => {
    expectRefused(await emu.HcnCreateLoadBalancer(ZERO_GUID, settings()), hr);
    expect(emu.loadBalancers()).toEqual([]);
  });

  it('takes an IPv6 load balancer with the IPv6 flag, and none before HNS 11.10', async () => {
    const v6 = emu.addLocalEndpoint({ ip: 'fd00:244::5' });
    const settings = loadBalancer([v6], { Flags: 2, FrontendVIPs: ['fd00:10:96::a'] });
    expect(await createLb(emu, settings)).toMatch(/^B0000000-/);
    emu = new HnsEmulator({ version: { major: 11, minor: 9 } });
    const old = emu.addLocalEndpoint({ ip: 'fd00:244::5' });
    expectRefused(
      await emu.HcnCreateLoadBalancer(ZERO_GUID, loadBalancer([old], { Flags: 2, FrontendVIPs: ['fd00:10:96::a'] })),
      HResult.HCN_REQUEST_UNSUPPORTED,
    );
  });

  it('refuses DSR where the HNS version has none (9.3-9.x and from 10.2)', async () => {
    const dsr = (v: { major: number; minor: number }) => {
      emu = new HnsEmulator({ version: v });
      return emu.HcnCreateLoadBalancer(
        ZERO_GUID,
        loadBalancer([emu.addLocalEndpoint({ ip: '10.244.0.5' })], { Flags: 1 }),
      );
    };
    expectRefused(await dsr({ major: 10, minor: 1 }), HResult.HCN_REQUEST_UNSUPPORTED);
    expectRefused(await dsr({ major: 9, minor: 2 }), HResult.HCN_REQUEST_UNSUPPORTED);
    expectOk(await dsr({ major: 9, minor: 3 }));
    expectOk(await dsr({ major: 10, minor: 2 }));
  });

  it('accepts DistributionType below HNS 12.0 and drops it, and keeps it from 12.0', async () => {
    const affinity = loadBalancer([local], {}, { DistributionType: 2 });
    expect((await properties(emu, 'LoadBalancer', await createLb(emu, affinity))).PortMappings).toEqual([
      { Protocol: 6, InternalPort: 8080, ExternalPort: 80, DistributionType: 2 },
    ]);
    emu = new HnsEmulator({ version: { major: 11, minor: 10 } });
    const ep = emu.addLocalEndpoint({ ip: '10.244.0.5' });
    const id = await createLb(emu, loadBalancer([ep], {}, { DistributionType: 9 }));
    expect((await properties(emu, 'LoadBalancer', id)).PortMappings).toEqual([
      { Protocol: 6, InternalPort: 8080, ExternalPort: 80 },
    ]);
  });

  it('refuses a second load balancer on a frontend with ERROR_ALREADY_EXISTS (kubernetes#139519)', async () => {
    const other = emu.addLocalEndpoint({ ip: '10.244.0.6' });
    const v6 = emu.addLocalEndpoint({ ip: 'fd00:244::6' });
    await createLb(emu, loadBalancer([local]));
    await createLb(emu, loadBalancer([local], { FrontendVIPs: undefined }, { ExternalPort: 30080 }));
    await createLb(emu, loadBalancer([v6], { FrontendVIPs: ['fd00:10:96::a'], Flags: 2 }));
    const clash = async (settings: string) =>
      expectRefused(await emu.HcnCreateLoadBalancer(ZERO_GUID, settings), HResult.ALREADY_EXISTS);
    await clash(loadBalancer([other], {}, { InternalPort: 9090 }));
    await clash(loadBalancer([other], { FrontendVIPs: undefined }, { ExternalPort: 30080, InternalPort: 1 }));
    await clash(loadBalancer([v6], { FrontendVIPs: ['FD00:10:96:0::A'], Flags: 2 }));
    // Another protocol, port, VIP or family is another frontend.
    await createLb(emu, loadBalancer([local], {}, { Protocol: 17 }));
    await createLb(emu, loadBalancer([local], {}, { ExternalPort: 81 }));
    await createLb(emu, loadBalancer([local], { FrontendVIPs: ['10.96.0.11'] }));
    await createLb(emu, loadBalancer([v6], { FrontendVIPs: undefined, Flags: 2 }, { ExternalPort: 30080 }));
    expect(emu.loadBalancers()).toHaveLength(7);
  });

  it('refuses a host-held port on a host address (kubernetes/community#8883), not on a cluster VIP', async () => {
    const v6 = emu.addLocalEndpoint({ ip: 'fd00:244::6' });
    const healthz = { ExternalPort: 10256, InternalPort: 10256 };
    const nodePort = loadBalancer([local], { FrontendVIPs: undefined }, healthz);
    expectRefused(await emu.HcnCreateLoadBalancer(ZERO_GUID, nodePort), HResult.HCN_PORT_ALREADY_EXISTS);
    const ingress = loadBalancer([local], { FrontendVIPs: ['203.0.113.7'] }, healthz);
    expectRefused(await emu.HcnCreateLoadBalancer(ZERO_GUID, ingress), HResult.HCN_PORT_ALREADY_EXISTS);
    await createLb(emu, loadBalancer([local], {}, healthz));
    await createLb(emu, loadBalancer([v6], { FrontendVIPs: ['fd00:10:96::a'], Flags: 2 }, healthz));
    await createLb(emu, loadBalancer([local], { FrontendVIPs: undefined }, { ...healthz, Protocol: 17 }));
    emu = new HnsEmulator({ reservedHostPorts: [{ protocol: 17, port: 53 }], internalVipRanges: ['10.0.0.0/16'] });
    const ep = emu.addLocalEndpoint({ ip: '10.244.0.5' });
    await createLb(emu, loadBalancer([ep], { FrontendVIPs: undefined }, healthz));
    await createLb(emu, loadBalancer([ep], { FrontendVIPs: ['10.0.0.10'] }, { Protocol: 17, ExternalPort: 53 }));
    expectRefused(
      await emu.HcnCreateLoadBalancer(ZERO_GUID, loadBalancer([ep], {}, { Protocol: 17, ExternalPort: 53 })),
      HResult.HCN_PORT_ALREADY_EXISTS,
    );
  });

  it('gives each non-DSR load balancer a 64-port block and answers 0x8007000E when none is left', async () => {
    emu = new HnsEmulator({ ephemeralBlocks: 2 });
    const ep = emu.addLocalEndpoint({ ip: '10.244.0.5' });
    const port = (p: number, flags = 0) => loadBalancer([ep], { Flags: flags }, { ExternalPort: p });
    const first = await createLb(emu, port(80));
    await createLb(emu, port(81));
    expectRefused(await emu.HcnCreateLoadBalancer(ZERO_GUID, port(82)), HResult.OUT_OF_MEMORY);
    await createLb(emu, port(83, 1));
    expectOk(await emu.HcnDeleteLoadBalancer(first));
    await createLb(emu, port(82));
  });
});

describe('HcnModifyLoadBalancer', () => {
  async function withLoadBalancer(version: { major: number; minor: number }) {
    emu = new HnsEmulator({ version });
    const a = emu.addLocalEndpoint({ ip: '10.244.0.5' });
    const b = emu.addLocalEndpoint({ ip: '10.244.0.6' });
    const id = await createLb(emu, loadBalancer([a]));
    const open = await emu.HcnOpenLoadBalancer(id);
    return { a, b, id, handle: open.handle };
  }

  it('replaces the document on HNS 16.0 and 15.5, keeping the frontend', async () => {
    for (const version of [
      { major: 16, minor: 0 },
      { major: 15, minor: 5 },
    ]) {
      const { a, b, id, handle } = await withLoadBalancer(version);
      expectOk(await emu.HcnModifyLoadBalancer(handle, loadBalancer([a, b.toLowerCase()], {}, { InternalPort: 9090 })));
      expect(emu.loadBalancers()).toEqual([
        expect.objectContaining({
          ID: id,
          HostComputeEndpoints: [a, b],
          PortMappings: [{ Protocol: 6, InternalPort: 9090, ExternalPort: 80 }],
        }),
      ]);
      expectOk(await emu.HcnCloseLoadBalancer(handle));
      expect(emu.openHandles()).toBe(0);
    }
  });

  it('answers E_NOTIMPL below the gate and changes nothing', async () => {
    const { b, handle } = await withLoadBalancer({ major: 15, minor: 3 });
    const before = emu.loadBalancers();
    expectRefused(await emu.HcnModifyLoadBalancer(handle, loadBalancer([b])), HResult.E_NOTIMPL);
    emu.setVersion({ major: 12, minor: 0 });
    expectRefused(await emu.HcnModifyLoadBalancer(handle, loadBalancer([b])), HResult.E_NOTIMPL);
    expect(emu.loadBalancers()).toEqual(before);
  });

  it('answers S_OK on 15.4 yet keeps the old endpoints (kubernetes#131466)', async () => {
    const { a, b, handle } = await withLoadBalancer({ major: 15, minor: 4 });
    expectOk(await emu.HcnModifyLoadBalancer(handle, loadBalancer([b], {}, { InternalPort: 9090 })));
    expect(emu.loadBalancers()).toEqual([
      expect.objectContaining({
        HostComputeEndpoints: [a],
        PortMappings: [{ Protocol: 6, InternalPort: 9090, ExternalPort: 80 }],
      }),
    ]);
  });

  it('validates as create does, but the load balancer does not clash with itself', async () => {
    emu = new HnsEmulator({ ephemeralBlocks: 2 });
    const a = emu.addLocalEndpoint({ ip: '10.244.0.5' });
    const id = await createLb(emu, loadBalancer([a]));
    await createLb(emu, loadBalancer([a], { FrontendVIPs: ['10.96.0.11'] }));
    const { handle } = await emu.HcnOpenLoadBalancer(id);
    expectOk(await emu.HcnModifyLoadBalancer(handle, loadBalancer([a], { SourceVIP: '10.244.0.2' })));
    expectRefused(await emu.HcnModifyLoadBalancer(handle, loadBalancer([])), HResult.E_INVALIDARG);
    expectRefused(await emu.HcnModifyLoadBalancer(handle, '{'), HResult.HCN_INVALID_JSON);
    expectRefused(
      await emu.HcnModifyLoadBalancer(handle, loadBalancer([a], { FrontendVIPs: ['10.96.0.11'] })),
      HResult.ALREADY_EXISTS,
    );
    expectRefused(
      await emu.HcnModifyLoadBalancer(handle, loadBalancer([a], {}, { InternalPort: 0 })),
      HResult.HCN_INVALID_INTERNAL_PORT,
    );
    expect(emu.loadBalancers()[0]).toEqual(
      expect.objectContaining({ SourceVIP: '10.244.0.2', FrontendVIPs: ['10.96.0.10'] }),
    );
  });

  it('refuses a handle whose load balancer is gone, or that is closed', async () => {
    const { a, id, handle } = await withLoadBalancer({ major: 16, minor: 0 });
    expectOk(await emu.HcnDeleteLoadBalancer(id));
    expectRefused(await emu.HcnModifyLoadBalancer(handle, loadBalancer([a])), HResult.NOT_FOUND);
    expectOk(await emu.HcnCloseLoadBalancer(handle));
    expectRefused(await emu.HcnModifyLoadBalancer(handle, loadBalancer([a])), HResult.INVALID_HANDLE);
  });
});

describe('HcnDeleteLoadBalancer', () => {
  it('deletes by GUID in any case; an unknown one is ERROR_NOT_FOUND', async () => {
    const id = await createLb(emu, loadBalancer([local]));
    expectRefused(await emu.HcnDeleteLoadBalancer(UNKNOWN), HResult.NOT_FOUND);
    expectOk(await emu.HcnDeleteLoadBalancer(id.toLowerCase()));
    expect(await ids(emu.HcnEnumerateLoadBalancers(QUERY))).toEqual([]);
    expectRefused(await emu.HcnDeleteLoadBalancer(id), HResult.NOT_FOUND);
  });
});

describe('HNSCall', () => {
  it('answers GET /globals/version with the configured version, in V1 form', async () => {
    expect(await emu.HNSCall('GET', '/globals/version', '')).toEqual({
      hr: 0,
      result: '{"Success":true,"Output":{"Major":16,"Minor":0}}',
    });
    emu.setVersion({ major: 15, minor: 4 });
    expect((await emu.HNSCall('GET', '/globals/version', '')).result).toBe(
      '{"Success":true,"Output":{"Major":15,"Minor":4}}',
    );
    expectRefused(await emu.HNSCall('GET', '/policylists', ''), HResult.E_NOTIMPL);
  });
});

describe('faults', () => {
  it('fails every call with RPC_S_SERVER_UNAVAILABLE while HNS is down, changing nothing', async () => {
    const n = await networkHandle(emu);
    emu.setDown(true);
    expectRefused(await emu.HcnEnumerateLoadBalancers(QUERY), HResult.RPC_UNAVAILABLE);
    expectRefused(await emu.HcnOpenEndpoint(local), HResult.RPC_UNAVAILABLE);
    expectRefused(await emu.HcnCreateEndpoint(n, ZERO_GUID, remoteEndpoint('10.244.1.5')), HResult.RPC_UNAVAILABLE);
    expectRefused(await emu.HcnCreateLoadBalancer(ZERO_GUID, loadBalancer([local])), HResult.RPC_UNAVAILABLE);
    expectRefused(await emu.HcnDeleteEndpoint(local), HResult.RPC_UNAVAILABLE);
    expectRefused(await emu.HcnCloseNetwork(n), HResult.RPC_UNAVAILABLE);
    expectRefused(await emu.HNSCall('GET', '/globals/version', ''), HResult.RPC_UNAVAILABLE);
    emu.setDown(false);
    expect(emu.endpoints().map((e) => e.ID)).toEqual([local]);
    expect(emu.loadBalancers()).toEqual([]);
    expectOk(await emu.HcnCloseNetwork(n));
  });

  it('fails the next calls of one name with the HRESULT given, then lets them through', async () => {
    const id = await createLb(emu, loadBalancer([local]));
    emu.failNext('HcnDeleteLoadBalancer', HResult.HCN_PORT_NOT_FOUND);
    expectRefused(await emu.HcnDeleteLoadBalancer(id), HResult.HCN_PORT_NOT_FOUND);
    expect(emu.loadBalancers()).toHaveLength(1);
    expectOk(await emu.HcnDeleteLoadBalancer(id));
    emu.failNext('HcnEnumerateEndpoints', HResult.E_INVALIDARG | 0, 2);
    expectOk(await emu.HcnEnumerateLoadBalancers(QUERY));
    expectRefused(await emu.HcnEnumerateEndpoints(QUERY), HResult.E_INVALIDARG);
    expectRefused(await emu.HcnEnumerateEndpoints(QUERY), HResult.E_INVALIDARG);
    expectOk(await emu.HcnEnumerateEndpoints(QUERY));
  });

  it('restarts with rehydration: every handle void, load balancers and endpoints back (kubernetes#139519)', async () => {
    const remote = await createRemote(emu, '10.244.1.5');
    const lb = await createLb(emu, loadBalancer([local, remote]));
    const held = await emu.HcnOpenLoadBalancer(lb);
    emu.setDown(true);
    emu.restart({ rehydrate: true });
    expect(emu.openHandles()).toBe(0);
    expectRefused(await emu.HcnQueryLoadBalancerProperties(held.handle, QUERY), HResult.INVALID_HANDLE);
    expect(await ids(emu.HcnEnumerateLoadBalancers(QUERY))).toEqual([lb]);
    expect(await ids(emu.HcnEnumerateEndpoints(QUERY))).toEqual([local, remote]);
    // A caller that took "down" for "absent" creates again and meets the rehydrated one.
    expectRefused(await emu.HcnCreateLoadBalancer(ZERO_GUID, loadBalancer([local])), HResult.ALREADY_EXISTS);
  });

  it('restarts without rehydration: only networks and the CNI’s local endpoints are left', async () => {
    await createRemote(emu, '10.244.1.5');
    await createLb(emu, loadBalancer([local]));
    const n = await networkHandle(emu);
    emu.restart({ rehydrate: false });
    expect(emu.openHandles()).toBe(0);
    expectRefused(await emu.HcnCloseNetwork(n), HResult.INVALID_HANDLE);
    expect(await ids(emu.HcnEnumerateLoadBalancers(QUERY))).toEqual([]);
    expect(await ids(emu.HcnEnumerateEndpoints(QUERY))).toEqual([local]);
    expect(await ids(emu.HcnEnumerateNetworks(QUERY))).toEqual([CBR0]);
  });

  it('deletes out of band, ignoring references', async () => {
    const lb = await createLb(emu, loadBalancer([local]));
    expect(emu.deleteOutOfBand(local.toLowerCase())).toBe(true);
    expect(emu.endpoints()).toEqual([]);
    expect(emu.loadBalancers().map((l) => l.ID)).toEqual([lb]);
    expect(emu.deleteOutOfBand(lb)).toBe(true);
    expect(await ids(emu.HcnEnumerateLoadBalancers(QUERY))).toEqual([]);
    expectRefused(await emu.HcnOpenLoadBalancer(lb), HResult.NOT_FOUND);
    expect(emu.deleteOutOfBand(lb)).toBe(false);
  });

  it('hands out snapshots a test cannot change HNS through', async () => {
    emu.endpoints()[0]!.IpConfigurations![0]!.IpAddress = '10.0.0.1';
    expect((await properties(emu, 'Endpoint', local)).IpConfigurations).toEqual([{ IpAddress: '10.244.0.5' }]);
  });
});
