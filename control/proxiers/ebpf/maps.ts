// Typed views of the dataplane's maps. The layouts are bpf/include/switchyard/abi.h's,
// read from the loaded object's BTF; here we only say how fields are shown.
import type { BpfObject, TypedMap } from '../../bpf/index.js';

export interface ServiceKey {
  addr: string;
  port: number;
  proto: number;
}
export interface ServiceValue {
  id: number;
  backend_count: number;
  flags: number;
  affinity_timeout: number;
}
export interface SlotKey {
  service_id: number;
  slot: number;
}
export interface SlotValue {
  backend_id: number;
}
export interface BackendValue {
  addr: string;
  port: number;
}
export interface CtKey {
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  proto: number;
  dir: number;
}
export interface CtEntry {
  last_seen_ns: bigint;
  nat_addr: string;
  nat_port: number;
  flags: number;
  client_addr: string;
  service_id: number;
  backend_id: number;
}
export interface AffinityKey {
  service_id: number;
  client: string;
}
export interface AffinityValue {
  last_used_ns: bigint;
  backend_id: number;
}

/** Flags, as in abi.h. */
export const SVC_F_AFFINITY = 1 << 0;
export const SVC_F_DROP_NO_BACKEND = 1 << 1;
export const CT_F_HAIRPIN = 1 << 0;
export const CT_ORIGINAL = 0;
export const CT_REPLY = 1;

export const MAP_NAMES = [
  'sy_services',
  'sy_slots',
  'sy_backends',
  'sy_conntrack',
  'sy_affinity',
  'sy_sock_revnat',
] as const;
export type MapName = (typeof MAP_NAMES)[number];

export interface DataplaneMaps {
  services: TypedMap<ServiceKey, ServiceValue>;
  slots: TypedMap<SlotKey, SlotValue>;
  backends: TypedMap<number, BackendValue>;
  conntrack: TypedMap<CtKey, CtEntry>;
  affinity: TypedMap<AffinityKey, AffinityValue>;
}

export function openMaps(obj: BpfObject): DataplaneMaps {
  return {
    services: obj.map('sy_services').typed<ServiceKey, ServiceValue>({ key: { addr: 'ipv4' } }),
    slots: obj.map('sy_slots').typed<SlotKey, SlotValue>(),
    backends: obj.map('sy_backends').typed<number, BackendValue>({ value: { addr: 'ipv4' } }),
    conntrack: obj.map('sy_conntrack').typed<CtKey, CtEntry>({
      key: { saddr: 'ipv4', daddr: 'ipv4' },
      value: { nat_addr: 'ipv4', client_addr: 'ipv4' },
    }),
    affinity: obj.map('sy_affinity').typed<AffinityKey, AffinityValue>({ key: { client: 'ipv4' } }),
  };
}
