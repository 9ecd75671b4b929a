// /v1/ipvs: the ipvs mode's virtual servers and real servers, read from the
// kernel at request time (what packets see, as `ipvsadm -Ln` shows it), both
// families' (one IPVS table holds them), each with the service port that owns
// it (whichever family's proxier programmed it), paged, and filterable by service.
import type { ApiApp } from '../../api/app.js';
import type { ApiContext } from '../../api/context.js';
import { pageOf, sortByKey } from '../../api/paging.js';
import { ErrorResponses, IpvsBody, IpvsQuery } from '../../api/schemas.js';
import { virtualServerId, type ProgrammedRealServer, type ProgrammedVirtualServer } from '../../netlink/types.js';
import type { ServicePortName } from '../../model/types.js';
import type { IpvsProxier } from './proxier.js';

/** One virtual server with its real servers, and the service port that owns it. */
export interface IpvsEntry {
  virtualServer: ProgrammedVirtualServer;
  realServers: ProgrammedRealServer[];
  servicePort?: ServicePortName;
}

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

/**
 * `proxier`: the running mode's primary (IPv4) ipvs proxier, or undefined in
 * another mode; `families`: every family's proxier that runs (the owners).
 */
export function ipvsRoutes(
  app: ApiApp,
  ctx: ApiContext,
  proxier: IpvsProxier | undefined,
  families: () => readonly IpvsProxier[] = () => (proxier ? [proxier] : []),
): void {
  app.get(
    '/v1/ipvs',
    {
      schema: {
        summary: 'the IPVS virtual servers and real servers the kernel holds (ipvs mode)',
        querystring: IpvsQuery,
        response: { 200: IpvsBody, ...ErrorResponses },
      },
    },
    async (req) => {
      if (!proxier)
        return {
          mode: ctx.options.mode,
          items: [],
          remaining: 0,
          message: `the ${ctx.options.mode} mode programs no IPVS virtual servers`,
        };
      const { limit, continue: cont, service } = req.query;
      const owners = new Map(families().flatMap((p) => [...p.owners()]));
      let items = (await proxier.programmed(owners)).map(view);
      if (service)
        items = items.filter(
          (v) => v.servicePort !== undefined && (v.servicePort === service || v.servicePort.startsWith(`${service}:`)),
        );
      const page = pageOf(
        'ipvs',
        sortByKey(items, (v) => v.id),
        (v) => v.id,
        { limit, continue: cont },
      );
      return { mode: ctx.options.mode, ...page };
    },
  );
}
