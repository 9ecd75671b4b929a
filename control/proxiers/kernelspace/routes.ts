// /v1/hns: the HNS load balancers and endpoints as the kernelspace mode sees
// them (what it created or adopted, as HNS last answered), each load balancer
// with the service port that owns it, paged and filterable by service.
import type { ApiApp } from '../../api/app.js';
import type { ApiContext } from '../../api/context.js';
import { pageOf, sortByKey } from '../../api/paging.js';
import { ErrorResponses, HnsBody, HnsQuery } from '../../api/schemas.js';
import { Distribution, LbFlags, PortMappingFlags } from './hcn/schema.js';
import type { KernelspaceProxier } from './proxier.js';
import type { HeldLoadBalancer } from './reconcile.js';

const bits = (table: Record<string, number>, value: number | undefined) =>
  Object.entries(table)
    .filter(([, bit]) => bit !== 0 && ((value ?? 0) & bit) === bit)
    .map(([name]) => name);

function loadBalancerView(family: string, lb: HeldLoadBalancer) {
  const m = lb.doc.PortMappings?.[0];
  const distribution = Object.entries(Distribution).find(([, v]) => v === (m?.DistributionType ?? 0))?.[0];
  return {
    id: lb.id,
    frontend: lb.key,
    ...(lb.servicePort ? { servicePort: lb.servicePort } : {}),
    family,
    ...(lb.doc.FrontendVIPs?.[0] ? { frontendVip: lb.doc.FrontendVIPs[0] } : {}),
    ...(lb.doc.SourceVIP ? { sourceVip: lb.doc.SourceVIP } : {}),
    protocol: m?.Protocol ?? 0,
    internalPort: m?.InternalPort ?? 0,
    externalPort: m?.ExternalPort ?? 0,
    flags: bits(LbFlags, lb.doc.Flags),
    portMappingFlags: bits(PortMappingFlags, m?.Flags),
    distribution: distribution ?? String(m?.DistributionType),
    endpoints: lb.doc.HostComputeEndpoints ?? [],
  };
}

const ofService = (service: string | undefined, name: string | undefined) =>
  !service || (name !== undefined && (name === service || name.startsWith(`${service}:`)));

/** `proxier`: the running kernelspace mode's primary family proxier, or undefined in another mode. */
export function hnsRoutes(app: ApiApp, ctx: ApiContext, proxier: KernelspaceProxier | undefined): void {
  app.get(
    '/v1/hns',
    {
      schema: {
        summary: 'the HNS load balancers and endpoints the kernelspace mode programs (Windows)',
        querystring: HnsQuery,
        response: { 200: HnsBody, ...ErrorResponses },
      },
    },
    async (req) => {
      if (!proxier)
        return {
          mode: ctx.options.mode,
          message: `the ${ctx.options.mode} mode programs no HNS objects`,
          families: [],
          items: [],
          remaining: 0,
          endpoints: [],
        };
      const { limit, continue: cont, service } = req.query;
      const host = proxier.host;
      const views = host.proxiers.map((p) => p.hns());
      const items = views.flatMap((v) =>
        v.loadBalancers.filter((lb) => ofService(service, lb.servicePort)).map((lb) => loadBalancerView(v.family, lb)),
      );
      const endpoints = views.flatMap((v) =>
        v.endpoints
          .filter((e) => !service || e.users.some((u) => ofService(service, u)))
          .map((e) => ({
            id: e.id,
            ip: e.ip,
            ...(e.name ? { name: e.name } : {}),
            remote: e.remote,
            owned: e.ours,
            users: e.users,
          })),
      );
      const page = pageOf(
        'hns',
        sortByKey(items, (lb) => lb.frontend),
        (lb) => lb.frontend,
        { limit, continue: cont },
      );
      const network = host.network;
      const version = host.version;
      return {
        mode: ctx.options.mode,
        ...(network?.ID ? { network: { id: network.ID, name: network.Name ?? '', type: network.Type ?? '' } } : {}),
        ...(version ? { hnsVersion: `${version.major}.${version.minor}` } : {}),
        families: views.map((v) => ({ family: v.family, ...(v.disabled ? { disabled: v.disabled } : {}) })),
        ...page,
        endpoints,
      };
    },
  );
}
