// /v1/status: what this proxy is and how its last syncs went, in one read.
import type { ApiApp } from '../app.js';
import type { ApiContext, SyncHistory } from '../context.js';
import { ErrorResponses, StatusBody, type StatusBodyT } from '../schemas.js';

type Summary = NonNullable<StatusBodyT['lastSync']>;

function summary(s: SyncHistory['last']): Summary | null {
  if (!s) return null;
  const r = s.report;
  return {
    at: s.at.toISOString(),
    reason: r.reason,
    full: r.full,
    durationMs: Math.round(r.durationMs * 100) / 100,
    servicePorts: r.servicePorts,
    changed: r.changed,
    removed: r.removed,
    ...(r.result ? { written: r.result.written, deleted: r.result.removed } : {}),
    ...(r.error !== undefined ? { error: r.error instanceof Error ? r.error.message : String(r.error) } : {}),
  };
}

/** Drops by reason as the API writes 64-bit counts: decimal strings (JSON numbers lose precision above 2^53). */
async function drops(ctx: ApiContext): Promise<Record<string, string> | undefined> {
  if (!ctx.proxier.drops) return undefined;
  try {
    const counts = await ctx.proxier.drops();
    return Object.fromEntries(Object.entries(counts).map(([reason, n]) => [reason, n.toString()]));
  } catch (err) {
    ctx.metrics.observeMapFailure(err, 'status.drops');
    return undefined; // the rest of the status is still worth showing
  }
}

export async function status(ctx: ApiContext): Promise<StatusBodyT> {
  const view = ctx.proxier;
  const dropped = await drops(ctx);
  return {
    mode: ctx.options.mode,
    version: ctx.version,
    node: ctx.options.hostname,
    source: ctx.options.manifests ?? 'kubernetes',
    startedAt: ctx.startedAt.toISOString(),
    healthy: ctx.health.report().healthy,
    nodeEligible: ctx.health.nodeEligible,
    initialSyncDone: ctx.loop.initialSyncDone,
    lastSync: summary(ctx.syncs.last),
    lastSuccessfulSync: summary(ctx.syncs.lastSuccess),
    counts: {
      services: ctx.store.size.services,
      endpointSlices: ctx.store.size.endpointSlices,
      servicePorts: ctx.loop.state.size,
      programmed: view.programmedCount(),
      maps: view.mapCount(),
    },
    interfaces: view.interfaces(),
    ...(dropped ? { drops: dropped } : {}),
  };
}

export function statusRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    '/v1/status',
    {
      schema: {
        summary: 'mode, version, node, last sync and counts',
        response: { 200: StatusBody, ...ErrorResponses },
      },
    },
    async () => status(ctx),
  );
}
