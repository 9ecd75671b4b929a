// Which services changed since the last sync. Sources write the store; the
// store says which service each change touches; the tracker remembers the set
// until the sync loop takes it. A change to this node's Node (zone label, …)
// can move any service's topology, so it marks everything.
import type { ObjectKey } from '../sources/types.js';

export interface Changes {
  all: boolean;
  services: Set<ObjectKey>;
}

export class ChangeTracker {
  #all = false;
  #services = new Set<ObjectKey>();
  #listener: (() => void) | undefined;

  /** Called after every recorded change (the loop asks its runner for a sync). */
  onChange(listener: () => void): void {
    this.#listener = listener;
  }

  service(key: ObjectKey): void {
    this.#services.add(key);
    this.#listener?.();
  }

  everything(): void {
    this.#all = true;
    this.#listener?.();
  }

  get pending(): boolean {
    return this.#all || this.#services.size > 0;
  }

  take(): Changes {
    const taken = { all: this.#all, services: this.#services };
    this.#all = false;
    this.#services = new Set();
    return taken;
  }

  /** A sync failed: what it took is still to do. */
  putBack(changes: Changes): void {
    this.#all ||= changes.all;
    for (const k of changes.services) this.#services.add(k);
  }
}
