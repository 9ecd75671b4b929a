// Reusing maps an earlier run pinned. libbpf reuses a pin when type, sizes,
// max_entries and flags match and refuses with EINVAL otherwise; it never
// looks at the BTF. Before load we compare each pinned map with the object's
// definition (map-spec.ts): identical → libbpf adopts it; only max_entries
// differs (the operator changed --bpf-map-sizes) → migrate; anything else →
// ERR_BPF_MAP_INCOMPATIBLE, the pin untouched and never read.
import { existsSync, renameSync } from 'node:fs';
import type { NativeMapSpec, NativeObject } from '../native/addon.js';
import { BpfError, BpfErrorCode, native } from './errors.js';
import { BpfMap } from './map.js';
import { compareMapSpecs, formatDifferences, onlySizeDiffers, type MapDifference } from './map-spec.js';

export interface PinnedMapMigration {
  map: string;
  pinPath: string;
  oldMaxEntries: number;
  newMaxEntries: number;
  /** Entries of the old map, and how many of them the new map holds. */
  entries: number;
  entriesCopied: number;
}

/** A pinned map to migrate to the object's size. */
export interface SizeChange {
  map: string;
  pinPath: string;
  from: number;
  to: number;
}

const CLEANUP_HINT =
  'the map pinned by an earlier run has another layout; `switchyard --cleanup` removes the old pins ' +
  '(established flows through the old maps are lost), or the map needs a converter';

function pinnedSpec(map: BpfMap): NativeMapSpec {
  const btf = map.btf();
  const { name, type, keySize, valueSize, maxEntries, flags } = map.info;
  return { name, type, keySize, valueSize, maxEntries, flags, key: btf?.key ?? null, value: btf?.value ?? null };
}

/** The object's maps that have a pin path with something pinned there. */
function pinnedMapsOf(obj: NativeObject): Array<{ name: string; pinPath: string }> {
  return native(() => obj.maps())
    .filter((m) => !m.internal && m.pinPath && existsSync(m.pinPath))
    .map((m) => ({ name: m.name, pinPath: m.pinPath! }));
}

const RESIZE_HINT =
  'only its size differs: BpfObject.loadMigrating copies the entries into a map of the new size (the daemon loads that way)';

export function incompatible(name: string, pinPath: string, diffs: readonly MapDifference[]): BpfError {
  return new BpfError(
    BpfErrorCode.MapIncompatible,
    `object.load ${name}: the map pinned at ${pinPath} does not match the object's definition: ${formatDifferences(diffs)}`,
    { op: 'object.load', target: pinPath, hint: onlySizeDiffers(diffs) ? RESIZE_HINT : CLEANUP_HINT },
  );
}

/**
 * Compares every pinned map with the object's definition. Throws on the
 * first map whose layout differs (before anything was changed); returns the
 * maps whose size alone differs.
 */
export function checkPins(obj: NativeObject): SizeChange[] {
  const changes: SizeChange[] = [];
  for (const { name, pinPath } of pinnedMapsOf(obj)) {
    const pinned = BpfMap.openPinned(pinPath);
    let diffs: MapDifference[];
    try {
      diffs = compareMapSpecs(
        pinnedSpec(pinned),
        native(() => obj.mapSpec(name)),
      );
    } finally {
      pinned.close();
    }
    if (diffs.length === 0) continue;
    if (!onlySizeDiffers(diffs)) throw incompatible(name, pinPath, diffs);
    changes.push({ map: name, pinPath, from: Number(diffs[0]!.pinned), to: Number(diffs[0]!.object) });
  }
  return changes;
}

const isLru = (type: string) => type.startsWith('lru_');

/**
 * Moves one pinned map to its new size: a new map of the object's
 * definition, filled with every entry of the old one, then pinned in the old
 * one's place by rename (one step: a reader of the path sees the old map or
 * the new, full one). The caller loads the object afterwards, so its programs
 * get the new map. The old map lives on while the programs of the previous
 * run still hold it; flows they record after the copy are not carried over.
 *
 * Shrinking below the entry count: a hash map (services, slots, backends)
 * would lose what the dataplane needs, so that is refused before anything
 * changes. An LRU map (conntrack, affinity, socket rev-NAT) holds what the
 * kernel may evict anyway: the entries that fit are copied and the caller is
 * told how many were dropped.
 */
export async function migratePin(obj: NativeObject, change: SizeChange): Promise<PinnedMapMigration> {
  const { map: name, pinPath } = change;
  const old = BpfMap.openPinned(pinPath);
  try {
    const entries = await old.lookupAll();
    const lru = isLru(old.info.type);
    if (entries.length > change.to && !lru) {
      throw new BpfError(
        BpfErrorCode.MapFull,
        `object.load ${name}: the map pinned at ${pinPath} holds ${entries.length} entries, more than the new size ${change.to}; nothing was changed`,
        {
          op: 'object.migratePin',
          target: pinPath,
          hint: `set --bpf-map-sizes ${name}=${entries.length} or more (it was ${change.from})`,
        },
      );
    }
    const fresh = new BpfMap(native(() => obj.createMap(name)));
    try {
      const copy = lru ? entries.slice(0, change.to) : entries;
      if (copy.length) await fresh.updateBatch(copy);
      const copied = lru && entries.length > change.to / 2 ? (await fresh.lookupAll()).length : copy.length;
      // bpffs refuses names with a dot.
      const tmp = `${pinPath}_migrating_${process.pid}`;
      BpfMap.unpin(tmp);
      fresh.pin(tmp);
      try {
        renameSync(tmp, pinPath);
      } catch (e) {
        BpfMap.unpin(tmp);
        throw e;
      }
      return {
        map: name,
        pinPath,
        oldMaxEntries: change.from,
        newMaxEntries: change.to,
        entries: entries.length,
        entriesCopied: copied,
      };
    } finally {
      fresh.close();
    }
  } finally {
    old.close();
  }
}
