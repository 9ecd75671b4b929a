// UDP flows whose backend is gone. UDP has no end of connection and our
// conntrack entries no idle timeout (bpf/lib/conntrack.h: they only leave the
// LRU when it fills), so the entries that keep a client's flow on its backend
// would keep it on a removed one for as long as the client sends from the same
// port. kube-proxy deletes the conntrack entries of a removed UDP endpoint
// (pkg/proxy/conntrack); so do we, after the sync that removed it, and the next
// datagram is load-balanced again. TCP flows are left alone: an established
// connection to a removed endpoint keeps working, as with kube-proxy.
//
// kube-proxy also clears a UDP service that goes from no endpoints to some,
// because netfilter remembers the REJECT. Here nothing needs clearing: the tc
// program creates no entry for a flow it found no backend for.
import type { Flow, FlowEnd } from './flows.js';
import { protocolNumber } from './protocol.js';
import { endpointOf } from './vocabulary.js';

const UDP = protocolNumber('UDP');

/** A service port's address as the client dials it. */
export type ServiceAddress = FlowEnd;

/** A flow's identity for clearing: the service address it was sent to, and the backend ("ip:port") it went to. */
const pairOf = (serviceAddr: string, servicePort: number, backend: string) =>
  `${serviceAddr}:${servicePort}>${backend}`;

/**
 * Which UDP (service address, backend) pairs lost their backend since the
 * conntrack table was last cleared. Flows are matched by addresses, not by
 * the ids in the entry: ids are reused as soon as they are released, so an id
 * could name another service's backend by the time the table is read.
 */
export class StaleUdpBackends {
  #pairs = new Set<string>();

  /** The service port sends no new flow to these backends ("ip:port") any more. */
  removed(service: ServiceAddress, backends: Iterable<string>): void {
    for (const b of backends) this.#pairs.add(pairOf(service.address, service.port, b));
  }

  /**
   * The service port sends new flows to these backends (again): their flows
   * are live, even if the backend was removed by an earlier sync whose
   * clearing has not happened yet (it failed, and the sync is retried).
   */
  serving(service: ServiceAddress, backends: Iterable<string>): void {
    if (this.#pairs.size === 0) return;
    for (const b of backends) this.#pairs.delete(pairOf(service.address, service.port, b));
  }

  get size(): number {
    return this.#pairs.size;
  }

  /**
   * Whether a conntrack entry (decodeFlow()) belongs to a UDP flow sent to a
   * removed backend. Both directions name the service and the backend
   * (flows.ts); each is judged on its own, so the half of a flow whose other
   * half the LRU evicted goes too.
   */
  matches(flow: Flow): boolean {
    if (flow.proto !== UDP || this.#pairs.size === 0) return false;
    return this.#pairs.has(pairOf(flow.service.address, flow.service.port, endpointOf(flow.backend)));
  }

  /**
   * The pairs as they are now, to match a read of the table against; the
   * snapshot is `forget()`-ten once its entries are deleted, so a failed
   * clearing is retried by the next one.
   */
  snapshot(): StaleUdpBackends {
    const copy = new StaleUdpBackends();
    copy.#pairs = new Set(this.#pairs);
    return copy;
  }

  /** Drops the pairs of a snapshot whose flows were cleared. */
  forget(cleared: StaleUdpBackends): void {
    for (const p of cleared.#pairs) this.#pairs.delete(p);
  }
}
