// HcnApi over the real HCN C API: computenetwork.dll's Hcn* functions and
// vmcompute.dll's V1 HNSCall, called through koffi (a C FFI with prebuilt
// binaries, no compiler on the node). On Linux the same declarations load a
// stand-in with identical signatures (test/native/hcn-shim.c), which is how
// this file is tested.
//
// What the C side asks of us (ComputeNetwork.h, hcsshim hcn/zsyscall_windows.go):
// - Strings are NUL-terminated UTF-16LE (PCWSTR): koffi's `const char16_t *`.
// - Every PWSTR* out-string (ID lists, properties, error records, the V1
//   response) is allocated by HNS with CoTaskMemAlloc, so it must go back to
//   CoTaskMemFree; koffi.free is C's free(), another allocator, and would
//   corrupt the heap. We decode and free each one in a finally.
// - ErrorRecord is _Outptr_opt_: NULL means none. A call failed when hr < 0
//   *or* the record is not empty, even with hr == 0 (hcsshim checkForErrors);
//   the caller reads both from HcnCall, this file only reports them.
// - HNS answers over RPC and can take seconds, so every call runs through
//   koffi's .async(), on a worker thread, never blocking the event loop.
import type { HcnApi, HcnCall, HcnHandle } from './api.js';
import { GUID_PATTERN } from './schema.js';

/** Where the functions live: the DLLs on Windows, one stand-in library in the tests. */
export interface HcnLibraries {
  /** The Hcn* functions. */
  computenetwork: string;
  /** HNSCall, the V1 API (the HNS version). */
  vmcompute: string;
  /** The function that frees what the other two return: CoTaskMemFree. */
  memFree: { library: string; symbol: string };
}

/** hcsshim imports CoTaskMemFree from api-ms-win-core-com-l1-1-0.dll; ole32.dll exports the same function. */
export const WINDOWS_HCN_LIBRARIES: HcnLibraries = {
  computenetwork: 'computenetwork.dll',
  vmcompute: 'vmcompute.dll',
  memFree: { library: 'ole32.dll', symbol: 'CoTaskMemFree' },
};

/** guiddef.h's GUID, as koffi marshals the struct. */
export interface GuidStruct {
  Data1: number;
  Data2: number;
  Data3: number;
  Data4: number[];
}

/**
 * The textual GUID as the struct REFGUID points to. The first three groups are
 * integers (Data1..Data3), which Windows stores little-endian, so
 * 00112233-4455-6677-… is the bytes 33 22 11 00 55 44 77 66 …; koffi writes the
 * fields in the machine's order, which is that one on x64 and arm64. The last
 * two groups are Data4's bytes in text order. Copying the 16 text bytes as
 * they read would swap the first three groups.
 */
export function guidToStruct(text: string): GuidStruct {
  if (!GUID_PATTERN.test(text)) throw new TypeError(`not a GUID: ${JSON.stringify(text)}`);
  const hex = text.replaceAll('-', '');
  const field = (from: number, to: number) => Number.parseInt(hex.slice(from, to), 16);
  return {
    Data1: field(0, 8),
    Data2: field(8, 12),
    Data3: field(12, 16),
    Data4: Array.from({ length: 8 }, (_, i) => field(16 + 2 * i, 18 + 2 * i)),
  };
}

/** The struct as text, in lower case as hcsshim's guid.String() prints it. */
export function guidFromStruct(g: GuidStruct): string {
  const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0');
  const d4 = g.Data4.map((b) => hex(b, 2)).join('');
  return `${hex(g.Data1, 8)}-${hex(g.Data2, 4)}-${hex(g.Data3, 4)}-${d4.slice(0, 4)}-${d4.slice(4)}`;
}

type Koffi = typeof import('koffi')['default'];
type KoffiFunction = ReturnType<ReturnType<Koffi['load']>['func']>;

// koffi's named types are process-wide and may be declared once, so the first
// load declares them and every later one reuses them.
let declared: Promise<Koffi> | undefined;

function koffiWithHcnTypes(): Promise<Koffi> {
  declared ??= (async () => {
    const { default: koffi } = await import('koffi');
    koffi.alias('HRESULT', 'int32_t');
    const guid = koffi.struct('GUID', {
      Data1: 'uint32_t',
      Data2: 'uint16_t',
      Data3: 'uint16_t',
      Data4: koffi.array('uint8_t', 8, 'Array'),
    });
    if (koffi.sizeof(guid) !== 16) throw new Error(`koffi lays GUID out in ${koffi.sizeof(guid)} bytes, not 16`);
    // HCN_NETWORK, HCN_ENDPOINT and HCN_LOADBALANCER are all `void *`: one opaque pointer type.
    koffi.pointer('HCN_HANDLE', koffi.opaque());
    return koffi;
  })().catch((err: unknown) => {
    declared = undefined;
    throw err;
  });
  return declared;
}

// The prototypes of ComputeNetwork.h. PCWSTR is `const char16_t *`; a PWSTR* is
// `_Out_ void **`, not a string type, so that we keep the pointer to free it.
const PROTOTYPES = {
  HcnEnumerateNetworks: 'HcnEnumerateNetworks(const char16_t *Query, _Out_ void **Networks, _Out_ void **ErrorRecord)',
  HcnOpenNetwork: 'HcnOpenNetwork(const GUID *Id, _Out_ HCN_HANDLE *Network, _Out_ void **ErrorRecord)',
  HcnQueryNetworkProperties:
    'HcnQueryNetworkProperties(HCN_HANDLE Network, const char16_t *Query, _Out_ void **Properties, _Out_ void **ErrorRecord)',
  HcnCloseNetwork: 'HcnCloseNetwork(HCN_HANDLE Network)',

  HcnEnumerateEndpoints:
    'HcnEnumerateEndpoints(const char16_t *Query, _Out_ void **Endpoints, _Out_ void **ErrorRecord)',
  HcnCreateEndpoint:
    'HcnCreateEndpoint(HCN_HANDLE Network, const GUID *Id, const char16_t *Settings, _Out_ HCN_HANDLE *Endpoint, _Out_ void **ErrorRecord)',
  HcnOpenEndpoint: 'HcnOpenEndpoint(const GUID *Id, _Out_ HCN_HANDLE *Endpoint, _Out_ void **ErrorRecord)',
  HcnQueryEndpointProperties:
    'HcnQueryEndpointProperties(HCN_HANDLE Endpoint, const char16_t *Query, _Out_ void **Properties, _Out_ void **ErrorRecord)',
  HcnDeleteEndpoint: 'HcnDeleteEndpoint(const GUID *Id, _Out_ void **ErrorRecord)',
  HcnCloseEndpoint: 'HcnCloseEndpoint(HCN_HANDLE Endpoint)',

  HcnEnumerateLoadBalancers:
    'HcnEnumerateLoadBalancers(const char16_t *Query, _Out_ void **LoadBalancer, _Out_ void **ErrorRecord)',
  HcnCreateLoadBalancer:
    'HcnCreateLoadBalancer(const GUID *Id, const char16_t *Settings, _Out_ HCN_HANDLE *LoadBalancer, _Out_ void **ErrorRecord)',
  HcnOpenLoadBalancer: 'HcnOpenLoadBalancer(const GUID *Id, _Out_ HCN_HANDLE *LoadBalancer, _Out_ void **ErrorRecord)',
  HcnQueryLoadBalancerProperties:
    'HcnQueryLoadBalancerProperties(HCN_HANDLE LoadBalancer, const char16_t *Query, _Out_ void **Properties, _Out_ void **ErrorRecord)',
  HcnModifyLoadBalancer:
    'HcnModifyLoadBalancer(HCN_HANDLE LoadBalancer, const char16_t *Settings, _Out_ void **ErrorRecord)',
  HcnDeleteLoadBalancer: 'HcnDeleteLoadBalancer(const GUID *Id, _Out_ void **ErrorRecord)',
  HcnCloseLoadBalancer: 'HcnCloseLoadBalancer(HCN_HANDLE LoadBalancer)',
} as const;

// vmcompute.dll's V1 entry point: the response is {"Success","Error","Output"}.
const HNS_CALL =
  'HNSCall(const char16_t *Method, const char16_t *Path, const char16_t *Request, _Out_ void **Response)';

/** One-element arrays koffi fills with an out-parameter's value after the call (a pointer is a BigInt, NULL null). */
type Cell = [unknown];
interface Outs {
  result: Cell;
  record: Cell;
  handle: Cell;
}
const outs = (): Outs => ({ result: [null], record: [null], handle: [null] });

/** The function on a worker thread; koffi fills the out cells before the callback runs. */
const invoke = (fn: KoffiFunction, args: unknown[]): Promise<number> =>
  new Promise((resolve, reject) => {
    fn.async(...args, (err: unknown, hr: number) => (err ? reject(err) : resolve(hr)));
  });

/**
 * The HCN API through koffi. Without `libs` it loads the Windows DLLs, and off
 * Windows it refuses; the tests name a stand-in library instead. koffi itself
 * is imported here, so nothing loads its native module unless this is called.
 */
export async function loadHcnApi(libs?: HcnLibraries): Promise<HcnApi> {
  if (libs === undefined && process.platform !== 'win32') {
    throw new Error(`the HCN API (computenetwork.dll) exists only on Windows, not on ${process.platform}`);
  }
  const { computenetwork, vmcompute, memFree } = libs ?? WINDOWS_HCN_LIBRARIES;
  const koffi = await koffiWithHcnTypes();

  // WINAPI is __stdcall; koffi honours it on 32-bit x86 and ignores it on x64 and arm64.
  const hcn = koffi.load(computenetwork);
  const declare = (proto: string) => hcn.func(`HRESULT __stdcall ${proto}`);
  const fn = Object.fromEntries(Object.entries(PROTOTYPES).map(([name, proto]) => [name, declare(proto)])) as Record<
    keyof typeof PROTOTYPES,
    KoffiFunction
  >;
  const hnsCall = koffi.load(vmcompute).func(`HRESULT __stdcall ${HNS_CALL}`);
  // Freeing is a few instructions: called synchronously, on the main thread.
  const free = koffi.load(memFree.library).func(`void __stdcall ${memFree.symbol}(void *pv)`);

  /** The UTF-16 string HNS allocated, decoded, and always handed back to its allocator. */
  const take = (ptr: unknown): string | undefined => {
    if (ptr === null || ptr === undefined) return undefined;
    try {
      return koffi.decode.string16(ptr);
    } finally {
      free(ptr);
    }
  };

  const run = async (f: KoffiFunction, args: unknown[], out: Outs): Promise<HcnCall> => {
    const call: HcnCall = { hr: await invoke(f, args) };
    if (out.handle[0] !== null) call.handle = out.handle[0];
    try {
      const result = take(out.result[0]);
      if (result !== undefined) call.result = result;
    } finally {
      // An empty record is no error (hcsshim tests `errorString != ""`): only a non-empty one is kept.
      const record = take(out.record[0]);
      if (record) call.errorRecord = record;
    }
    return call;
  };

  const enumerate =
    (f: KoffiFunction) =>
    (query: string): Promise<HcnCall> => {
      const o = outs();
      return run(f, [query, o.result, o.record], o);
    };
  const open =
    (f: KoffiFunction) =>
    async (id: string): Promise<HcnCall> => {
      const o = outs();
      return run(f, [guidToStruct(id), o.handle, o.record], o);
    };
  const query =
    (f: KoffiFunction) =>
    (handle: HcnHandle, q: string): Promise<HcnCall> => {
      const o = outs();
      return run(f, [handle, q, o.result, o.record], o);
    };
  const remove =
    (f: KoffiFunction) =>
    async (id: string): Promise<HcnCall> => {
      const o = outs();
      return run(f, [guidToStruct(id), o.record], o);
    };
  const close =
    (f: KoffiFunction) =>
    (handle: HcnHandle): Promise<HcnCall> =>
      run(f, [handle], outs());

  return {
    HcnEnumerateNetworks: enumerate(fn.HcnEnumerateNetworks),
    HcnOpenNetwork: open(fn.HcnOpenNetwork),
    HcnQueryNetworkProperties: query(fn.HcnQueryNetworkProperties),
    HcnCloseNetwork: close(fn.HcnCloseNetwork),

    HcnEnumerateEndpoints: enumerate(fn.HcnEnumerateEndpoints),
    HcnCreateEndpoint: async (network, id, settings) => {
      const o = outs();
      return run(fn.HcnCreateEndpoint, [network, guidToStruct(id), settings, o.handle, o.record], o);
    },
    HcnOpenEndpoint: open(fn.HcnOpenEndpoint),
    HcnQueryEndpointProperties: query(fn.HcnQueryEndpointProperties),
    HcnDeleteEndpoint: remove(fn.HcnDeleteEndpoint),
    HcnCloseEndpoint: close(fn.HcnCloseEndpoint),

    HcnEnumerateLoadBalancers: enumerate(fn.HcnEnumerateLoadBalancers),
    HcnCreateLoadBalancer: async (id, settings) => {
      const o = outs();
      return run(fn.HcnCreateLoadBalancer, [guidToStruct(id), settings, o.handle, o.record], o);
    },
    HcnOpenLoadBalancer: open(fn.HcnOpenLoadBalancer),
    HcnQueryLoadBalancerProperties: query(fn.HcnQueryLoadBalancerProperties),
    HcnModifyLoadBalancer: (handle, settings) => {
      const o = outs();
      return run(fn.HcnModifyLoadBalancer, [handle, settings, o.record], o);
    },
    HcnDeleteLoadBalancer: remove(fn.HcnDeleteLoadBalancer),
    HcnCloseLoadBalancer: close(fn.HcnCloseLoadBalancer),

    HNSCall: (method, path, request) => {
      const o = outs();
      return run(hnsCall, [method, path, request, o.result], o);
    },
  };
}
