// Small integer ids for service ports and backends: the keys that tie slots to
// services and backends. Freed ids are reused so the id space stays dense.
// Which ids are taken is a byte per id (100,000 backends: 100 KB, where a
// Set<number> took 1.5 MB).
export class IdAllocator {
  #next = 1;
  readonly #free: number[] = [];
  #used = new Uint8Array(1024);
  #size = 0;

  allocate(): number {
    let id = this.#free.pop();
    // The free list may still hold an id claim() took since: skip those.
    while (id !== undefined && this.#used[id]) id = this.#free.pop();
    id ??= this.#next++;
    this.#take(id);
    return id;
  }

  /** Marks an id found in pinned maps as taken (start-up reconcile). */
  claim(id: number): void {
    this.#take(id);
    if (id >= this.#next) {
      for (let i = this.#next; i < id; i++) this.#free.push(i);
      this.#next = id + 1;
    }
  }

  release(id: number): void {
    if (id >= this.#used.length || !this.#used[id]) return;
    this.#used[id] = 0;
    this.#size--;
    this.#free.push(id);
  }

  get size(): number {
    return this.#size;
  }

  #take(id: number): void {
    if (id >= this.#used.length) {
      const grown = new Uint8Array(Math.max(id + 1, this.#used.length * 2));
      grown.set(this.#used);
      this.#used = grown;
    }
    if (!this.#used[id]) this.#size++;
    this.#used[id] = 1;
  }
}
