// /healthz and /livez exactly as kube-proxy serves them (same JSON body, same
// 200/503 rules, counted in kubeproxy_proxy_{healthz,livez}_total), and
// /readyz: live, and the first sync has programmed the dataplane; it also says
// whether the node keeps serving while this process is down (not in the
// userspace mode, whose sockets are the dataplane).
import type { ApiApp } from '../app.js';
import type { ApiContext } from '../context.js';
import { HealthzBody, LivezBody, ReadyzBody } from '../schemas.js';

export function healthRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    '/healthz',
    { schema: { summary: "kube-proxy's healthz", response: { 200: HealthzBody, 503: HealthzBody } } },
    async (_req, reply) => {
      const { status, body } = ctx.health.healthz();
      ctx.metrics.observeHealthz(status);
      void reply.header('X-Content-Type-Options', 'nosniff');
      return reply.code(status).send(body);
    },
  );

  app.get(
    '/livez',
    { schema: { summary: "kube-proxy's livez", response: { 200: LivezBody, 503: LivezBody } } },
    async (_req, reply) => {
      const { status, body } = ctx.health.livez();
      ctx.metrics.observeLivez(status);
      void reply.header('X-Content-Type-Options', 'nosniff');
      return reply.code(status).send(body);
    },
  );

  app.get(
    '/readyz',
    { schema: { summary: 'ready: healthy and initially synced', response: { 200: ReadyzBody, 503: ReadyzBody } } },
    async (_req, reply) => {
      const healthy = ctx.health.report().healthy;
      const initialSyncDone = ctx.loop.initialSyncDone;
      const ready = healthy && initialSyncDone;
      const reason = !initialSyncDone
        ? 'the initial sync has not completed'
        : !healthy
          ? 'a queued change is older than the health timeout'
          : undefined;
      const servesWhileStopped = ctx.proxier.servesWhileStopped !== false;
      return reply
        .code(ready ? 200 : 503)
        .send({ ready, initialSyncDone, healthy, servesWhileStopped, ...(reason ? { reason } : {}) });
    },
  );
}
