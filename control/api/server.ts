// The two servers, as kube-proxy has them: health on --healthz-bind-address,
// and metrics plus the ops API on --metrics-bind-address. The health routes
// are on both, so a probe works whichever port it is pointed at.
import swagger from '@fastify/swagger';
import { createApp, type ApiApp, type AppOptions } from './app.js';
import type { ApiContext } from './context.js';
import { ApiError, ApiErrorCode } from './errors.js';
import { healthRoutes } from './routes/health.js';
import { metaRoutes } from './routes/meta.js';
import { serviceRoutes } from './routes/services.js';
import { statusRoutes } from './routes/status.js';

export async function buildHealthServer(ctx: ApiContext, opts: AppOptions = {}): Promise<ApiApp> {
  const app = createApp(opts);
  healthRoutes(app, ctx);
  await app.ready();
  return app;
}

export interface MetricsServerOptions extends AppOptions {
  /** The modes' own routes (/v1/maps, /v1/conntrack, /v1/ipvs, …), each bound to the running proxier. */
  routes?: ReadonlyArray<(app: ApiApp, ctx: ApiContext) => void>;
}

export async function buildMetricsServer(ctx: ApiContext, opts: MetricsServerOptions = {}): Promise<ApiApp> {
  const app = createApp(opts);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Switchyard ops API',
        version: ctx.version,
        description:
          'Read-only: what the proxy believes (services, endpoints) and what the kernel holds (BPF maps, conntrack).',
      },
    },
    // Shared schemas keep their $id as their component name.
    refResolver: {
      buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  });
  healthRoutes(app, ctx);
  metaRoutes(app, ctx);
  statusRoutes(app, ctx);
  serviceRoutes(app, ctx);
  for (const contribute of opts.routes ?? []) contribute(app, ctx);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}

/** Splits "ip:port" / "[ipv6]:port" as the config parser wrote it. */
export function splitBindAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(i + 1)) };
}

/** Listens, or fails with an error that names the server, the address, the cause and the way out. */
export async function listen(app: ApiApp, address: string, what: { server: string; flag: string }): Promise<string> {
  const { host, port } = splitBindAddress(address);
  try {
    return await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
    const why =
      code === 'EADDRINUSE'
        ? 'the address is already in use (another kube-proxy or switchyard?)'
        : code === 'EADDRNOTAVAIL'
          ? 'no interface of this network namespace has that address'
          : code === 'EACCES'
            ? 'permission denied'
            : (err as Error).message;
    throw new ApiError(
      ApiErrorCode.Listen,
      `cannot start the ${what.server} server on ${address}: ${why} (${code}); choose another address with ${what.flag}, or ${what.flag}="" to turn it off`,
      { cause: err },
    );
  }
}
