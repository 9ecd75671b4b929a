// The HTTP face of the test API server: routes a request to discovery, list,
// get, watch or a write, after counting it and giving injected faults their
// chance. Every failure leaves as a metav1.Status with the matching code.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { DISCOVERY, HEALTH_PATHS } from './discovery.js';
import type { FailureRules, RequestCounter, Verb } from './faults.js';
import type { Lister } from './list.js';
import type { ResourcePath } from './resources.js';
import { parseResourcePath } from './resources.js';
import type { Selector } from './selectors.js';
import { bothSelectors, parseFieldSelector, parseLabelSelector } from './selectors.js';
import type { Status } from './status.js';
import { ApiError, badRequest, deletedStatus, expired, failureStatus, notFound } from './status.js';
import type { KubeObject, Store } from './store.js';
import { admit } from './store.js';
import type { WatchRegistry } from './watch.js';
import { sendWatchError } from './watch.js';

export interface HandlerContext {
  store: Store;
  lister: Lister;
  watches: WatchRegistry;
  faults: FailureRules;
  counts: RequestCounter;
  bookmarkIntervalMs: number;
}

/** Request bodies beyond this are refused; the real server's limit is 3 MiB per object. */
const MAX_BODY = 16 * 1024 * 1024;

const MERGE_PATCH = new Set(['application/merge-patch+json', 'application/strategic-merge-patch+json']);

export function createHandler(ctx: HandlerContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(ctx, req, res).catch((err: unknown) => {
      const status = err instanceof ApiError ? err.status : failureStatus(500, String(err));
      if (res.headersSent) res.destroy();
      else sendJson(res, status.code, JSON.stringify(status));
    });
  };
}

async function handle(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const rawUrl = req.url ?? '/';
  const url = new URL(rawUrl, 'http://apiserver');
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
  const target = parseResourcePath(path);
  const verb = target !== undefined ? verbOf(method, target, url.searchParams) : undefined;
  if (target !== undefined && verb !== undefined) ctx.counts.add(target.info.kind, verb);

  const injected = ctx.faults.take(method, rawUrl);
  if (injected !== undefined) {
    const headers: Record<string, string> = injected === 429 ? { 'Retry-After': '1' } : {};
    sendStatus(res, failureStatus(injected, `injected failure for ${method} ${rawUrl}`), headers);
    return;
  }

  if (method === 'GET' && HEALTH_PATHS.has(path)) {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('ok');
    return;
  }
  const doc = method === 'GET' ? DISCOVERY.get(path) : undefined;
  if (doc !== undefined) return sendJson(res, 200, doc);
  if (target === undefined) {
    return sendStatus(res, failureStatus(404, 'the server could not find the requested resource'));
  }
  if (verb === undefined) {
    return sendStatus(res, failureStatus(405, `the server does not allow this method on the requested resource`));
  }

  const { info, namespace, name } = target;
  const q = url.searchParams;
  switch (verb) {
    case 'list':
      return sendJson(
        res,
        200,
        ctx.lister.list({
          info,
          ...(namespace !== undefined && { namespace }),
          selector: selectorOf(q),
          limit: intParam(q, 'limit') ?? 0,
          continueToken: q.get('continue') ?? '',
        }),
      );
    case 'watch':
      return watch(ctx, res, target, q);
    case 'get': {
      const stored = ctx.store.get(info.kind, namespace ?? '', name ?? '');
      if (stored === undefined) throw notFound(info, name ?? '');
      return sendJson(res, 200, stored.json);
    }
    case 'create': {
      const body = admit(info, await readJson(req), { fillTypeMeta: true, ...pathNamespace(target) });
      return sendJson(res, 201, ctx.store.create(info, body).json);
    }
    case 'update': {
      const body = admit(info, await readJson(req), { fillTypeMeta: true, ...pathNamespace(target) });
      if (body.metadata.name !== name) throw badRequest('the name of the object does not match the name on the URL');
      return sendJson(res, 200, ctx.store.update(info, body, true).json);
    }
    case 'patch': {
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
      if (!MERGE_PATCH.has(type)) {
        const accepted = [...MERGE_PATCH].join(', ');
        const message = `the body of the request was in an unknown format - accepted media types include: ${accepted}`;
        return sendStatus(res, failureStatus(415, message));
      }
      // Read the patch before the object, so no write can slip in between and make it a Conflict.
      const patch = await readJson(req);
      const current = ctx.store.get(info.kind, namespace ?? '', name ?? '');
      if (current === undefined) throw notFound(info, name ?? '');
      const merged = mergePatch(JSON.parse(current.json), patch) as KubeObject;
      const body = admit(info, merged, pathNamespace(target));
      return sendJson(res, 200, ctx.store.update(info, body, true).json);
    }
    case 'delete': {
      const last = ctx.store.delete(info, namespace ?? '', name ?? '');
      return info.deleteReturnsObject
        ? sendJson(res, 200, last.json)
        : sendJson(res, 200, JSON.stringify(deletedStatus(info, last.name)));
    }
  }
}

function verbOf(method: string, target: ResourcePath, q: URLSearchParams): Verb | undefined {
  const isWatch = q.get('watch') === 'true' || q.get('watch') === '1';
  const named = target.name !== undefined;
  switch (method) {
    case 'GET':
      return isWatch ? 'watch' : named ? 'get' : 'list';
    case 'POST':
      // Namespaced objects are created in a namespace's collection, never the all-namespaces one.
      return !named && (target.namespace !== undefined || !target.info.namespaced) ? 'create' : undefined;
    case 'PUT':
      return named ? 'update' : undefined;
    case 'PATCH':
      return named ? 'patch' : undefined;
    case 'DELETE':
      return named ? 'delete' : undefined;
    default:
      return undefined;
  }
}

function watch(ctx: HandlerContext, res: ServerResponse, target: ResourcePath, q: URLSearchParams): void {
  const rvParam = q.get('resourceVersion') ?? '';
  const sendInitialEvents = q.get('sendInitialEvents') === 'true';
  let sinceRv: number | undefined;
  if (rvParam !== '' && rvParam !== '0' && !sendInitialEvents) {
    sinceRv = Number(rvParam);
    if (!Number.isSafeInteger(sinceRv) || sinceRv < 0) throw badRequest(`resourceVersion: Invalid value: "${rvParam}"`);
    const compacted = ctx.store.compactedRevision;
    if (sinceRv < compacted) {
      sendWatchError(res, expired(`too old resource version: ${sinceRv} (${compacted})`).status);
      return;
    }
  }
  let selector = selectorOf(q);
  // A watch on a named object is a watch on its collection filtered to that name.
  const name = target.name;
  if (name !== undefined) selector = bothSelectors(selector, (o) => o.name === name);
  const timeoutSeconds = intParam(q, 'timeoutSeconds');
  ctx.watches.open(res, {
    info: target.info,
    ...(target.namespace !== undefined && { namespace: target.namespace }),
    selector,
    ...(sinceRv !== undefined && { sinceRv }),
    initialEventsEnd: sendInitialEvents,
    bookmarks: q.get('allowWatchBookmarks') === 'true',
    bookmarkIntervalMs: ctx.bookmarkIntervalMs,
    ...(timeoutSeconds !== undefined && timeoutSeconds > 0 && { timeoutMs: timeoutSeconds * 1000 }),
  });
}

const selectorOf = (q: URLSearchParams): Selector =>
  bothSelectors(parseLabelSelector(q.get('labelSelector')), parseFieldSelector(q.get('fieldSelector')));

const pathNamespace = (target: ResourcePath): { pathNamespace?: string } =>
  target.namespace !== undefined ? { pathNamespace: target.namespace } : {};

function intParam(q: URLSearchParams, key: string): number | undefined {
  const raw = q.get(key);
  if (raw === null || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw badRequest(`${key}: Invalid value: "${raw}"`);
  return n;
}

async function readJson(req: IncomingMessage): Promise<KubeObject> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) {
      throw new ApiError(failureStatus(413, 'request entity too large', { reason: 'RequestEntityTooLarge' }));
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as KubeObject;
  } catch (err) {
    throw badRequest(`the body of the request is not valid JSON: ${String(err)}`);
  }
}

/** RFC 7386 JSON merge patch; strategic merge patches are applied the same way (lists replace). */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const isObject = typeof target === 'object' && target !== null && !Array.isArray(target);
  const out: Record<string, unknown> = isObject ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

function sendJson(res: ServerResponse, code: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendStatus(res: ServerResponse, status: Status, headers: Record<string, string> = {}): void {
  sendJson(res, status.code, JSON.stringify(status), headers);
}
