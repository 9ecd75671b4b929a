import { describe, expect, it } from 'vitest';
import { CT_ORIGINAL, CT_REPLY, type CtEntry, type CtKey } from '../../../control/proxiers/ebpf/maps.js';
import { decodeFlow } from '../../../control/proxiers/ebpf/flows.js';
import { StaleUdpBackends } from '../../../control/proxiers/ebpf/stale-flows.js';

const UDP = 17;
const TCP = 6;
const DNS = { address: '10.96.0.12', port: 53 };
const HAIRPIN = '169.254.42.1';

/** Both conntrack entries of one flow, as bpf/lib/conntrack.h ct_create() writes them. */
function flow(opts: {
  client: string;
  clientPort?: number;
  service?: typeof DNS;
  backend: string;
  backendPort?: number;
  proto?: number;
  hairpin?: boolean;
}) {
  const { client, clientPort = 41053, service = DNS, backend, backendPort = 5353, proto = UDP, hairpin = false } = opts;
  const entry = {
    last_seen_ns: 1n,
    flags: hairpin ? 1 : 0,
    peer_addr: client,
    peer_port: 0,
    service_id: 1,
    backend_id: 1,
  };
  const original: [CtKey, CtEntry] = [
    { saddr: client, daddr: service.address, sport: clientPort, dport: service.port, proto, dir: CT_ORIGINAL },
    { ...entry, nat_addr: backend, nat_port: backendPort },
  ];
  const reply: [CtKey, CtEntry] = [
    { saddr: backend, daddr: hairpin ? HAIRPIN : client, sport: backendPort, dport: clientPort, proto, dir: CT_REPLY },
    { ...entry, nat_addr: service.address, nat_port: service.port },
  ];
  return { original, reply, both: [original, reply] };
}

const matching = (stale: StaleUdpBackends, entries: Array<[CtKey, CtEntry]>) =>
  entries.filter(([k, v]) => stale.matches(decodeFlow(k, v)));

describe('StaleUdpBackends (UDP flows whose backend a sync removed)', () => {
  it('matches both directions of a UDP flow to a removed backend, hairpin flows included', () => {
    const stale = new StaleUdpBackends();
    stale.removed(DNS, ['10.244.1.11:5353']);
    const plain = flow({ client: '10.244.2.12', backend: '10.244.1.11' });
    const hairpin = flow({ client: '10.244.1.11', backend: '10.244.1.11', hairpin: true });
    expect(matching(stale, [...plain.both, ...hairpin.both])).toEqual([...plain.both, ...hairpin.both]);
  });

  it('leaves flows to the backends that remain, and the same backend behind another service address or port', () => {
    const stale = new StaleUdpBackends();
    stale.removed(DNS, ['10.244.1.11:5353']);
    const entries = [
      ...flow({ client: '10.244.2.12', backend: '10.244.2.11' }).both,
      ...flow({ client: '10.244.2.12', backend: '10.244.1.11', backendPort: 5354 }).both,
      ...flow({ client: '10.244.2.12', backend: '10.244.1.11', service: { address: '10.96.0.13', port: 53 } }).both,
      ...flow({ client: '10.244.2.12', backend: '10.244.1.11', service: { address: '10.96.0.12', port: 54 } }).both,
    ];
    expect(matching(stale, entries)).toEqual([]);
  });

  it('never matches TCP: an established connection to a removed endpoint keeps working', () => {
    const stale = new StaleUdpBackends();
    stale.removed(DNS, ['10.244.1.11:5353']);
    expect(matching(stale, flow({ client: '10.244.2.12', backend: '10.244.1.11', proto: TCP }).both)).toEqual([]);
  });

  it('forgets a backend that serves the service port again before its flows were cleared', () => {
    const stale = new StaleUdpBackends();
    stale.removed(DNS, ['10.244.1.11:5353', '10.244.2.11:5353']);
    stale.serving(DNS, ['10.244.1.11:5353']);
    expect(stale.size).toBe(1);
    const back = flow({ client: '10.244.2.12', backend: '10.244.1.11' });
    const gone = flow({ client: '10.244.2.12', clientPort: 41054, backend: '10.244.2.11' });
    expect(matching(stale, [...back.both, ...gone.both])).toEqual(gone.both);
  });

  it('keeps what was removed after a snapshot when the snapshot is forgotten, so a failed clearing is retried', () => {
    const stale = new StaleUdpBackends();
    expect(stale.size).toBe(0);
    stale.removed(DNS, ['10.244.1.11:5353']);
    const snap = stale.snapshot();
    stale.removed(DNS, ['10.244.2.11:5353']);
    expect(snap.size).toBe(1);
    stale.forget(snap);
    expect(stale.size).toBe(1);
    expect(matching(stale, flow({ client: '10.244.2.12', backend: '10.244.2.11' }).both)).toHaveLength(2);
    expect(matching(stale, flow({ client: '10.244.2.12', backend: '10.244.1.11' }).both)).toEqual([]);
  });
});
