#!/usr/bin/env node
// One family's ipvs proxier alone, for dual-stack.test.ts, run inside a
// node's network namespace (nsenter --net) while the node's daemon is
// stopped: it shows what that family's proxier touches of a node where the
// other family's is programmed too.
//
//   one-family.mjs IPv4|IPv6 sync      a full sync that wants nothing: every
//                                      virtual server, address, set member
//                                      and rule of the family goes
//   one-family.mjs IPv4|IPv6 cleanup   the proxier's cleanup(): the family's
//                                      rules, sets, virtual servers, addresses
//
// The build's proxier (dist/), as the daemon runs it. Exits 0 once done;
// logs JSON on stderr.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';

const [family, op] = process.argv.slice(2);
if (!['IPv4', 'IPv6'].includes(family) || !['sync', 'cleanup'].includes(op)) {
  console.error('usage: one-family.mjs IPv4|IPv6 sync|cleanup');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { IpvsProxier } = await import(join(root, 'dist', 'control', 'proxiers', 'ipvs', 'proxier.js'));

const proxier = new IpvsProxier({
  family,
  scheduler: '',
  excludeCIDRs: [],
  strictARP: false,
  timeouts: { tcp: 0, tcpFin: 0, udp: 0 },
  masqueradeAll: false,
  masqueradeBit: 14,
  clusterCIDRs: [],
  logger: pino({ level: 'info' }, pino.destination(2)),
});
await proxier.start();
if (op === 'sync') {
  const node = { nodeName: 'test', addresses: [], podCIDRs: [], nodePortAddresses: {}, localAddresses: [] };
  const result = await proxier.sync({ desired: new Map(), changed: new Set(), removed: new Map(), full: true, node });
  console.log(JSON.stringify(result));
} else {
  await proxier.cleanup();
}
await proxier.stop();
