// The dataplane API across a restart of its user: a second EbpfDataplane on
// the same pins adopts what the first programmed, and its own view
// (programmed()) agrees with the kernel's maps (servicesInMaps()). Traffic
// through services programmed by the real daemon is the e2e suite's
// (test/privileged/e2e); packet-level translation is test/privileged/bpf's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EbpfDataplane,
  type ProgrammedServicePort,
  type ServicePortSpec,
} from '../../../control/proxiers/ebpf/dataplane.js';
import { TestNet } from '../../harness/netns.js';
import { repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

const objectDir = `${repoRoot}/build/bpf`;
const backends = (n: number, port: number) =>
  Array.from({ length: n }, (_, i) => ({ address: `10.244.${1 + (i >> 1)}.${11 + (i & 1)}`, port }));

const SERVICES: ServicePortSpec[] = [
  { address: '10.96.0.10', port: 80, protocol: 'TCP', backends: backends(4, 8080) },
  { address: '10.96.0.11', port: 80, protocol: 'TCP', backends: [] },
  { address: '10.96.0.12', port: 53, protocol: 'UDP', backends: backends(4, 5353) },
  { address: '10.96.0.14', port: 80, protocol: 'TCP', backends: backends(4, 8080), affinityTimeoutSeconds: 300 },
  { address: '10.96.0.15', port: 80, protocol: 'TCP', backends: [], dropWhenEmpty: true },
];

/** A service port without its id: ids are the dataplane's, not the caller's. */
const specOf = ({ id: _id, ...spec }: ProgrammedServicePort): ServicePortSpec => spec;
const byKey = (a: ServicePortSpec, b: ServicePortSpec) =>
  `${a.address}:${a.port}/${a.protocol}`.localeCompare(`${b.address}:${b.port}/${b.protocol}`);

describe.runIf(requirePrivileges())('ebpf dataplane: pinned maps', () => {
  const net = new TestNet();
  let pinRoot: string;
  let first: EbpfDataplane | undefined;

  beforeAll(async () => {
    pinRoot = net.pinDir('dp');
    first = await EbpfDataplane.open({ objectDir, pinRoot });
    for (const s of SERVICES) first.upsertService(s);
    // As the daemon stops: handles closed, maps left pinned.
    first.release();
    first = undefined;
  });
  afterAll(async () => {
    first?.release();
    await net.teardown();
  });

  it('keeps its maps pinned: a second dataplane on the same pins sees the same services', async () => {
    const again = await EbpfDataplane.open({ objectDir, pinRoot });
    try {
      const expected = [...SERVICES].sort(byKey);
      expect(again.programmed().map(specOf).sort(byKey)).toEqual(expected);
      expect((await again.servicesInMaps()).map(specOf).sort(byKey)).toEqual(expected);
      // Adopted ids are in use: a new service port gets a fresh one.
      again.upsertService({ address: '10.96.0.20', port: 80, protocol: 'TCP', backends: backends(1, 8080) });
      const ids = again.programmed().map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      again.close();
    }
  });
});
