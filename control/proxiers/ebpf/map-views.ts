// How each dataplane map's entries are shown: addresses as text, protocols
// and directions by name, flag bits by name, 64-bit times as decimal strings
// (JSON numbers lose precision above 2^53). Field names stay the C names of
// bpf/include/switchyard/abi.h, so an entry reads side by side with
// `bpftool map dump`. A map without a view here is still shown, with its
// BTF fields as plain numbers.
import type { FieldFormat, Formats } from '../../bpf/index.js';
import { MAP_FORMATS, SyCtDirNames, SyCtFlagsNames, SySvcFlagsNames, SyUplinkFlagsNames } from './abi.generated.js';
import { protocolName } from './protocol.js';

export type Decoded = Record<string, unknown> | string | number | boolean | unknown[];

export interface MapView {
  /** What the map holds, for /v1/maps. */
  description: string;
  key?: Formats | FieldFormat;
  value?: Formats | FieldFormat;
  /** Rewrites decoded fields into their names (protocol, flags, direction). */
  present?: (key: Record<string, unknown>, value: Record<string, unknown>) => void;
}

/** Flag bits by name; unknown bits are shown as their value so nothing hides. */
export function flagNames(bits: number, names: ReadonlyArray<readonly [number, string]>): string[] {
  const out: string[] = [];
  let rest = bits;
  for (const [bit, name] of names) {
    if (bits & bit) {
      out.push(name);
      rest &= ~bit;
    }
  }
  for (let b = 0; rest !== 0 && b < 32; b++) {
    if (rest & (1 << b)) {
      out.push(`0x${(1 << b).toString(16)}`);
      rest &= ~(1 << b);
    }
  }
  return out;
}

/** An enum's names from abi.h (abi.generated.ts), as shown here: "drop-no-backend". */
const shown = (names: Readonly<Record<number, string>>): Array<[number, string]> =>
  Object.entries(names).map(([v, n]) => [Number(v), n.replaceAll('_', '-')]);
const SVC_FLAGS = shown(SySvcFlagsNames);
/** Conntrack flag bits and directions by the names the API shows. */
export const CT_FLAGS = shown(SyCtFlagsNames);
const UPLINK_FLAGS = shown(SyUplinkFlagsNames);
export const CT_DIRS: ReadonlyMap<number, string> = new Map(shown(SyCtDirNames));

const proto = (o: Record<string, unknown>) => {
  if (typeof o.proto === 'number') o.proto = protocolName(o.proto);
};

export const MAP_VIEWS: Record<string, MapView> = {
  sy_services_v3: {
    description:
      'service address, port and protocol → service-port id, backend count and flags (written by the controller, read by tc and socket programs)',
    ...MAP_FORMATS.sy_services_v3,
    present: (k, v) => {
      proto(k);
      v.flags = flagNames(Number(v.flags), SVC_FLAGS);
    },
  },
  sy_slots: {
    description: 'service-port id and slot → backend id: O(1) backend choice by index (written by the controller)',
  },
  sy_backends_v2: {
    description: 'backend id → endpoint address and port (written by the controller)',
    ...MAP_FORMATS.sy_backends_v2,
  },
  sy_conntrack_v3: {
    description: 'one entry per direction of a translated flow (written by the tc program, LRU)',
    ...MAP_FORMATS.sy_conntrack_v3,
    present: (k, v) => {
      proto(k);
      k.dir = CT_DIRS.get(Number(k.dir)) ?? k.dir;
      v.flags = flagNames(Number(v.flags), CT_FLAGS);
    },
  },
  sy_affinity_v2: {
    description:
      'service-port id and client → the backend ClientIP session affinity gave it (written by the programs, LRU)',
    ...MAP_FORMATS.sy_affinity_v2,
  },
  sy_src_ranges_v2: {
    description:
      "a load-balancer IP entry's id and an allowed client prefix (loadBalancerSourceRanges; written by the controller, an LPM trie)",
    ...MAP_FORMATS.sy_src_ranges_v2,
  },
  sy_cluster_cidr_v2: {
    description:
      "the cluster's pod ranges (--cluster-cidr): clients inside them are pods (written by the controller, an LPM trie)",
    ...MAP_FORMATS.sy_cluster_cidr_v2,
  },
  sy_config_v2: {
    description:
      "node-wide settings: the node's address and the ports source NAT gives flows (written by the controller)",
    ...MAP_FORMATS.sy_config_v2,
  },
  sy_frags_v2: {
    description:
      "a datagram's first fragment as it arrived → the addresses it left with, for its later fragments (written by tc and XDP, LRU)",
    ...MAP_FORMATS.sy_frags_v2,
  },
  sy_uplinks: {
    description:
      'ifindex of an uplink with XDP → whether XDP may send routed packets back out itself (written by the controller)',
    present: (_k, v) => {
      v.flags = flagNames(Number(v.flags), UPLINK_FLAGS);
    },
  },
  sy_sock_revnat_v2: {
    description:
      'socket cookie and backend → the service address a node process asked for (written by the socket hooks, LRU)',
    ...MAP_FORMATS.sy_sock_revnat_v2,
  },
};

/** JSON-safe: 64-bit integers as decimal strings, buffers as hex. */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = jsonSafe(x);
    return out;
  }
  return v;
}
