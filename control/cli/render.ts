// What each `switchyard get` resource looks like as a table. Inputs are the
// API's JSON bodies; outputs are strings. Pure, for tests.
import { cell, formatAge, formatBytes, formatTable, shortList } from './table.js';

type Rec = Record<string, unknown>;
const recs = (v: unknown): Rec[] => (Array.isArray(v) ? (v as Rec[]) : []);

/**
 * kubectl's EXTERNAL-IP: the load-balancer ingress IPs, then the
 * externalIPs; "<pending>" for a LoadBalancer with neither, "<none>" else.
 */
function externalAddresses(sp: Rec): string {
  const ips = [
    ...((sp.loadBalancerIPs as string[] | undefined) ?? []),
    ...((sp.externalIPs as string[] | undefined) ?? []),
  ];
  if (ips.length) return ips.join(',');
  return sp.type === 'LoadBalancer' ? '<pending>' : '<none>';
}

export function renderServices(items: unknown): string {
  const rows = recs(items).map((sp) => {
    const endpoints = recs(sp.endpoints);
    const ready = endpoints.filter((e) => e.ready).length;
    // kubectl's PORT(S): port, then the NodePort, then the protocol ("80:30080/TCP"), after the port's name.
    const port = `${sp.portName ? `${sp.portName}:` : ''}${sp.port}${sp.nodePort ? `:${sp.nodePort}` : ''}/${sp.protocol}`;
    return [
      String(sp.namespace),
      String(sp.service),
      port,
      String(sp.type),
      cell(sp.clusterIPs),
      externalAddresses(sp),
      `${ready}/${endpoints.length}`,
      shortList(sp.clusterEndpoints as string[] | null),
      shortList(sp.localEndpoints as string[] | null),
    ];
  });
  return formatTable(
    ['NAMESPACE', 'NAME', 'PORT', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'READY', 'CLUSTER-ENDPOINTS', 'LOCAL-ENDPOINTS'],
    rows,
  );
}

export function renderMaps(items: unknown): string {
  const rows = recs(items).map((m) => [
    String(m.name),
    String(m.type),
    String(m.keySize),
    String(m.valueSize),
    String(m.maxEntries),
    String(m.entries),
    formatBytes(m.memoryBytes as number | null),
  ]);
  return formatTable(['NAME', 'TYPE', 'KEY', 'VALUE', 'MAX-ENTRIES', 'ENTRIES', 'MEMORY'], rows);
}

/** Leaf fields of a decoded struct, in order ("addr", "nested.x"). */
function leaves(v: unknown, prefix = ''): Array<[string, unknown]> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [[prefix || 'value', v]];
  return Object.entries(v as Rec).flatMap(([k, x]) => leaves(x, prefix ? `${prefix}.${k}` : k));
}

/** A map's entries: key fields, then value fields; a name in both gets its side as prefix. */
export function renderMapEntries(items: unknown): string {
  const list = recs(items);
  if (list.length === 0) return 'No entries.\n';
  const first = list[0]!;
  const keyNames = leaves(first.key).map(([n]) => n);
  const valueNames = leaves(first.value).map(([n]) => n);
  const both = new Set(keyNames.filter((n) => valueNames.includes(n)));
  const header = (side: string, n: string) => (both.has(n) ? `${side}.${n}` : n).toUpperCase().replaceAll('_', '-');
  const headers = [...keyNames.map((n) => header('key', n)), ...valueNames.map((n) => header('value', n))];
  const rows = list.map((e) => [...leaves(e.key).map(([, v]) => cell(v)), ...leaves(e.value).map(([, v]) => cell(v))]);
  return formatTable(headers, rows);
}

export function renderConntrack(items: unknown): string {
  const rows = recs(items).map((f) => [
    String(f.protocol),
    String(f.direction),
    String(f.source),
    String(f.destination),
    String(f.translatedTo),
    f.service === null ? `#${f.serviceId}` : String(f.service),
    String(f.backendId),
    cell(f.flags),
    formatAge(Number(f.idleSeconds)),
  ]);
  if (rows.length === 0) return 'No flows.\n';
  return formatTable(
    ['PROTOCOL', 'DIRECTION', 'SOURCE', 'DESTINATION', 'TRANSLATED-TO', 'SERVICE', 'BACKEND', 'FLAGS', 'IDLE'],
    rows,
  );
}

export function renderStatus(s: Rec): string {
  const counts = (s.counts ?? {}) as Rec;
  const last = s.lastSync as Rec | null;
  const ok = s.lastSuccessfulSync as Rec | null;
  const sync = (r: Rec | null) =>
    r
      ? `${r.at} (${r.reason}, ${r.full ? 'full' : 'partial'}, ${r.durationMs}ms, ${r.changed} changed, ${r.removed} removed${r.error ? `, error: ${r.error}` : ''})`
      : '<none>';
  const lines: Array<[string, string]> = [
    ['Mode', String(s.mode)],
    ['Version', String(s.version)],
    ['Node', String(s.node)],
    ['Source', String(s.source)],
    ['Started', String(s.startedAt)],
    ['Healthy', String(s.healthy)],
    ['Node eligible', String(s.nodeEligible)],
    ['Initial sync done', String(s.initialSyncDone)],
    ['Last sync', sync(last)],
    ['Last successful sync', sync(ok)],
    ['Services', String(counts.services)],
    ['EndpointSlices', String(counts.endpointSlices)],
    ['Service ports', String(counts.servicePorts)],
    ['Programmed entries', cell(counts.programmed)],
    ['BPF maps', cell(counts.maps)],
    [
      'Interfaces',
      recs(s.interfaces)
        .map((i) => `${i.name}(${i.ifindex}${i.hook ? ` ${i.hook}` : ''})`)
        .join(', ') || '<none>',
    ],
  ];
  // Drops only where the mode counts them; reasons with none are left out.
  if (s.drops && typeof s.drops === 'object') {
    const dropped = Object.entries(s.drops as Rec).filter(([, n]) => String(n) !== '0');
    lines.push(['Drops', dropped.map(([r, n]) => `${r}=${n}`).join(', ') || '<none>']);
  }
  const w = Math.max(...lines.map(([k]) => k.length)) + 1;
  return lines.map(([k, v]) => `${`${k}:`.padEnd(w)}  ${v}`).join('\n') + '\n';
}
