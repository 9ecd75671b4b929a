// Prometheus metrics. kube-proxy's names where the meaning is the same (so
// its dashboards and alerts work unchanged), switchyard_* for what only this
// dataplane has. The registry is passed in: nothing is global, and a test
// builds as many as it likes.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RestoreReport } from '../proxiers/iptables/proxier.js';
import type { IPFamily } from '../sources/types.js';
import type { SyncReport } from '../sync/sync-loop.js';

/** kube-proxy's SyncProxyRulesLatency buckets: 1 ms doubling to ~16 s. */
const SYNC_BUCKETS = Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i);
/** kube-proxy's NetworkProgrammingLatency buckets: 0.25 s … 5 min. */
const PROGRAMMING_BUCKETS = [
  0,
  0.25,
  0.5,
  ...Array.from({ length: 59 }, (_, i) => i + 1),
  ...Array.from({ length: 12 }, (_, i) => 60 + 5 * i),
  ...Array.from({ length: 7 }, (_, i) => 120 + 30 * i),
];

export interface MapStat {
  name: string;
  entries: number;
  capacity: number;
}

export interface ProxyMetricsOptions {
  registry: Registry;
  /** Current entries and capacity per BPF map, read at scrape time; absent in modes without maps. */
  mapStats?: () => Promise<MapStat[]>;
  /** Packets the dataplane dropped per reason, read at scrape time; absent in modes that count none. */
  drops?: () => Promise<Record<string, bigint>>;
  /** Wall clock in ms (tests pass their own). */
  now?: () => number;
}

export class ProxyMetrics {
  readonly registry: Registry;
  readonly #now: () => number;
  readonly #syncDuration: Histogram;
  readonly #fullDuration: Histogram;
  readonly #partialDuration: Histogram;
  readonly #programming: Histogram;
  readonly #lastSync: Gauge;
  readonly #lastQueued: Gauge;
  readonly #serviceChanges: Counter;
  readonly #endpointChanges: Counter;
  readonly #servicePending: Gauge;
  readonly #endpointPending: Gauge;
  readonly #healthz: Counter<'code'>;
  readonly #livez: Counter<'code'>;
  readonly #syncErrors: Counter;
  readonly #mapFailures: Counter<'code' | 'op'>;
  readonly #restoreFailures: Counter;
  /** The last successful restore of each family's proxier. */
  readonly #restoreByFamily = new Map<IPFamily, RestoreReport>();
  readonly #partialRestoreFailures: Counter;
  readonly #iptablesRules: Gauge<'table'>;
  readonly #noLocalEndpoints: Gauge<'traffic_policy'>;
  #pending = { services: 0, endpoints: 0 };

  constructor(opts: ProxyMetricsOptions) {
    const registers = [opts.registry];
    this.registry = opts.registry;
    this.#now = opts.now ?? Date.now;
    const histogram = (name: string, help: string, buckets: number[]) =>
      new Histogram({ name, help, buckets, registers });
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
    const counter = (name: string, help: string) => new Counter({ name, help, registers });

    this.#syncDuration = histogram(
      'kubeproxy_sync_proxy_rules_duration_seconds',
      'SyncProxyRules latency in seconds',
      SYNC_BUCKETS,
    );
    this.#fullDuration = histogram(
      'kubeproxy_sync_full_proxy_rules_duration_seconds',
      'SyncProxyRules latency in seconds for full resyncs',
      SYNC_BUCKETS,
    );
    this.#partialDuration = histogram(
      'kubeproxy_sync_partial_proxy_rules_duration_seconds',
      'SyncProxyRules latency in seconds for partial resyncs',
      SYNC_BUCKETS,
    );
    this.#programming = histogram(
      'kubeproxy_network_programming_duration_seconds',
      'In Cluster Network Programming Latency in seconds (from the change reaching this proxy to the dataplane holding it)',
      PROGRAMMING_BUCKETS,
    );
    this.#lastSync = gauge(
      'kubeproxy_sync_proxy_rules_last_timestamp_seconds',
      'The last time proxy rules were successfully synced',
    );
    this.#lastQueued = gauge(
      'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds',
      'The last time a sync of proxy rules was queued',
    );
    this.#serviceChanges = counter(
      'kubeproxy_sync_proxy_rules_service_changes_total',
      'Cumulative proxy rules Service changes',
    );
    this.#endpointChanges = counter(
      'kubeproxy_sync_proxy_rules_endpoint_changes_total',
      'Cumulative proxy rules Endpoint changes',
    );
    this.#servicePending = gauge(
      'kubeproxy_sync_proxy_rules_service_changes_pending',
      'Pending proxy rules Service changes',
    );
    this.#endpointPending = gauge(
      'kubeproxy_sync_proxy_rules_endpoint_changes_pending',
      'Pending proxy rules Endpoint changes',
    );
    this.#healthz = new Counter({
      name: 'kubeproxy_proxy_healthz_total',
      help: 'Cumulative proxy healthz HTTP status',
      labelNames: ['code'],
      registers,
    });
    this.#livez = new Counter({
      name: 'kubeproxy_proxy_livez_total',
      help: 'Cumulative proxy livez HTTP status',
      labelNames: ['code'],
      registers,
    });
    this.#syncErrors = counter('switchyard_sync_errors_total', 'Syncs that failed and will be retried as full syncs');
    this.#mapFailures = new Counter({
      name: 'switchyard_bpf_map_operation_failures_total',
      help: 'BPF map operations that failed, by error code (ERR_BPF_*) and operation',
      labelNames: ['code', 'op'],
      registers,
    });

    // kube-proxy's iptables-mode metrics (registered in every mode, as kube-proxy does).
    this.#restoreFailures = counter(
      'kubeproxy_sync_proxy_rules_iptables_restore_failures_total',
      'Cumulative proxy iptables restore failures',
    );
    this.#partialRestoreFailures = counter(
      'kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total',
      'Cumulative proxy iptables partial restore failures',
    );
    this.#iptablesRules = new Gauge({
      name: 'kubeproxy_sync_proxy_rules_iptables_total',
      help: 'Total number of iptables rules owned by kube-proxy',
      labelNames: ['table'],
      registers,
    });
    this.#noLocalEndpoints = new Gauge({
      name: 'kubeproxy_sync_proxy_rules_no_local_endpoints_total',
      help: 'Number of services with a Local traffic policy and no endpoints',
      labelNames: ['traffic_policy'],
      registers,
    });

    if (opts.mapStats) this.observeTables(opts.mapStats);
    if (opts.drops) this.observeDrops(opts.drops);
  }

  /**
   * The dataplane's drop counters (sy_drops, summed over CPUs), read at
   * scrape time: a counter per reason, zeros included, so a rate() sees the
   * first drop. Called once, by a mode that counts drops.
   */
  observeDrops(drops: () => Promise<Record<string, bigint>>): void {
    const failures = this.#mapFailures;
    new Counter({
      name: 'switchyard_dataplane_drops_total',
      help: 'Packets the dataplane dropped, by reason (enum sy_drop_reason), since its maps were created',
      labelNames: ['reason'],
      registers: [this.registry],
      async collect() {
        this.reset();
        try {
          // A counter only goes up; after reset(), inc() by the kernel's count sets it.
          for (const [reason, n] of Object.entries(await drops())) this.inc({ reason }, Number(n));
        } catch (err) {
          failures.inc({ code: codeOf(err), op: 'metrics.scrape' });
        }
      },
    });
  }

  /**
   * The running mode's tables (BPF maps), read at scrape time: entries,
   * capacity and the conntrack size. Called once, by a mode that has them.
   */
  observeTables(stats: () => Promise<MapStat[]>): void {
    const registers = [this.registry];
    // One dump per scrape feeds all three gauges.
    let scrape: Promise<MapStat[]> | undefined;
    const read = () => (scrape ??= stats().finally(() => setImmediate(() => (scrape = undefined))));
    const failures = this.#mapFailures;
    new Gauge({
      name: 'switchyard_bpf_map_entries',
      help: 'Entries in each BPF map of the dataplane',
      labelNames: ['map'],
      registers,
      async collect() {
        this.reset();
        try {
          for (const m of await read()) this.set({ map: m.name }, m.entries);
        } catch (err) {
          failures.inc({ code: codeOf(err), op: 'metrics.scrape' });
        }
      },
    });
    new Gauge({
      name: 'switchyard_bpf_map_capacity',
      help: 'max_entries of each BPF map of the dataplane',
      labelNames: ['map'],
      registers,
      async collect() {
        this.reset();
        for (const m of await read().catch(() => [])) this.set({ map: m.name }, m.capacity);
      },
    });
    new Gauge({
      name: 'switchyard_conntrack_entries',
      help: 'Entries in the connection-tracking map (both directions of each flow)',
      registers,
      async collect() {
        const ct = (await read().catch(() => [])).find((m) => m.name === 'sy_conntrack_v3');
        if (ct) this.set(ct.entries);
        else this.reset();
      },
    });
  }

  /** A Service or EndpointSlice changed in the store: queued until a sync programs it. */
  observeChange(kind: 'Service' | 'EndpointSlice' | 'Node'): void {
    if (kind === 'Service') this.#servicePending.set(++this.#pending.services);
    else if (kind === 'EndpointSlice') this.#endpointPending.set(++this.#pending.endpoints);
    this.#lastQueued.set(this.#now() / 1000);
  }

  /**
   * A Service or EndpointSlice event from the source, whether or not it
   * changed anything: kube-proxy's *_changes_total count every informer
   * event (an update that repeats the object included), not store changes.
   */
  observeEvent(kind: 'Service' | 'EndpointSlice' | 'Node'): void {
    if (kind === 'Service') this.#serviceChanges.inc();
    else if (kind === 'EndpointSlice') this.#endpointChanges.inc();
  }

  observeSync(report: SyncReport): void {
    const seconds = report.durationMs / 1000;
    if (report.error !== undefined) {
      this.#syncErrors.inc();
      const code = codeOf(report.error);
      if (code.startsWith('ERR_BPF_')) this.#mapFailures.inc({ code, op: opOf(report.error) });
      return;
    }
    this.#syncDuration.observe(seconds);
    (report.full ? this.#fullDuration : this.#partialDuration).observe(seconds);
    this.#lastSync.set(this.#now() / 1000);
    if (report.oldestChangeAt !== undefined) {
      this.#programming.observe(Math.max(0, performance.now() - report.oldestChangeAt) / 1000);
    }
    this.#pending = { services: 0, endpoints: 0 };
    this.#servicePending.set(0);
    this.#endpointPending.set(0);
  }

  /** Every iptables-restore of the iptables mode. */
  observeRestore(r: RestoreReport): void {
    if (!r.ok) {
      this.#restoreFailures.inc();
      if (!r.full) this.#partialRestoreFailures.inc();
      return;
    }
    // One proxier per family writes its own tables: the gauges are the node's, both families summed.
    this.#restoreByFamily.set(r.family ?? 'IPv4', r);
    const sum = (f: (x: RestoreReport) => number) => [...this.#restoreByFamily.values()].reduce((a, x) => a + f(x), 0);
    this.#iptablesRules.set(
      { table: 'filter' },
      sum((x) => x.rules.filter),
    );
    this.#iptablesRules.set(
      { table: 'nat' },
      sum((x) => x.rules.nat),
    );
    this.#noLocalEndpoints.set(
      { traffic_policy: 'internal' },
      sum((x) => x.noLocalEndpoints.internal),
    );
    this.#noLocalEndpoints.set(
      { traffic_policy: 'external' },
      sum((x) => x.noLocalEndpoints.external),
    );
  }

  observeHealthz(status: number): void {
    this.#healthz.inc({ code: String(status) });
  }

  observeLivez(status: number): void {
    this.#livez.inc({ code: String(status) });
  }

  /** A map read by the API failed. */
  observeMapFailure(err: unknown, op: string): void {
    this.#mapFailures.inc({ code: codeOf(err), op });
  }

  /**
   * The userspace mode's connections (UDP: client sessions), by protocol:
   * accepted, failed (no endpoint, or none answered) and open now. The
   * mode's proxiers of both families count into the same series.
   */
  proxyConnections(): ProxyConnectionEvents {
    this.#proxyConnections ??= this.#createProxyConnections();
    return this.#proxyConnections;
  }

  #proxyConnections: ProxyConnectionEvents | undefined;

  #createProxyConnections(): ProxyConnectionEvents {
    const registers = [this.registry];
    const total = new Counter({
      name: 'switchyard_userspace_connections_total',
      help: 'Connections (UDP: client sessions) the userspace proxy accepted, by protocol and result (proxied, or failed: no endpoint answered)',
      labelNames: ['protocol', 'result'],
      registers,
    });
    const active = new Gauge({
      name: 'switchyard_userspace_connections_active',
      help: 'Connections (UDP: client sessions) the userspace proxy holds open, by protocol',
      labelNames: ['protocol'],
      registers,
    });
    const of = (protocol: 'tcp' | 'udp') => {
      total.inc({ protocol, result: 'accepted' }, 0);
      total.inc({ protocol, result: 'failed' }, 0);
      active.set({ protocol }, 0);
      return {
        accepted: () => total.inc({ protocol, result: 'accepted' }),
        failed: () => total.inc({ protocol, result: 'failed' }),
        opened: () => active.inc({ protocol }),
        closed: () => active.dec({ protocol }),
      };
    };
    return { tcp: of('tcp'), udp: of('udp') };
  }
}

type ProxyConnectionEvents = Record<
  'tcp' | 'udp',
  { accepted(): void; failed(): void; opened(): void; closed(): void }
>;

function codeOf(err: unknown): string {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : 'unknown';
}

function opOf(err: unknown): string {
  const op = (err as { op?: unknown } | null)?.op;
  return typeof op === 'string' ? op : 'unknown';
}
