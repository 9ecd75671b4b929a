// Loads the native addon and declares its shape. Nothing outside control/bpf/
// and control/netlink/ imports this file: the wrappers there add typed errors
// and checks.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeMapInfo {
  name: string;
  id: number;
  type: string;
  keySize: number;
  valueSize: number;
  /** Bytes per value as user space sees it: per-CPU maps hold one copy per CPU. */
  userValueSize: number;
  maxEntries: number;
  flags: number;
  perCpu: boolean;
  btfId: number;
}

export interface BtfType {
  kind: 'int' | 'ptr' | 'array' | 'struct' | 'union' | 'enum' | 'fwd' | 'float' | 'void' | 'other';
  name: string;
  /** The outermost typedef, e.g. "__be32": how a field says it is big-endian. */
  typedef?: string;
  size: number;
  signed?: boolean;
  bool?: boolean;
  length?: number;
  elem?: BtfType;
  members?: BtfMember[];
  /** enum: its constants. */
  values?: Array<{ name: string; value: number }>;
}

/** An object file's own BTF, read before load. */
export interface NativeObjectBtf {
  maps: Array<{ name: string; type: string; key: BtfType | null; value: BtfType | null }>;
  enums: BtfType[];
}

export interface BtfMember {
  name: string;
  offset: number;
  bitOffset: number;
  bitSize: number;
  type: BtfType;
}

export interface BatchResult {
  count: number;
  /** False when the kernel lacked the batch command and we went one by one. */
  batched: boolean;
}

export interface NativeMap {
  info(): NativeMapInfo;
  lookup(key: Buffer): Buffer | undefined;
  update(key: Buffer, value: Buffer, flags: number): void;
  delete(key: Buffer): boolean;
  nextKey(key?: Buffer): Buffer | undefined;
  updateBatch(keys: Buffer, values: Buffer, flags: number): Promise<BatchResult>;
  deleteBatch(keys: Buffer): Promise<BatchResult>;
  lookupAll(): Promise<BatchResult & { keys: Buffer; values: Buffer }>;
  pin(path: string): void;
  btf(): { key: BtfType | null; value: BtfType | null } | null;
  close(): void;
  fd(): number;
}

export interface TestRunResult {
  retval: number;
  data: Buffer;
  durationNs: number;
  ctx?: Buffer;
}

export interface NativeTcAttachment {
  ifindex: number;
  direction: 'ingress' | 'egress';
  handle: number;
  priority: number;
  programId: number;
  hookCreated: boolean;
}

export interface NativeLink {
  pin(path: string): void;
  detach(): void;
  close(): void;
}

export interface NativeProgramInfo {
  name: string;
  id: number;
  type: string;
  attachType: string | null;
  xlatedSize: number;
  jitedSize: number;
  runTimeNs: number;
  runCount: number;
}

export interface NativeProgram {
  info(): NativeProgramInfo;
  testRun(opts: { data: Buffer; repeat?: number; ctx?: Buffer; dataOutSize?: number; netns?: string }): TestRunResult;
  attachTc(opts: {
    ifindex: number;
    direction: string;
    priority?: number;
    handle?: number;
    netns?: string;
  }): NativeTcAttachment;
  /** replaceId: the program it may replace (0, the default: only if none is attached). */
  attachXdp(opts: { ifindex: number; mode: string; netns?: string; replaceId?: number }): void;
  attachCgroup(opts: { cgroup: string; attachType?: string }): NativeLink;
  pin(path: string): void;
  close(): void;
  fd(): number;
}

export interface NativeObjectMap {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  internal: boolean;
  pinPath: string | null;
  pinned: boolean;
}

export interface NativeObjectProgram {
  name: string;
  section: string;
  type: string;
  attachType: string;
  autoload: boolean;
}

/** A map as an object defines it, or as a pinned map is: what a reuse compares. */
export interface NativeMapSpec {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  key: BtfType | null;
  value: BtfType | null;
}

export interface NativeObject {
  maps(): NativeObjectMap[];
  mapSpec(name: string): NativeMapSpec;
  /** A new, unpinned map of the object's definition and BTF (before load). */
  createMap(name: string): NativeMap;
  programs(): NativeObjectProgram[];
  btf(): NativeObjectBtf;
  setMapPinPath(map: string, path: string): void;
  setMapMaxEntries(map: string, n: number): void;
  setProgramAutoload(program: string, on: boolean): void;
  setGlobal(name: string, value: Buffer): void;
  load(): void;
  map(name: string): NativeMap;
  program(name: string): NativeProgram;
  close(): void;
}

/** An IPVS virtual service as the addon speaks it (fields of <linux/ip_vs.h>). */
export interface NativeIpvsService {
  af: number;
  protocol: number;
  /** Text form; "" for a firewall-mark service. */
  addr: string;
  port: number;
  fwmark: number;
  scheduler: string;
  peName: string;
  flags: number;
  /** Persistence timeout, seconds. */
  timeout: number;
  /** Persistence granularity as a prefix length. */
  netmask: number;
  stats?: NativeIpvsStats;
}

export interface NativeIpvsDest {
  af: number;
  addr: string;
  port: number;
  fwdMethod: number;
  weight: number;
  upperThreshold: number;
  lowerThreshold: number;
  activeConns: number;
  inactConns: number;
  persistConns: number;
  stats?: NativeIpvsStats;
}

export interface NativeIpvsStats {
  conns: number;
  inPkts: number;
  outPkts: number;
  inBytes: number;
  outBytes: number;
  cps: number;
  inPps: number;
  outPps: number;
  inBps: number;
  outBps: number;
}

export type NativeIpvsOp =
  | { op: 'addService' | 'editService' | 'deleteService'; service: Partial<NativeIpvsService> }
  | { op: 'addDest' | 'editDest' | 'deleteDest'; service: Partial<NativeIpvsService>; dest: Partial<NativeIpvsDest> }
  | { op: 'flush' };

export interface NativeIpvsSocket {
  info(): { version: number; connTableSize: number };
  timeouts(): { tcp: number; tcpFin: number; udp: number };
  setTimeouts(t: { tcp: number; tcpFin: number; udp: number }): void;
  services(): NativeIpvsService[];
  destinations(service: Partial<NativeIpvsService>): NativeIpvsDest[];
  apply(op: NativeIpvsOp): void;
  /** One result per op, in order; errno 0 when it was applied. */
  applyBatch(ops: NativeIpvsOp[]): Promise<Array<{ errno: number; detail?: string }>>;
  readAll(): Promise<Array<{ service: NativeIpvsService; dests: NativeIpvsDest[] }>>;
  close(): void;
}

export interface NativeIpvsConstants {
  AF_INET: number;
  AF_INET6: number;
  IPPROTO_TCP: number;
  IPPROTO_UDP: number;
  IPPROTO_SCTP: number;
  SVC_F_PERSISTENT: number;
  SVC_F_HASHED: number;
  SVC_F_ONEPACKET: number;
  SVC_F_SCHED1: number;
  SVC_F_SCHED2: number;
  SVC_F_SCHED3: number;
  CONN_F_MASQ: number;
  CONN_F_LOCALNODE: number;
  CONN_F_TUNNEL: number;
  CONN_F_DROUTE: number;
  SCHEDNAME_MAXLEN: number;
}

export interface Addon {
  BpfObject: new (path: string, opts?: { pinRoot?: string }) => NativeObject;
  BpfMap: { new (fd: number, adopt?: boolean): NativeMap; openPinned(path: string): NativeMap };
  BpfProgram: {
    new (fd: number, adopt?: boolean, attachType?: number): NativeProgram;
    openPinned(path: string, attachType?: string): NativeProgram;
    detachTc(opts: {
      ifindex: number;
      direction: string;
      priority: number;
      handle: number;
      netns?: string;
      destroyHook?: boolean;
    }): boolean;
    detachXdp(opts: { ifindex: number; mode: string; netns?: string; expectedId?: number }): void;
    queryXdp(opts: { ifindex: number; mode: string; netns?: string }): number;
    programById(id: number): { id: number; name: string; type: string } | null;
  };
  BpfLink: { openPinned(path: string): NativeLink };
  updateFlags: { ANY: number; NOEXIST: number; EXIST: number; F_LOCK: number };
  IpvsSocket: new (opts?: { netns?: string }) => NativeIpvsSocket;
  ipvsConstants: NativeIpvsConstants;
}

/** The project root: the nearest folder above this file with build/Release. */
function findAddon(): string {
  const override = process.env.SWITCHYARD_ADDON;
  if (override) return override;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'build', 'Release', 'switchyard.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('the switchyard native addon is not built: run scripts/setup.sh (or npm run build)');
}

let loaded: Addon | undefined;

export function addon(): Addon {
  loaded ??= createRequire(import.meta.url)(findAddon()) as Addon;
  return loaded;
}
