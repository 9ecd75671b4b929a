// /v1/conntrack: the dataplane's flows, one entry per direction, decoded and
// named: which client, which service port (by its current owner of the
// service id), which backend, idle for how long. Paged; filterable by service
// (namespace/name, a service port name, or address:port, [IPv6]:port), client and protocol.
import { canonicalIp } from '../addresses.js';
import { isIP } from 'node:net';
import type { ApiApp } from '../../../api/app.js';
import { entryKey, type ApiContext } from '../../../api/context.js';
import { ApiError, ApiErrorCode } from '../../../api/errors.js';
import type { Codec } from '../../../bpf/index.js';
import { decodeFlows, type Flow } from '../flows.js';
import type { CtEntry, CtKey } from '../maps.js';
import type { ProgrammedServicePort } from '../vocabulary.js';
import type { EbpfProxier } from '../proxier.js';
import { pageOf } from '../../../api/paging.js';
import { ConntrackBody, ConntrackQuery, ErrorResponses, type FlowT } from '../../../api/schemas.js';

const CT_MAP = 'sy_conntrack_v3';

/** Service id → service port name, through the programmed entries and the model's ClusterIPs. */
function serviceNames(ctx: ApiContext, programmed: readonly ProgrammedServicePort[]): Map<number, string> {
  const byEntry = new Map<string, string>();
  for (const sp of ctx.loop.state.values())
    for (const ip of sp.clusterIPs) byEntry.set(entryKey(canonicalIp(ip), sp.port, sp.protocol), sp.name);
  const out = new Map<number, string>();
  for (const p of programmed) {
    const name = byEntry.get(entryKey(p.address, p.port, p.protocol));
    if (name) out.set(p.id, name);
  }
  return out;
}

/** The service ids a `service` filter names; a filter naming nothing is a 404, not an empty list. */
function serviceIds(ctx: ApiContext, programmed: readonly ProgrammedServicePort[], want: string): Set<number> {
  const ids = new Set<number>();
  // "10.96.0.10:80" or "[fd00:10:96::a]:80".
  const addr = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(want) ?? /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(want);
  if (addr) {
    const ip = canonicalIp(addr[1]!);
    for (const p of programmed) if (p.address === ip && p.port === Number(addr[2])) ids.add(p.id);
  } else {
    const keys = new Set<string>();
    for (const sp of ctx.loop.state.values()) {
      if (sp.name === want || sp.name.startsWith(`${want}/`) || sp.name.startsWith(`${want}:`)) {
        for (const ip of sp.clusterIPs) keys.add(entryKey(canonicalIp(ip), sp.port, sp.protocol));
      }
    }
    for (const p of programmed) if (keys.has(entryKey(p.address, p.port, p.protocol))) ids.add(p.id);
  }
  if (ids.size === 0) throw new ApiError(ApiErrorCode.NotFound, `no programmed service port matches "${want}"`);
  return ids;
}

const text = (e: { address: string; port: number }) => `${e.address}:${e.port}`;

/** A decoded entry as /v1/conntrack shows it (the JSON is a contract: test/unit/proxiers/ebpf-conntrack-route.test.ts). */
export function toFlow(f: Flow, names: Map<number, string>, nowNs: bigint): FlowT {
  return {
    direction: f.direction,
    protocol: f.protocol,
    source: text(f.source),
    destination: text(f.destination),
    translatedTo: text(f.translatedTo),
    client: f.client,
    flags: f.flags,
    serviceId: f.serviceId,
    service: names.get(f.serviceId) ?? null,
    backendId: f.backendId,
    idleSeconds: Math.max(0, Math.round(Number(nowNs - f.lastSeenNs) / 1e6) / 1e3),
  };
}

/** `proxier`: the running ebpf proxier, or undefined in another mode. */
export function conntrackRoutes(app: ApiApp, ctx: ApiContext, proxier: EbpfProxier | undefined): void {
  app.get(
    '/v1/conntrack',
    {
      schema: {
        summary: 'connection-tracking flows (paged, filterable)',
        querystring: ConntrackQuery,
        response: { 200: ConntrackBody, ...ErrorResponses },
      },
    },
    async (req) => {
      const maps = proxier?.maps;
      if (!maps)
        throw new ApiError(
          ApiErrorCode.Unavailable,
          `the ${ctx.options.mode} mode keeps no connection-tracking map of its own`,
        );
      const { limit, continue: cont, service, client, protocol } = req.query;
      if (client !== undefined && !isIP(client))
        throw new ApiError(ApiErrorCode.BadRequest, `client "${client}" is not an IP address`);
      // The flows' addresses are as the maps give them back (RFC 5952 IPv6).
      const clientIp = client === undefined ? undefined : canonicalIp(client);
      const programmed = proxier?.started?.programmed() ?? [];
      const ids = service !== undefined ? serviceIds(ctx, programmed, service) : undefined;
      if (!maps.has(CT_MAP))
        throw new ApiError(ApiErrorCode.Unavailable, `${CT_MAP} is not pinned yet: the dataplane has not started`);
      const codecs = maps.codecs(CT_MAP) as { key: Codec<CtKey>; value: Codec<CtEntry> } | undefined;
      if (!codecs) throw new ApiError(ApiErrorCode.Internal, `${CT_MAP} has no BTF to decode its entries with`);
      const rows = await maps.raw(CT_MAP);
      // bpf_ktime_get_ns() is CLOCK_MONOTONIC, which hrtime reads too.
      const now = process.hrtime.bigint();
      const names = serviceNames(ctx, programmed);
      const list = `conntrack`;
      if (!ids && client === undefined && protocol === undefined) {
        const page = pageOf(list, rows, (r) => r.id, { limit, continue: cont });
        const flows = await decodeFlows(page.items, codecs);
        return { ...page, items: flows.map((f) => toFlow(f, names, now)) };
      }
      const flows = await decodeFlows(rows, codecs);
      const matches: Array<{ id: string; flow: FlowT }> = [];
      flows.forEach((f, i) => {
        const flow = toFlow(f, names, now);
        if (ids && !ids.has(flow.serviceId)) return;
        if (clientIp !== undefined && flow.client !== clientIp) return;
        if (protocol !== undefined && flow.protocol !== protocol) return;
        matches.push({ id: rows[i]!.id, flow });
      });
      const page = pageOf(list, matches, (m) => m.id, { limit, continue: cont });
      return { ...page, items: page.items.map((m) => m.flow) };
    },
  );
}
