// /v1/conntrack: the dataplane's flows, one entry per direction, decoded and
// named: which client, which service port (by its current owner of the
// service id), which backend, idle for how long. Paged; filterable by service
// (namespace/name, a service port name, or address:port), client and protocol.
import { isIPv4 } from 'node:net';
import type { ApiApp } from '../../../api/app.js';
import { entryKey, type ApiContext } from '../../../api/context.js';
import { ApiError, ApiErrorCode } from '../../../api/errors.js';
import type { ProgrammedServicePort } from '../vocabulary.js';
import type { DecodedEntry } from '../map-catalog.js';
import type { EbpfProxier } from '../proxier.js';
import { pageOf } from '../../../api/paging.js';
import { ConntrackBody, ConntrackQuery, ErrorResponses, type FlowT } from '../../../api/schemas.js';

const CT_MAP = 'sy_conntrack';

type Rec = Record<string, unknown>;

/** Service id → service port name, through the programmed entries and the model's ClusterIPs. */
function serviceNames(ctx: ApiContext, programmed: readonly ProgrammedServicePort[]): Map<number, string> {
  const byEntry = new Map<string, string>();
  for (const sp of ctx.loop.state.values())
    for (const ip of sp.clusterIPs) byEntry.set(entryKey(ip, sp.port, sp.protocol), sp.name);
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
  const addr = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(want);
  if (addr) {
    for (const p of programmed) if (p.address === addr[1] && p.port === Number(addr[2])) ids.add(p.id);
  } else {
    const keys = new Set<string>();
    for (const sp of ctx.loop.state.values()) {
      if (sp.name === want || sp.name.startsWith(`${want}/`) || sp.name.startsWith(`${want}:`)) {
        for (const ip of sp.clusterIPs) keys.add(entryKey(ip, sp.port, sp.protocol));
      }
    }
    for (const p of programmed) if (keys.has(entryKey(p.address, p.port, p.protocol))) ids.add(p.id);
  }
  if (ids.size === 0) throw new ApiError(ApiErrorCode.NotFound, `no programmed service port matches "${want}"`);
  return ids;
}

export function toFlow(e: DecodedEntry, names: Map<number, string>, nowNs: bigint): FlowT {
  const k = e.key as Rec;
  const v = e.value as Rec;
  const flags = (v.flags as string[]) ?? [];
  const original = k.dir === 'original';
  const serviceId = Number(v.service_id);
  return {
    direction: String(k.dir),
    protocol: String(k.proto),
    source: `${k.saddr}:${k.sport}`,
    destination: `${k.daddr}:${k.dport}`,
    translatedTo: `${v.nat_addr}:${v.nat_port}`,
    // A reply goes back to the client, or to the hairpin address with the client kept aside.
    client: String(original ? k.saddr : flags.includes('hairpin') ? v.client_addr : k.daddr),
    flags,
    serviceId,
    service: names.get(serviceId) ?? null,
    backendId: Number(v.backend_id),
    idleSeconds: Math.max(0, Math.round(Number(nowNs - BigInt(String(v.last_seen_ns))) / 1e6) / 1e3),
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
      if (client !== undefined && !isIPv4(client))
        throw new ApiError(ApiErrorCode.BadRequest, `client "${client}" is not an IPv4 address`);
      const programmed = proxier?.started?.programmed() ?? [];
      const ids = service !== undefined ? serviceIds(ctx, programmed, service) : undefined;
      if (!maps.has(CT_MAP))
        throw new ApiError(ApiErrorCode.Unavailable, `${CT_MAP} is not pinned yet: the dataplane has not started`);
      const rows = await maps.raw(CT_MAP);
      // bpf_ktime_get_ns() is CLOCK_MONOTONIC, which hrtime reads too.
      const now = process.hrtime.bigint();
      const names = serviceNames(ctx, programmed);
      const list = `conntrack`;
      if (!ids && client === undefined && protocol === undefined) {
        const page = pageOf(list, rows, (r) => r.id, { limit, continue: cont });
        const decoded = await maps.decodeAll(CT_MAP, page.items);
        return { ...page, items: decoded.map((d) => toFlow(d, names, now)) };
      }
      const decoded = await maps.decodeAll(CT_MAP, rows);
      const matches: Array<{ id: string; flow: FlowT }> = [];
      decoded.forEach((d, i) => {
        const flow = toFlow(d, names, now);
        if (ids && !ids.has(flow.serviceId)) return;
        if (client !== undefined && flow.client !== client) return;
        if (protocol !== undefined && flow.protocol !== protocol) return;
        matches.push({ id: rows[i]!.id, flow });
      });
      const page = pageOf(list, matches, (m) => m.id, { limit, continue: cont });
      return { ...page, items: page.items.map((m) => m.flow) };
    },
  );
}
