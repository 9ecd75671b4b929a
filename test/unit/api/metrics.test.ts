import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ProxyMetrics } from '../../../control/api/metrics.js';
import { BpfError, BpfErrorCode } from '../../../control/bpf/errors.js';
import type { SyncReport } from '../../../control/sync/sync-loop.js';

const report = (over: Partial<SyncReport> = {}): SyncReport => ({
  reason: 'change',
  full: false,
  durationMs: 12,
  servicePorts: 3,
  changed: 1,
  removed: 0,
  result: { written: 1, removed: 0, skipped: [] },
  ...over,
});

async function sample(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  // Histograms list their _bucket/_count/_sum samples under the base name, each with its metricName.
  const values = (await registry.getMetricsAsJSON()).flatMap((m) =>
    m.values.map((v) => ({ ...v, name: (v as { metricName?: string }).metricName ?? m.name })),
  );
  return values.find((v) => v.name === name && Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l))
    ?.value;
}

describe('ProxyMetrics', () => {
  it('counts changes as pending until a sync succeeds, with the queue time', async () => {
    const registry = new Registry();
    const m = new ProxyMetrics({ registry, now: () => 1_700_000_000_000 });
    for (const kind of ['Service', 'EndpointSlice', 'EndpointSlice', 'Node'] as const) {
      m.observeEvent(kind);
      m.observeChange(kind);
    }
    // An event that changed nothing is counted, as kube-proxy counts every informer event, but not queued.
    m.observeEvent('EndpointSlice');
    expect(await sample(registry, 'kubeproxy_sync_proxy_rules_service_changes_total')).toBe(1);
    expect(await sample(registry, 'kubeproxy_sync_proxy_rules_endpoint_changes_pending')).toBe(2);
    expect(await sample(registry, 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds')).toBe(1_700_000_000);
    m.observeSync(report({ oldestChangeAt: performance.now() - 1500 }));
    expect(await sample(registry, 'kubeproxy_sync_proxy_rules_endpoint_changes_pending')).toBe(0);
    expect(await sample(registry, 'kubeproxy_sync_proxy_rules_endpoint_changes_total')).toBe(3);
    expect(await sample(registry, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds')).toBe(1_700_000_000);
    expect(await sample(registry, 'kubeproxy_sync_partial_proxy_rules_duration_seconds_count')).toBe(1);
    expect(await sample(registry, 'kubeproxy_sync_full_proxy_rules_duration_seconds_count')).toBe(0);
    // 1.5 s from change to programmed lands in the 2 s bucket, not the 1 s one.
    expect(await sample(registry, 'kubeproxy_network_programming_duration_seconds_bucket', { le: '1' })).toBe(0);
    expect(await sample(registry, 'kubeproxy_network_programming_duration_seconds_bucket', { le: '2' })).toBe(1);
  });

  it('a failed sync is not a sync: counted as an error, with BPF failures by code and operation', async () => {
    const registry = new Registry();
    const m = new ProxyMetrics({ registry });
    const error = new BpfError(BpfErrorCode.MapFull, 'map full', { op: 'map.update', target: 'sy_backends_v2' });
    m.observeSync(report({ error, result: undefined }));
    expect(await sample(registry, 'switchyard_sync_errors_total')).toBe(1);
    expect(
      await sample(registry, 'switchyard_bpf_map_operation_failures_total', {
        code: 'ERR_BPF_MAP_FULL',
        op: 'map.update',
      }),
    ).toBe(1);
    expect(await sample(registry, 'kubeproxy_sync_proxy_rules_duration_seconds_count')).toBe(0);
    expect(await sample(registry, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds')).toBe(0);
  });

  it('reads map entries and capacity once per scrape', async () => {
    const registry = new Registry();
    let reads = 0;
    new ProxyMetrics({
      registry,
      mapStats: async () => {
        reads++;
        return [
          { name: 'sy_services_v3', entries: 3, capacity: 65536 },
          { name: 'sy_conntrack_v3', entries: 8, capacity: 262144 },
        ];
      },
    });
    const text = await registry.metrics();
    expect(text).toMatch(/^switchyard_bpf_map_entries\{map="sy_services_v3"\} 3$/m);
    expect(text).toMatch(/^switchyard_bpf_map_capacity\{map="sy_conntrack_v3"\} 262144$/m);
    expect(text).toMatch(/^switchyard_conntrack_entries 8$/m);
    expect(reads).toBe(1);
  });

  it('shows the dataplane drops per reason, zeros included, read from the view at each scrape', async () => {
    const registry = new Registry();
    const counts: Record<string, bigint> = { malformed: 0n, no_backend: 3n, no_backend_policy: 0n };
    new ProxyMetrics({ registry, drops: async () => ({ ...counts }) });
    let text = await registry.metrics();
    expect(text).toMatch(/^# TYPE switchyard_dataplane_drops_total counter$/m);
    expect(text).toMatch(/^switchyard_dataplane_drops_total\{reason="no_backend"\} 3$/m);
    expect(text).toMatch(/^switchyard_dataplane_drops_total\{reason="malformed"\} 0$/m);
    // The kernel's count, not a sum of scrapes.
    counts.no_backend = 5n;
    text = await registry.metrics();
    expect(text).toMatch(/^switchyard_dataplane_drops_total\{reason="no_backend"\} 5$/m);
    expect(text.match(/^switchyard_dataplane_drops_total\{/gm)).toHaveLength(3);
  });

  it('has no drop counter in a mode that counts none, and counts a failed read as a map failure', async () => {
    const none = new Registry();
    new ProxyMetrics({ registry: none });
    expect(await none.metrics()).not.toMatch(/switchyard_dataplane_drops_total/);

    const registry = new Registry();
    const error = new BpfError(BpfErrorCode.Permission, 'no', { op: 'map.lookupAll', target: 'sy_drops' });
    new ProxyMetrics({ registry, drops: async () => Promise.reject(error) });
    const text = await registry.metrics();
    expect(text).not.toMatch(/^switchyard_dataplane_drops_total\{/m);
    // One failure per scrape: registry.metrics() above, and sample()'s own.
    expect(
      await sample(registry, 'switchyard_bpf_map_operation_failures_total', {
        code: 'ERR_BPF_PERMISSION',
        op: 'metrics.scrape',
      }),
    ).toBe(2);
  });

  it('a registry per instance: two daemons in one process do not collide', () => {
    expect(() => {
      new ProxyMetrics({ registry: new Registry() });
      new ProxyMetrics({ registry: new Registry() });
    }).not.toThrow();
  });
});
