// Small integer ids for service ports and backends: the keys that tie slots to
// services and backends. Freed ids are reused so the id space stays dense.
export class IdAllocator {
  #next = 1;
  readonly #free: number[] = [];
  readonly #used = new Set<number>();

  allocate(): number {
    const id = this.#free.pop() ?? this.#next++;
    this.#used.add(id);
    return id;
  }

  /** Marks an id found in pinned maps as taken (start-up reconcile). */
  claim(id: number): void {
    this.#used.add(id);
    if (id >= this.#next) {
      for (let i = this.#next; i < id; i++) this.#free.push(i);
      this.#next = id + 1;
    } else {
      const at = this.#free.indexOf(id);
      if (at >= 0) this.#free.splice(at, 1);
    }
  }

  release(id: number): void {
    if (this.#used.delete(id)) this.#free.push(id);
  }

  get size(): number {
    return this.#used.size;
  }
}
