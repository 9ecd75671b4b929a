// Which endpoint a new connection goes to, as kube-proxy's userspace
// LoadBalancerRR chose: round robin over the endpoints the model gives the
// frontend, and with ClientIP affinity the client's last endpoint while it
// is still an endpoint and the affinity has not expired.
import type { EndpointState } from '../../model/types.js';

export interface Backend {
  ip: string;
  port: number;
}

export const backendKey = (b: Backend) => `${b.ip}:${b.port}`;

export class Balancer {
  #backends: Backend[] = [];
  #keys = new Set<string>();
  #next = 0;
  #affinityMs: number | undefined;
  readonly #sticky = new Map<string, { key: string; at: number }>();

  /** New endpoints (or affinity): affinity records of endpoints gone are dropped. */
  update(endpoints: readonly EndpointState[], affinityTimeoutSeconds: number | undefined): void {
    this.#backends = endpoints.map((e) => ({ ip: e.ip, port: e.port }));
    this.#keys = new Set(this.#backends.map(backendKey));
    if (this.#next >= this.#backends.length) this.#next = 0;
    const ms = affinityTimeoutSeconds === undefined ? undefined : affinityTimeoutSeconds * 1000;
    if (ms !== this.#affinityMs) this.#sticky.clear();
    this.#affinityMs = ms;
    for (const [client, s] of this.#sticky) if (!this.#keys.has(s.key)) this.#sticky.delete(client);
  }

  get size(): number {
    return this.#backends.length;
  }

  has(b: Backend): boolean {
    return this.#keys.has(backendKey(b));
  }

  /** The endpoint for a new connection from `client`, or undefined with no endpoints. */
  pick(client: string, now = Date.now()): Backend | undefined {
    if (this.#backends.length === 0) return undefined;
    if (this.#affinityMs !== undefined) {
      const s = this.#sticky.get(client);
      if (s && now - s.at < this.#affinityMs) {
        const b = this.#backends.find((x) => backendKey(x) === s.key);
        if (b) {
          s.at = now;
          return b;
        }
      }
    }
    const b = this.#backends[this.#next]!;
    this.#next = (this.#next + 1) % this.#backends.length;
    if (this.#affinityMs !== undefined) this.#sticky.set(client, { key: backendKey(b), at: now });
    return b;
  }

  /** A dial to `b` failed: the client's affinity to it goes, so the next try takes another. */
  failed(client: string, b: Backend): void {
    if (this.#sticky.get(client)?.key === backendKey(b)) this.#sticky.delete(client);
  }
}
