// /v1/ipvs: the ipvs mode's virtual servers and real servers, read from the
// kernel at request time (what packets see, as `ipvsadm -Ln` shows it), each
// with the service port that owns it, paged, and filterable by service.
import type { ApiApp } from '../app.js';
import type { ApiContext, IpvsEntry } from '../context.js';
import { pageOf, sortByKey } from '../paging.js';
import { ErrorResponses, IpvsBody, IpvsQuery } from '../schemas.js';
import { virtualServerId } from '../../netlink/types.js';

function view(e: IpvsEntry) {
  const vs = e.virtualServer;
  return {
    id: virtualServerId(vs),
    ...(e.servicePort ? { servicePort: e.servicePort } : {}),
    scheduler: vs.scheduler,
    ...(vs.persistence ? { persistence: vs.persistence } : {}),
    ...(vs.stats ? { connections: vs.stats.connections } : {}),
    realServers: e.realServers.map((r) => ({
      address: r.address,
      port: r.port,
      weight: r.weight,
      forwarding: r.forwarding,
      activeConnections: r.activeConnections,
      inactiveConnections: r.inactiveConnections,
      persistentConnections: r.persistentConnections,
    })),
  };
}

export function ipvsRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    '/v1/ipvs',
    { schema: { summary: 'the IPVS virtual servers and real servers the kernel holds (ipvs mode)', querystring: IpvsQuery, response: { 200: IpvsBody, ...ErrorResponses } } },
    async (req) => {
      const read = ctx.ipvs;
      if (!read) return { mode: ctx.options.mode, items: [], remaining: 0, message: `the ${ctx.options.mode} mode programs no IPVS virtual servers` };
      const { limit, continue: cont, service } = req.query;
      let items = (await read()).map(view);
      if (service) items = items.filter((v) => v.servicePort !== undefined && (v.servicePort === service || v.servicePort.startsWith(`${service}:`)));
      const page = pageOf('ipvs', sortByKey(items, (v) => v.id), (v) => v.id, { limit, continue: cont });
      return { mode: ctx.options.mode, ...page };
    },
  );
}
