// The dataplane's maps in memory, for unit tests of the ebpf proxier without
// a kernel. Keys and values are held encoded, with the codecs the real maps
// get: derived from the BTF of the built objects (read without loading them,
// so no privileges) and the formats abi.generated.ts gives each map.
import { join } from 'node:path';
import { BpfObject, derive, type Codec } from '../../../control/bpf/index.js';
import type { NativeObjectMap, BtfType } from '../../../control/native/addon.js';
import { MAP_FORMATS, type MapName, type MapTypes } from '../../../control/proxiers/ebpf/abi.generated.js';
import { repoRoot } from '../../harness/paths.js';

const objectDir = join(repoRoot, 'build', 'bpf');

interface MapDefinition {
  info: NativeObjectMap;
  key: BtfType | null;
  value: BtfType | null;
}

let definitions: Map<string, MapDefinition> | undefined;

/** Every map tc.bpf.o defines: its size, type and the BTF of key and value. */
function definitionsOf(): Map<string, MapDefinition> {
  if (definitions) return definitions;
  const obj = BpfObject.open(join(objectDir, 'tc.bpf.o'));
  try {
    const btf = new Map(obj.btf().maps.map((m) => [m.name, m]));
    definitions = new Map(
      obj
        .maps()
        .map((info) => [
          info.name,
          { info, key: btf.get(info.name)?.key ?? null, value: btf.get(info.name)?.value ?? null },
        ]),
    );
  } finally {
    obj.close();
  }
  return definitions;
}

export function mapDefinition(name: MapName): MapDefinition {
  const d = definitionsOf().get(name);
  if (!d) throw new Error(`tc.bpf.o defines no map ${name}`);
  return d;
}

/** The real codecs of a map: its BTF, and the formats the dataplane opens it with. */
export function codecsOf<N extends MapName>(
  name: N,
): { key: Codec<MapTypes[N]['key']>; value: Codec<MapTypes[N]['value']> } {
  const d = mapDefinition(name);
  const f = MAP_FORMATS[name];
  return {
    key: derive(`${name} key`, d.key, f.key, d.info.keySize),
    value: derive(`${name} value`, d.value, f.value, d.info.valueSize),
  };
}
