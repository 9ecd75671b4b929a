// Per-packet cost of the tc program as the service table grows, measured with
// BPF_PROG_TEST_RUN: the kernel's own timing of single runs, each a new TCP
// flow to a random service (service lookup, slot, backend, conntrack insert,
// DNAT). Medians, since these machines are noisy.
//
//   node dist/bench/lookup-cost.js [sizes=10,1000,10000] [runs=3000]
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject } from '../control/bpf/index.js';
import { EbpfDataplane } from '../control/proxiers/ebpf/dataplane.js';

const root = join(import.meta.dirname, '..', '..');
const objectDir = join(root, 'build', 'bpf');
const sizes = (process.argv[2] ?? '10,1000,10000').split(',').map(Number);
const runs = Number(process.argv[3] ?? 3000);

function synFrame(dst: number[], sport: number): Buffer {
  const f = Buffer.alloc(54);
  f.write('020000000001020000000002', 0, 'hex');
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(40, 16);
  f[22] = 64;
  f[23] = 6;
  Buffer.from([10, 244, 1, 11]).copy(f, 26);
  Buffer.from(dst).copy(f, 30);
  f.writeUInt16BE(sport, 34);
  f.writeUInt16BE(80, 36);
  f[46] = 5 << 4;
  f[47] = 0x02;
  return f;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const serviceAddr = (i: number) => [10, 96 + (i >> 16), (i >> 8) & 255, i & 255];

// Two views: flows to the same 10 services whatever the table size (the
// algorithm: hash lookups do not grow with the table), and flows spread over
// every service (adds the CPU-cache cost of a larger working set).
const results: Array<{ services: number; targets: string; medianNs: number; p90Ns: number }> = [];
for (const n of sizes) {
  const pinRoot = mkdtempSync('/sys/fs/bpf/switchyard-bench-');
  const dp = await EbpfDataplane.open({ objectDir, pinRoot });
  try {
    for (let i = 0; i < n; i++) {
      dp.upsertService({
        address: serviceAddr(i).join('.'),
        port: 80,
        protocol: 'TCP',
        backends: Array.from({ length: 10 }, (_, j) => ({ address: `10.244.${j}.${(i % 250) + 1}`, port: 8080 })),
      });
    }
    const obj = BpfObject.load(join(objectDir, 'tc.bpf.o'), { pinRoot });
    const prog = obj.program('sy_tc_ingress');
    for (const spread of [Math.min(n, 10), n]) {
      if (spread === n && n === 10 && results.some((r) => r.services === 10)) continue;
      const times: number[] = [];
      for (let r = -500; r < runs; r++) {
        const frame = synFrame(serviceAddr(Math.floor(Math.random() * spread)), 1024 + ((r + 500) % 60000));
        const ns = prog.testRun({ data: frame }).durationNs;
        if (r >= 0) times.push(ns); // the first 500 warm caches and the LRU
      }
      const sorted = [...times].sort((a, b) => a - b);
      results.push({
        services: n,
        targets: spread === n ? 'all' : `${spread}`,
        medianNs: median(times),
        p90Ns: sorted[Math.floor(sorted.length * 0.9)]!,
      });
    }
    prog.close();
    obj.close();
  } finally {
    dp.close();
    rmSync(pinRoot, { recursive: true, force: true });
  }
}
console.table(results);
const base = results[0]!;
for (const r of results.slice(1)) {
  console.log(
    `${r.services} services (targets: ${r.targets}) vs ${base.services}: median ${(r.medianNs / base.medianNs).toFixed(2)}x`,
  );
}
