// Per-packet cost of the tc program as the service table grows, measured with
// BPF_PROG_TEST_RUN: the kernel's own timing of single runs, each a new TCP
// flow to a random service (service lookup, slot, backend, conntrack insert,
// DNAT). Medians, since these machines are noisy. Both families: the maps
// are shared (16-byte addresses, IPv4 IPv4-mapped), so the IPv6 rows are the
// same lookups over an IPv6 header and a 16-byte address rewrite.
//
//   node dist/bench/lookup-cost.js [sizes=10,1000,10000] [runs=3000] [families=IPv4,IPv6]
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject } from '../control/bpf/index.js';
import { EbpfDataplane } from '../control/proxiers/ebpf/dataplane.js';

const root = join(import.meta.dirname, '..', '..');
const objectDir = join(root, 'build', 'bpf');
const sizes = (process.argv[2] ?? '10,1000,10000').split(',').map(Number);
const runs = Number(process.argv[3] ?? 3000);
const families = (process.argv[4] ?? 'IPv4,IPv6').split(',') as Array<'IPv4' | 'IPv6'>;

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

/** The same SYN over IPv6 (no extension headers): fd00:10:244:1::b → dst. */
function synFrame6(dst: Buffer, sport: number): Buffer {
  const f = Buffer.alloc(74);
  f.write('020000000001020000000002', 0, 'hex');
  f.writeUInt16BE(0x86dd, 12);
  f.writeUInt32BE(0x60000000, 14);
  f.writeUInt16BE(20, 18);
  f[20] = 6;
  f[21] = 64;
  Buffer.from('fd00001002440001000000000000000b', 'hex').copy(f, 22);
  dst.copy(f, 38);
  f.writeUInt16BE(sport, 54);
  f.writeUInt16BE(80, 56);
  f[66] = 5 << 4;
  f[67] = 0x02;
  return f;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const serviceAddr = (i: number) => [10, 96 + (i >> 16), (i >> 8) & 255, i & 255];
const serviceAddr6 = (i: number) => `fd00:10:96::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`;
const serviceBytes6 = (i: number) => {
  const b = Buffer.alloc(16);
  b.write('fd000010009600000000', 0, 'hex');
  b.writeUInt16BE(i >> 16, 12);
  b.writeUInt16BE(i & 0xffff, 14);
  return b;
};

// Two views: flows to the same 10 services whatever the table size (the
// algorithm: hash lookups do not grow with the table), and flows spread over
// every service (adds the CPU-cache cost of a larger working set).
const results: Array<{ family: string; services: number; targets: string; medianNs: number; p90Ns: number }> = [];
for (const family of families)
  for (const n of sizes) {
    const v6 = family === 'IPv6';
    const pinRoot = mkdtempSync('/sys/fs/bpf/switchyard-bench-');
    const dp = await EbpfDataplane.open({ objectDir, pinRoot });
    try {
      for (let i = 0; i < n; i++) {
        dp.upsertService({
          address: v6 ? serviceAddr6(i) : serviceAddr(i).join('.'),
          port: 80,
          protocol: 'TCP',
          backends: Array.from({ length: 10 }, (_, j) => ({
            address: v6 ? `fd00:10:244:${j}::${((i % 250) + 1).toString(16)}` : `10.244.${j}.${(i % 250) + 1}`,
            port: 8080,
          })),
        });
      }
      const obj = BpfObject.load(join(objectDir, 'tc.bpf.o'), { pinRoot });
      const prog = obj.program('sy_tc_ingress');
      for (const spread of [Math.min(n, 10), n]) {
        if (spread === n && n === 10 && results.some((r) => r.services === 10 && r.family === family)) continue;
        const times: number[] = [];
        for (let r = -500; r < runs; r++) {
          const target = Math.floor(Math.random() * spread);
          const sport = 1024 + ((r + 500) % 60000);
          const frame = v6 ? synFrame6(serviceBytes6(target), sport) : synFrame(serviceAddr(target), sport);
          const ns = prog.testRun({ data: frame }).durationNs;
          if (r >= 0) times.push(ns); // the first 500 warm caches and the LRU
        }
        const sorted = [...times].sort((a, b) => a - b);
        results.push({
          family,
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
for (const family of families) {
  const rows = results.filter((r) => r.family === family);
  const base = rows[0]!;
  for (const r of rows.slice(1)) {
    console.log(
      `${family} ${r.services} services (targets: ${r.targets}) vs ${base.services}: median ${(r.medianNs / base.medianNs).toFixed(2)}x`,
    );
  }
}
// IPv6 against IPv4 at each size and spread.
for (const r of results.filter((x) => x.family === 'IPv6')) {
  const v4 = results.find((x) => x.family === 'IPv4' && x.services === r.services && x.targets === r.targets);
  if (v4)
    console.log(
      `IPv6 vs IPv4 at ${r.services} services (targets: ${r.targets}): median ${(r.medianNs / v4.medianNs).toFixed(2)}x`,
    );
}
