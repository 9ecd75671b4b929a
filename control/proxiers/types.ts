// The interface every mode implements (kube-proxy's Provider, made async).
// A proxier receives the whole desired state plus what changed since the last
// sync it was given, and owns everything it writes. It never decides when to
// sync: the sync loop does.
import type { ProxyMode } from '../config/options.js';
import type { ServicePortName, ServicePortState } from '../model/types.js';

export interface SyncRequest {
  /** Every service port this node must serve. */
  desired: ReadonlyMap<ServicePortName, ServicePortState>;
  /** Added or modified since the last successful sync. */
  changed: ReadonlySet<ServicePortName>;
  /** Gone since the last successful sync, with the state they had. */
  removed: ReadonlyMap<ServicePortName, ServicePortState>;
  /**
   * Reconcile everything against `desired` (start-up, the periodic resync,
   * after a failure), not only what changed.
   */
  full: boolean;
}

export interface SyncResult {
  /** Dataplane entries written and removed by this sync. */
  written: number;
  removed: number;
  /** Service ports this mode cannot program, with the reason (logged once by the loop). */
  skipped: Array<{ name: ServicePortName; reason: string }>;
}

export interface Proxier {
  readonly mode: ProxyMode;
  /** Loads the dataplane and adopts what an earlier run left programmed. */
  start(): Promise<void>;
  sync(req: SyncRequest): Promise<SyncResult>;
  /**
   * Work of the proxier's own that a periodic sync must do even when nothing
   * changed: the ipvs mode's real servers draining at weight 0, deleted by a
   * sync once their connections are gone.
   */
  hasPendingWork?(): boolean;
  /** What is programmed, as this mode sees it (the ops API shows it). */
  describe(): Promise<unknown>;
  /** Stops watching and releases handles; the dataplane keeps serving. */
  stop(): Promise<void>;
  /** Removes everything this mode created on the node. */
  cleanup(): Promise<void>;
}
