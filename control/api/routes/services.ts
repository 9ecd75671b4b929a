// /v1/services: one entry per service port, as the model computed it for this
// node (every endpoint with its conditions, and the clusterEndpoints and
// localEndpoints the proxier uses), plus the dataplane entries it owns (BPF
// map entries in ebpf mode, nat chains in iptables mode).
import { hostPort } from '../../model/address.js';
import type { EndpointState, ServicePortState } from '../../model/types.js';
import type { ApiApp } from '../app.js';
import type { ServicePortEntries } from '../../proxiers/types.js';
import type { ApiContext } from '../context.js';
import { ApiError, ApiErrorCode } from '../errors.js';
import { pageOf, sortByKey } from '../paging.js';
import { ErrorResponses, ServiceBody, ServiceParams, ServicesBody, ServicesQuery } from '../schemas.js';

/** A service port as the API shows it: the categorized endpoints as "ip:port" text ("[ip]:port" for IPv6). */
type ServiceItem = Omit<ServicePortState, 'clusterEndpoints' | 'localEndpoints'> &
  ServicePortEntries & { clusterEndpoints: string[] | null; localEndpoints: string[] | null };

const endpointTexts = (eps: readonly EndpointState[] | null): string[] | null =>
  eps === null ? null : eps.map((e) => hostPort(e.ip, e.port));

/** Joins each service port with what the running mode holds for it (BPF entries, nat chains, or nothing). */
function withProgrammed(ctx: ApiContext, ports: ServicePortState[]): ServiceItem[] {
  const entries = ctx.proxier.servicePorts?.(ports);
  return ports.map((sp, i) => ({
    ...sp,
    clusterEndpoints: endpointTexts(sp.clusterEndpoints),
    localEndpoints: endpointTexts(sp.localEndpoints),
    ...entries?.[i],
  }));
}

export function serviceRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    '/v1/services',
    {
      schema: {
        summary: 'service ports with their endpoints (paged)',
        querystring: ServicesQuery,
        response: { 200: ServicesBody, ...ErrorResponses },
      },
    },
    async (req) => {
      const { namespace, limit, continue: cont } = req.query;
      let ports = [...ctx.loop.state.values()];
      if (namespace !== undefined) ports = ports.filter((p) => p.namespace === namespace);
      const page = pageOf(
        'services',
        sortByKey(ports, (p) => p.name),
        (p) => p.name,
        { limit, continue: cont },
      );
      return { ...page, items: withProgrammed(ctx, page.items) };
    },
  );

  app.get(
    '/v1/services/:namespace/:name',
    {
      schema: {
        summary: "one service's ports",
        params: ServiceParams,
        response: { 200: ServiceBody, ...ErrorResponses },
      },
    },
    async (req) => {
      const { namespace, name } = req.params;
      const ports = [...ctx.loop.state.values()].filter((p) => p.namespace === namespace && p.service === name);
      if (ports.length === 0) {
        throw new ApiError(
          ApiErrorCode.NotFound,
          `service ${namespace}/${name} has no ports this proxy serves (unknown, headless, ExternalName, or not synced yet)`,
        );
      }
      return {
        items: withProgrammed(
          ctx,
          sortByKey(ports, (p) => p.name),
        ),
      };
    },
  );
}
