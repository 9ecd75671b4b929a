// The Kubernetes source: Services, EndpointSlices and this node's Node, each
// followed by a reflector (paged list, then watch from the list's
// resourceVersion with bookmarks), written into the store as slim copies.
//
// Why not client-node's ListWatch: it caches every whole object (the store
// keeps slim ones), lists without paging, and after a watch error it reports
// and stops instead of restarting. We keep its transport — KubeConfig for
// credentials and TLS, its Watch for the streaming request — and own the loop.
import { HttpMethod, KubeConfig, RequestContext, Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { fetch } from 'undici';
import { ObjectError, slimObject } from './slim.js';
import type { Store } from './store.js';
import type { ObjectKind } from './types.js';

export interface KubernetesSourceOptions {
  kubeconfig?: string;
  master?: string;
  nodeName: string;
  /** "" serves services without the service-proxy-name label; else only those labelled with it. */
  serviceProxyName: string;
  store: Store;
  logger: Logger;
  /** A watch with no event and no bookmark for this long is presumed dead and restarted. */
  silenceTimeoutMs?: number;
  /** Page size of the initial lists. */
  pageSize?: number;
  onSynced?: (kind: ObjectKind) => void;
}

/** Where the config comes from, in kube-proxy's order: --kubeconfig, in-cluster, then --master alone. */
export function loadKubeConfig(opts: { kubeconfig?: string; master?: string }): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else if (opts.master)
    kc.loadFromClusterAndUser({ name: 'master', server: opts.master, skipTLSVerify: false }, { name: 'anonymous' });
  else
    throw new Error(
      'no API server: give --kubeconfig, --master, or run in a cluster (or use --manifests for standalone mode)',
    );
  if (opts.master) {
    const cluster = kc.getCurrentCluster();
    if (cluster) (cluster as { server: string }).server = opts.master;
  }
  return kc;
}

export interface ResourceSpec {
  kind: ObjectKind;
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/**
 * What the source lists and watches: kube-proxy's objects with kube-proxy's
 * selectors, which skip headless services' slices and any object another
 * proxy serves at the API server rather than here. deploy/01-rbac.yaml
 * grants list and watch on exactly these.
 */
export function watchedResources(opts: { serviceProxyName: string; nodeName: string }): ResourceSpec[] {
  const proxyName = opts.serviceProxyName
    ? `service.kubernetes.io/service-proxy-name=${opts.serviceProxyName}`
    : '!service.kubernetes.io/service-proxy-name';
  return [
    { kind: 'Service', path: '/api/v1/services', labelSelector: proxyName },
    {
      kind: 'EndpointSlice',
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      labelSelector: `!service.kubernetes.io/headless,${proxyName}`,
    },
    { kind: 'Node', path: '/api/v1/nodes', fieldSelector: `metadata.name=${opts.nodeName}` },
  ];
}

export class KubernetesSource {
  readonly #reflectors: Reflector[];

  constructor(opts: KubernetesSourceOptions) {
    const kc = loadKubeConfig(opts);
    const resources = watchedResources(opts);
    this.#reflectors = resources.map((r) => new Reflector(kc, r, opts));
  }

  start(): void {
    for (const r of this.#reflectors) r.start();
  }

  stop(): void {
    for (const r of this.#reflectors) r.stop();
  }
}

const BASE_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 30_000;

class Reflector {
  readonly #kc: KubeConfig;
  readonly #res: ResourceSpec;
  readonly #opts: KubernetesSourceOptions;
  readonly #log: Logger;
  readonly #watch: Watch;
  #resourceVersion = '';
  #failures = 0;
  #abort: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;

  constructor(kc: KubeConfig, res: ResourceSpec, opts: KubernetesSourceOptions) {
    this.#kc = kc;
    this.#res = res;
    this.#opts = opts;
    this.#log = opts.logger.child({ resource: res.kind });
    this.#watch = new Watch(kc);
    // Watch aborts a stream with no data for this long (its field is private
    // in the typings but is the documented knob in its source). Bookmarks keep
    // a healthy stream busy, so silence means a dead connection.
    (this.#watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = opts.silenceTimeoutMs ?? 90_000;
  }

  start(): void {
    void this.#run();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#wake?.();
    this.#abort?.abort();
  }

  /** List when there is no resourceVersion to resume from, watch until the stream ends; forever. */
  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        if (!this.#resourceVersion) await this.#list();
        const started = Date.now();
        await this.#watchOnce();
        // A stream that ends at once, again and again, must not spin.
        if (Date.now() - started < 1000) throw new Error('watch ended immediately');
      } catch (err) {
        if (this.#stopped) return;
        this.#failures++;
        const cap = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (this.#failures - 1));
        const delay = cap / 2 + Math.random() * (cap / 2);
        this.#log.warn({ err: describe(err), retryInMs: Math.round(delay) }, 'list/watch failed; retrying');
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          this.#timer = setTimeout(resolve, delay);
        });
      }
    }
  }

  /** A paged list, converted as it arrives; the store then gets the whole set at once. */
  async #list(): Promise<void> {
    const values: unknown[] = [];
    let cont = '';
    let rv = '';
    do {
      const params: Record<string, string> = { limit: String(this.#opts.pageSize ?? 500) };
      if (cont) params.continue = cont;
      if (this.#res.labelSelector) params.labelSelector = this.#res.labelSelector;
      if (this.#res.fieldSelector) params.fieldSelector = this.#res.fieldSelector;
      const page = (await this.#get(this.#res.path, params)) as {
        metadata?: { resourceVersion?: string; continue?: string };
        items?: unknown[];
      };
      for (const raw of page.items ?? []) {
        const v = this.#convert(withKind(raw, this.#res.kind));
        if (v !== undefined) values.push(v);
      }
      cont = page.metadata?.continue ?? '';
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont);
    this.#opts.store.replace(this.#res.kind, values as never[]);
    this.#resourceVersion = rv;
    this.#failures = 0;
    this.#log.info({ objects: values.length, resourceVersion: rv }, 'listed');
    this.#opts.store.markSynced(this.#res.kind);
    this.#opts.onSynced?.(this.#res.kind);
  }

  #watchOnce(): Promise<void> {
    return new Promise((resolve, reject) => {
      const params: Record<string, string> = {
        resourceVersion: this.#resourceVersion,
        allowWatchBookmarks: 'true',
        // The server ends the watch after 5-10 minutes, as client-go asks, so
        // no connection lives forever behind a load balancer.
        timeoutSeconds: String(300 + Math.floor(Math.random() * 300)),
      };
      if (this.#res.labelSelector) params.labelSelector = this.#res.labelSelector;
      if (this.#res.fieldSelector) params.fieldSelector = this.#res.fieldSelector;
      let expired = false;
      const done = (err: unknown) => {
        this.#abort = undefined;
        if (this.#stopped) return resolve();
        if (expired || isGone(err)) {
          // 410 Gone: our resourceVersion fell out of the server's history. Relist.
          this.#log.info('watch expired (410 Gone); relisting');
          this.#resourceVersion = '';
          resolve();
        } else if (err && !isTimeout(err)) {
          reject(err);
        } else {
          // The server closed the stream (timeoutSeconds) or it went silent: resume.
          if (err) this.#log.info('watch silent for too long; restarting it');
          resolve();
        }
      };
      const onEvent = (type: string, obj: unknown) => {
        if (type === 'ERROR') {
          const status = obj as { code?: number; message?: string };
          if (status?.code === 410) expired = true;
          else this.#log.warn({ status }, 'watch error event');
          return;
        }
        const rv = (obj as { metadata?: { resourceVersion?: string } })?.metadata?.resourceVersion;
        if (type === 'ADDED' || type === 'MODIFIED') {
          const v = this.#convert(withKind(obj, this.#res.kind));
          if (v !== undefined) this.#opts.store.upsert(this.#res.kind, v as never);
        } else if (type === 'DELETED') {
          const meta = (obj as { metadata?: { namespace?: string; name?: string } })?.metadata;
          if (meta?.name) this.#opts.store.delete(this.#res.kind, meta.namespace ?? '', meta.name);
        }
        if (rv) this.#resourceVersion = rv;
        this.#failures = 0;
      };
      this.#watch
        .watch(this.#res.path, params, onEvent, done)
        .then((abort) => {
          this.#abort = abort;
          if (this.#stopped) abort.abort();
        })
        .catch(reject);
    });
  }

  /** Slim copy, or undefined (logged) for an object we cannot use. */
  #convert(raw: unknown): unknown {
    try {
      const { value, warnings } = slimObject(raw);
      for (const w of warnings) this.#log.warn({ object: nameOf(raw), problem: w }, 'ignoring part of an object');
      return value;
    } catch (err) {
      if (err instanceof ObjectError) {
        this.#log.warn({ object: nameOf(raw), err: err.message }, 'skipping invalid object');
        return undefined;
      }
      throw err;
    }
  }

  async #get(path: string, params: Record<string, string>): Promise<unknown> {
    const cluster = this.#kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = new URL(cluster.server + path);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const ctx = new RequestContext(url.toString(), HttpMethod.GET);
    await this.#kc.applySecurityAuthentication(ctx);
    const res = await fetch(url, { headers: ctx.getHeaders(), dispatcher: ctx.getDispatcher() as never });
    const body = await res.text();
    if (res.status !== 200) {
      const err = new Error(`GET ${url.pathname}: ${res.status} ${body.slice(0, 200)}`) as Error & {
        statusCode: number;
      };
      err.statusCode = res.status;
      throw err;
    }
    return JSON.parse(body);
  }
}

/** List items carry no kind; the converter dispatches on it. */
function withKind(raw: unknown, kind: ObjectKind): unknown {
  if (!raw || typeof raw !== 'object') return raw;
  const o = raw as Record<string, unknown>;
  if (o.kind) return raw;
  const apiVersion = kind === 'EndpointSlice' ? 'discovery.k8s.io/v1' : 'v1';
  return { ...o, kind, apiVersion };
}

function nameOf(raw: unknown): string {
  const meta = (raw as { metadata?: { namespace?: string; name?: string } })?.metadata;
  return meta ? `${meta.namespace ? `${meta.namespace}/` : ''}${meta.name ?? '?'}` : '?';
}

function isGone(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: number } | undefined;
  return e?.statusCode === 410 || e?.code === 410;
}

function isTimeout(err: unknown): boolean {
  return (err as { name?: string } | undefined)?.name === 'TimeoutError';
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
