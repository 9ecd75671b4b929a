// What the routes read. Everything is a read-only view of the daemon's parts,
// behind an interface so the routes can be served from fakes in unit tests.
import type { ProxyOptions } from '../config/options.js';
import type { ProgrammedRealServer, ProgrammedVirtualServer } from '../netlink/types.js';
import type { ServicePortName, ServicePortState } from '../model/types.js';
import type { ProgrammedServicePort } from '../proxiers/ebpf/dataplane.js';
import type { SyncReport } from '../sync/sync-loop.js';
import type { HealthState } from './health.js';
import type { MapCatalog } from './map-catalog.js';
import type { ProxyMetrics } from './metrics.js';

/** One virtual server with its real servers, and the service port that owns it. */
export interface IpvsEntry {
  virtualServer: ProgrammedVirtualServer;
  realServers: ProgrammedRealServer[];
  servicePort?: ServicePortName;
}

/** The parts of a dataplane the API shows, when the mode has one and it has started. */
export interface DataplaneView {
  programmed(): ProgrammedServicePort[];
  interfaces(): Array<{ name: string; ifindex: number }>;
}

export interface SyncHistory {
  last: { at: Date; report: SyncReport } | undefined;
  lastSuccess: { at: Date; report: SyncReport } | undefined;
}

export interface ApiContext {
  options: ProxyOptions;
  version: string;
  startedAt: Date;
  store: { readonly size: { services: number; endpointSlices: number } };
  loop: { readonly state: ReadonlyMap<ServicePortName, ServicePortState>; readonly initialSyncDone: boolean };
  health: HealthState;
  metrics: ProxyMetrics;
  syncs: SyncHistory;
  /** The mode's dataplane; undefined before start-up or in a mode without one. */
  dataplane(): DataplaneView | undefined;
  /** The iptables mode's chains per service port; undefined in other modes. */
  chains?: (name: ServicePortName) => string[] | undefined;
  /** The ipvs mode's virtual servers as the kernel holds them now; undefined in other modes. */
  ipvs?: () => Promise<IpvsEntry[]>;
  /** The pinned BPF maps; undefined in modes without BPF maps. */
  maps: MapCatalog | undefined;
}

/** "address|port|protocol", how the dataplane keys its entries. */
export const entryKey = (address: string, port: number, protocol: string) => `${address}|${port}|${protocol}`;
