// The one decoder of conntrack entries. An entry is one direction of a
// translated flow (bpf/lib/conntrack.h ct_create() writes both): ORIGINAL is
// keyed by the client's packet (destination: the service) and holds the
// backend it is translated to; REPLY is keyed by the backend's packet
// (source: the backend) and holds the service address it is translated back
// to. decodeFlow() names both ends either way, so /v1/conntrack,
// EbpfDataplane.conntrack() and the clearing of stale UDP flows read an entry
// alike.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Codec } from '../../bpf/index.js';
import { CT_DIRS, CT_FLAGS, flagNames } from './map-views.js';
import { CT_F_HAIRPIN, CT_F_SNAT, CT_ORIGINAL, type CtEntry, type CtKey } from './maps.js';
import { protocolName } from './protocol.js';
import type { Backend } from './vocabulary.js';

/** An address and port: one end of a packet. */
export type FlowEnd = Backend;

export interface Flow {
  /** The entry's direction by name ("original", "reply"; an unknown value as its number). */
  direction: string;
  /** An ORIGINAL entry (keyed by the client's packet); otherwise a REPLY one. */
  original: boolean;
  /** The protocol by name ("TCP"), an unknown one as its number. */
  protocol: ReturnType<typeof protocolName>;
  /** The IP protocol number. */
  proto: number;
  /** The packet the entry is keyed by, and what it is translated to. */
  source: FlowEnd;
  destination: FlowEnd;
  translatedTo: FlowEnd;
  /** The client of the flow, whichever direction this entry is (a hairpin reply keeps it aside). */
  client: string;
  /** The service address and port the client sent to. */
  service: FlowEnd;
  /** The backend the flow went to. */
  backend: FlowEnd;
  /** Flag bits by name ("hairpin"), unknown bits as their value ("0x4"). */
  flags: string[];
  hairpin: boolean;
  /** Source-NATed to the node's address (an external client, a client outside --cluster-cidr). */
  snat: boolean;
  /** ORIGINAL of a source-NATed or hairpin flow: the source the backend sees. */
  natSource?: FlowEnd;
  serviceId: number;
  backendId: number;
  /** CLOCK_MONOTONIC, as bpf_ktime_get_ns() and process.hrtime.bigint(). */
  lastSeenNs: bigint;
}

export function decodeFlow(key: CtKey, value: CtEntry): Flow {
  const original = key.dir === CT_ORIGINAL;
  const hairpin = (value.flags & CT_F_HAIRPIN) !== 0;
  const snat = (value.flags & CT_F_SNAT) !== 0;
  const source = { address: key.saddr, port: key.sport };
  const destination = { address: key.daddr, port: key.dport };
  const translatedTo = { address: value.nat_addr, port: value.nat_port };
  return {
    direction: CT_DIRS.get(key.dir) ?? String(key.dir),
    original,
    protocol: protocolName(key.proto),
    proto: key.proto,
    source,
    destination,
    translatedTo,
    // A reply goes back to the client, or to the hairpin or NAT address with the client kept aside.
    client: original ? key.saddr : hairpin || snat ? value.peer_addr : key.daddr,
    service: original ? destination : translatedTo,
    backend: original ? translatedTo : source,
    flags: flagNames(value.flags, CT_FLAGS),
    hairpin,
    snat,
    ...(original && (hairpin || snat) ? { natSource: { address: value.peer_addr, port: value.peer_port } } : {}),
    serviceId: value.service_id,
    backendId: value.backend_id,
    lastSeenNs: value.last_seen_ns,
  };
}

/** Entries decoded between two turns of the event loop: a full table must not stall /healthz. */
const DECODE_CHUNK = 2048;

/** Encoded entries (a dump of sy_conntrack_v3, as pairs or rows) decoded with the map's codecs, yielding to the event loop between chunks. */
export async function decodeFlows(
  rows: ReadonlyArray<readonly [Buffer, Buffer] | { key: Buffer; value: Buffer }>,
  codecs: { key: Codec<CtKey>; value: Codec<CtEntry> },
): Promise<Flow[]> {
  const out: Flow[] = [];
  for (let i = 0; i < rows.length; i++) {
    if (i > 0 && i % DECODE_CHUNK === 0) await yieldToEventLoop();
    const row = rows[i]!;
    const [key, value] = 'key' in row ? [row.key, row.value] : row;
    out.push(decodeFlow(codecs.key.decode(key), codecs.value.decode(value)));
  }
  return out;
}
