// sy_drops read back: the packets the tc and XDP programs dropped, by reason
// (enum sy_drop_reason), summed over the CPUs that counted them. The map is
// read through its pin with a handle of our own, as the ops API reads every
// map, and opened again when the pin names another map (a clean-up and a new
// start). For the metrics and /v1/status; nothing here writes.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap, type TypedMap } from '../../bpf/index.js';
import { MAP_FORMATS, SyDropReasonNames, type MapTypes } from './abi.generated.js';

type Drops = MapTypes['sy_drops'];

/** Every reason abi.h names, with zero for those nothing was dropped for. */
export function sumDrops(perCpu: ReadonlyArray<readonly [number, readonly bigint[]]>): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const name of Object.values(SyDropReasonNames)) out[name] = 0n;
  for (const [reason, counts] of perCpu) {
    const name = SyDropReasonNames[reason];
    if (name === undefined) continue; // index 0 (no reason), or a reason newer than this build
    out[name] = counts.reduce((a, b) => a + b, 0n);
  }
  return out;
}

export class DropCounters {
  readonly path: string;
  #map: { typed: TypedMap<Drops['key'], Drops['value']>; ino: number } | undefined;

  constructor(opts: { pinRoot: string }) {
    this.path = join(opts.pinRoot, 'sy_drops');
  }

  /** Packets dropped per reason since the map was created; all zero while no map is pinned. */
  async read(): Promise<Record<string, bigint>> {
    const typed = this.#open();
    return sumDrops(typed ? await typed.allPerCpu() : []);
  }

  /** Safe to call more than once. */
  close(): void {
    this.#map?.typed.map.close();
    this.#map = undefined;
  }

  #open(): TypedMap<Drops['key'], Drops['value']> | undefined {
    let ino: number;
    try {
      ino = statSync(this.path).ino;
    } catch {
      this.close();
      return undefined;
    }
    if (this.#map?.ino === ino) return this.#map.typed;
    this.close();
    const map = BpfMap.openPinned(this.path);
    try {
      this.#map = { typed: map.typed<Drops['key'], Drops['value']>(MAP_FORMATS.sy_drops), ino };
    } catch (e) {
      map.close();
      throw e;
    }
    return this.#map.typed;
  }
}
