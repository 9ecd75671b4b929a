// What the routes read. Everything is a read-only view of the daemon's parts,
// behind an interface so the routes can be served from fakes in unit tests.
import type { ProxyOptions } from '../config/options.js';
import type { ServicePortName, ServicePortState } from '../model/types.js';
import type { ProxierView } from '../proxiers/types.js';
import type { SyncReport } from '../sync/sync-loop.js';
import type { HealthState } from './health.js';
import type { ProxyMetrics } from './metrics.js';

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
  /** The running proxier, as it describes itself; the API knows no mode by name. */
  proxier: ProxierView;
}

/** "address|port|protocol", how the dataplane keys its entries. */
export const entryKey = (address: string, port: number, protocol: string) => `${address}|${port}|${protocol}`;
