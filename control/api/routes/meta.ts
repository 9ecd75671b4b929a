// kube-proxy's metrics-server routes: /metrics (Prometheus text), /proxyMode
// (the mode as plain text) and /configz (the configuration in effect).
import { Type } from 'typebox';
import type { ApiApp } from '../app.js';
import { configz } from '../configz.js';
import type { ApiContext } from '../context.js';

export function metaRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_req, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });

  app.get(
    '/proxyMode',
    { schema: { summary: 'the proxy mode', produces: ['text/plain'], response: { 200: Type.String() } } },
    async (_req, reply) => reply.type('text/plain; charset=utf-8').send(ctx.options.mode),
  );

  app.get(
    '/configz',
    {
      schema: { summary: 'the configuration in effect', response: { 200: Type.Record(Type.String(), Type.Unknown()) } },
    },
    async () => configz(ctx.options),
  );
}
