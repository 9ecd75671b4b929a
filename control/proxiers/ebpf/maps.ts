// Typed views of the dataplane's maps. The layouts and constants are
// bpf/include/switchyard/abi.h's, generated from the objects' BTF into
// abi.generated.ts (scripts/gen-abi.ts); here they get the names the
// dataplane's code uses, and the maps are opened with them.
import type { BpfObject, TypedMap } from '../../bpf/index.js';
import {
  MAP_FORMATS,
  SyCtDir,
  SyCtFlags,
  SySvcFlags,
  SyUplinkFlags,
  type MapName,
  type MapTypes,
  type SyAffinity,
  type SyAffinityKey,
  type SyBackend,
  type SyCtEntry,
  type SyCtKey,
  type SyService,
  type SyServiceKey,
  type SySlot,
  type SySlotKey,
  type SySrcRange,
  type SySrcRangeKey,
  type SyConfig,
  type SyCidr,
  type SyCidrKey,
  type SyUplink,
} from './abi.generated.js';

export { MAP_NAMES, type MapName } from './abi.generated.js';

export type ServiceKey = SyServiceKey;
export type ServiceValue = SyService;
export type SlotKey = SySlotKey;
export type SlotValue = SySlot;
export type BackendValue = SyBackend;
export type CtKey = SyCtKey;
export type CtEntry = SyCtEntry;
export type AffinityKey = SyAffinityKey;
export type AffinityValue = SyAffinity;
export type SrcRangeKey = SySrcRangeKey;
export type SrcRangeValue = SySrcRange;
export type CidrKey = SyCidrKey;
export type CidrValue = SyCidr;
export type ConfigValue = SyConfig;
export type UplinkValue = SyUplink;
export const UPLINK_F_XDP_TX = SyUplinkFlags.XDP_TX;

/** Flags and directions, as abi.h's enums. */
export const SVC_F_AFFINITY = SySvcFlags.AFFINITY;
export const SVC_F_DROP_NO_BACKEND = SySvcFlags.DROP_NO_BACKEND;
export const SVC_F_SNAT = SySvcFlags.SNAT;
export const SVC_F_SNAT_OFF_CLUSTER = SySvcFlags.SNAT_OFF_CLUSTER;
export const SVC_F_EXTERNAL_LOCAL = SySvcFlags.EXTERNAL_LOCAL;
export const SVC_F_SRC_RANGES = SySvcFlags.SRC_RANGES;
export const SVC_F_NODE_ADDR = SySvcFlags.NODE_ADDR;
export const SVC_F_MAGLEV = SySvcFlags.MAGLEV;
export const CT_F_HAIRPIN = SyCtFlags.HAIRPIN;
export const CT_F_SNAT = SyCtFlags.SNAT;
export const CT_ORIGINAL = SyCtDir.ORIGINAL;
export const CT_REPLY = SyCtDir.REPLY;

/** One map of a loaded object, typed as abi.generated.ts says. */
export function typedMap<N extends MapName>(
  obj: BpfObject,
  name: N,
): TypedMap<MapTypes[N]['key'], MapTypes[N]['value']> {
  return obj.map(name).typed(MAP_FORMATS[name]);
}
