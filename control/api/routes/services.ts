// /v1/services: one entry per service port, as the model computed it for this
// node (every endpoint with its conditions, and the clusterEndpoints and
// localEndpoints the proxier uses), plus the dataplane entries it owns (BPF
// map entries in ebpf mode, nat chains in iptables mode).
import type { ServicePortState } from '../../model/types.js';
import type { ApiApp } from '../app.js';
import { entryKey, type ApiContext } from '../context.js';
import { ApiError, ApiErrorCode } from '../errors.js';
import { pageOf, sortByKey } from '../paging.js';
import { ErrorResponses, ServiceBody, ServiceParams, ServicesBody, ServicesQuery } from '../schemas.js';

type Programmed = { id: number; address: string; port: number; protocol: string; backends: string[] };
type ServiceItem = ServicePortState & { programmed?: Programmed[]; chains?: string[] };

/** Joins each service port with the entries the dataplane holds for its ClusterIPs. */
function withProgrammed(ctx: ApiContext, ports: ServicePortState[]): ServiceItem[] {
  const chains = ctx.chains;
  if (chains) return ports.map((sp) => ({ ...sp, chains: chains(sp.name) ?? [] }));
  const dp = ctx.dataplane();
  if (!dp) return ports;
  const index = new Map(dp.programmed().map((p) => [entryKey(p.address, p.port, p.protocol), p]));
  return ports.map((sp) => {
    const programmed: Programmed[] = [];
    for (const ip of sp.clusterIPs) {
      const p = index.get(entryKey(ip, sp.port, sp.protocol));
      if (p) {
        programmed.push({ id: p.id, address: p.address, port: p.port, protocol: p.protocol, backends: p.backends.map((b) => `${b.address}:${b.port}`) });
      }
    }
    return { ...sp, programmed };
  });
}

export function serviceRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    '/v1/services',
    { schema: { summary: 'service ports with their endpoints (paged)', querystring: ServicesQuery, response: { 200: ServicesBody, ...ErrorResponses } } },
    async (req) => {
      const { namespace, limit, continue: cont } = req.query;
      let ports = [...ctx.loop.state.values()];
      if (namespace !== undefined) ports = ports.filter((p) => p.namespace === namespace);
      const page = pageOf('services', sortByKey(ports, (p) => p.name), (p) => p.name, { limit, continue: cont });
      return { ...page, items: withProgrammed(ctx, page.items) };
    },
  );

  app.get(
    '/v1/services/:namespace/:name',
    { schema: { summary: "one service's ports", params: ServiceParams, response: { 200: ServiceBody, ...ErrorResponses } } },
    async (req) => {
      const { namespace, name } = req.params;
      const ports = [...ctx.loop.state.values()].filter((p) => p.namespace === namespace && p.service === name);
      if (ports.length === 0) {
        throw new ApiError(ApiErrorCode.NotFound, `service ${namespace}/${name} has no ports this proxy serves (unknown, headless, ExternalName, or not synced yet)`);
      }
      return { items: withProgrammed(ctx, sortByKey(ports, (p) => p.name)) };
    },
  );
}
