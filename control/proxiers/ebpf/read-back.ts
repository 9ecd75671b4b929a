// What the maps hold, decoded back into service ports: what a restarted
// dataplane adopts, what servicesInMaps() shows an operator, and what a
// failed batch leaves (then with the strays it wrote that no service entry
// reaches).
import {
  SVC_F_AFFINITY,
  SVC_F_DROP_NO_BACKEND,
  SVC_F_EXTERNAL_LOCAL,
  SVC_F_MAGLEV,
  SVC_F_NODE_ADDR,
  SVC_F_SNAT,
  SVC_F_SNAT_OFF_CLUSTER,
  SVC_F_SRC_RANGES,
  type SlotKey,
} from './maps.js';
import { cidrOfKey } from './addresses.js';
import type { MapBackend } from './map-backend.js';
import { protocolName, type Protocol } from './protocol.js';
import { endpointOf, type Backend, type ServicePortSpec, type ServiceState } from './vocabulary.js';

/**
 * Services, their slots and backends as the maps hold them; and the strays:
 * slots no service entry counts, backend records no counted slot names.
 */
export async function readMaps(
  m: MapBackend,
): Promise<{ states: ServiceState[]; straySlots: SlotKey[]; strayBackends: number[] }> {
  const [services, slots, backends, ranges] = await Promise.all([
    m.services.all(),
    m.slots.all(),
    m.backends.all(),
    m.srcRanges.all(),
  ]);
  const rangesById = new Map<number, string[]>();
  for (const [k] of ranges) {
    const list = rangesById.get(k.service_id) ?? [];
    list.push(cidrOfKey(k.addr, k.prefixlen - 32));
    rangesById.set(k.service_id, list);
  }
  const backendById = new Map(backends);
  const slotsById = new Map<number, number[]>();
  for (const [k, v] of slots) {
    const list = slotsById.get(k.service_id) ?? [];
    list[k.slot] = v.backend_id;
    slotsById.set(k.service_id, list);
  }
  const counts = new Map(services.map(([, v]) => [v.id, v.backend_count]));
  const straySlots = slots.filter(([k]) => k.slot >= (counts.get(k.service_id) ?? 0)).map(([k]) => k);
  const named = new Set(slots.filter(([k]) => k.slot < (counts.get(k.service_id) ?? 0)).map(([, v]) => v.backend_id));
  const strayBackends = backends.filter(([id]) => !named.has(id)).map(([id]) => id);
  const states = services.map(([k, v]) => {
    const backendIds = new Map<string, number>();
    const slotList: number[] = [];
    const list: Backend[] = [];
    for (const bid of (slotsById.get(v.id) ?? []).slice(0, v.backend_count)) {
      const b = backendById.get(bid);
      if (!b) {
        slotList.push(-1); // a slot without its backend record: the next upsert rewrites it
        continue;
      }
      const ep = endpointOf({ address: b.addr, port: b.port });
      slotList.push(bid);
      if (backendIds.has(ep)) continue; // a Maglev table names each backend many times
      backendIds.set(ep, bid);
      list.push({ address: b.addr, port: b.port });
    }
    // A Maglev table's backends, in the table's order (sorted by endpoint).
    if (v.flags & SVC_F_MAGLEV) list.sort((a, b) => (endpointOf(a) < endpointOf(b) ? -1 : 1));
    const spec: ServicePortSpec = {
      address: k.addr,
      port: k.port,
      protocol: protocolName(k.proto) as Protocol,
      backends: list,
      ...(v.flags & SVC_F_AFFINITY ? { affinityTimeoutSeconds: v.affinity_timeout } : {}),
      ...(v.flags & SVC_F_DROP_NO_BACKEND ? { dropWhenEmpty: true } : {}),
      ...(v.flags & SVC_F_SNAT
        ? { snat: 'always' as const }
        : v.flags & SVC_F_SNAT_OFF_CLUSTER
          ? { snat: 'off-cluster' as const }
          : {}),
      ...(v.flags & SVC_F_EXTERNAL_LOCAL ? { internal: { address: v.cluster_addr, port: v.cluster_port } } : {}),
      ...(v.flags & SVC_F_NODE_ADDR ? { nodeAddress: true } : {}),
      ...(v.flags & SVC_F_MAGLEV ? { maglev: v.backend_count } : {}),
      ...(v.flags & SVC_F_SRC_RANGES ? { sourceRanges: (rangesById.get(v.id) ?? []).sort() } : {}),
    };
    return { id: v.id, spec, backendIds, slots: slotList };
  });
  return { states, straySlots, strayBackends };
}
