// `switchyard get services|maps|map NAME|conntrack|status`: a client of the
// ops API on the metrics address. Lists are fetched page by page until done;
// output is a kubectl-like table, or the API's JSON/YAML with -o.
import { stringify as toYaml } from 'yaml';
import { renderConntrack, renderMapEntries, renderMaps, renderServices, renderStatus } from './render.js';
import { CliErrorCode } from './errors.js';

export const GET_USAGE = `Usage: switchyard get RESOURCE [NAME] [flags]

Resources:
  services [NAMESPACE/NAME]   service ports with their endpoints (alias: svc, service)
  maps                        BPF maps: type, sizes, capacity, entries, memory
  map NAME                    a map's decoded entries (--filter key.addr=10.96.0.10)
  conntrack                   connection-tracking flows (--service, --client, --protocol) (alias: ct)
  status                      mode, version, node, last sync, counts

Flags:
  --server HOST:PORT      the metrics address (default 127.0.0.1:10249)
  -o, --output FORMAT     table (default), json or yaml
  -n, --namespace NS      services: only this namespace
  --filter EXPR           map: field selector, e.g. key.port=80,value.flags=affinity
  --service S             conntrack: namespace/name, a service port name, or address:port
  --client IP             conntrack: flows of this client
  --protocol P            conntrack: TCP, UDP or SCTP
  --chunk-size N          page size when fetching lists (default 500)
`;

export interface GetArgs {
  resource: 'services' | 'maps' | 'map' | 'conntrack' | 'status';
  name?: string;
  server: string;
  output: 'table' | 'json' | 'yaml';
  query: Record<string, string>;
  chunkSize: number;
}

export class UsageError extends Error {
  readonly code = CliErrorCode.Usage;
}

const RESOURCES: Record<string, GetArgs['resource']> = {
  services: 'services',
  service: 'services',
  svc: 'services',
  maps: 'maps',
  map: 'map',
  conntrack: 'conntrack',
  ct: 'conntrack',
  status: 'status',
};

/** Parses the words after `get`. Throws UsageError with what is wrong. */
export function parseGetArgs(argv: readonly string[]): GetArgs | 'help' {
  const words: string[] = [];
  const flags = new Map<string, string>();
  const takesValue = new Set([
    'server',
    'output',
    'namespace',
    'filter',
    'service',
    'client',
    'protocol',
    'chunk-size',
  ]);
  const short: Record<string, string> = { o: 'output', n: 'namespace', s: 'server' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') return 'help';
    const m = /^(?:--([a-z-]+)|-([a-z]))(?:=(.*))?$/.exec(a);
    if (!m) {
      words.push(a);
      continue;
    }
    const name = m[1] ?? short[m[2]!];
    if (!name || !takesValue.has(name)) throw new UsageError(`unknown flag ${a}`);
    const value = m[3] ?? argv[++i];
    if (value === undefined) throw new UsageError(`flag ${a} needs a value`);
    flags.set(name, value);
  }
  const [word, name, ...extra] = words;
  if (!word) throw new UsageError('which resource? services, maps, map NAME, conntrack or status');
  const resource = RESOURCES[word];
  if (!resource) throw new UsageError(`unknown resource "${word}": use services, maps, map NAME, conntrack or status`);
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (resource === 'map' && !name) throw new UsageError('get map needs a map name (see: switchyard get maps)');
  if (name && !['map', 'services'].includes(resource)) throw new UsageError(`get ${word} takes no name`);
  const output = flags.get('output') ?? 'table';
  if (output !== 'table' && output !== 'json' && output !== 'yaml')
    throw new UsageError(`-o ${output}: use json or yaml (or leave it out for a table)`);
  const chunkSize = Number(flags.get('chunk-size') ?? 500);
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 5000)
    throw new UsageError('--chunk-size must be 1-5000');

  const query: Record<string, string> = {};
  const allowed: Record<GetArgs['resource'], string[]> = {
    services: ['namespace'],
    maps: [],
    map: ['filter'],
    conntrack: ['service', 'client', 'protocol'],
    status: [],
  };
  for (const [k, v] of flags) {
    if (['server', 'output', 'chunk-size'].includes(k)) continue;
    if (!allowed[resource].includes(k)) throw new UsageError(`--${k} does not apply to get ${word}`);
    query[k] = v;
  }
  let server = flags.get('server') ?? '127.0.0.1:10249';
  if (!/^https?:\/\//.test(server)) server = `http://${server}`;
  return { resource, ...(name ? { name } : {}), server: server.replace(/\/$/, ''), output, query, chunkSize };
}

export interface GetIO {
  fetch: typeof fetch;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

class ServerError extends Error {}

async function getJson(io: GetIO, url: string): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await io.fetch(url, { headers: { accept: 'application/json' } });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    throw new ServerError(
      `cannot reach the switchyard API at ${new URL(url).origin}${cause ? ` (${cause})` : ''}: is the daemon running, and is --server its --metrics-bind-address?`,
    );
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    throw new ServerError(`Error from server (${body.code ?? res.status}): ${body.message ?? res.statusText}`);
  }
  return body;
}

/** Every page of a list, following `continue`. */
async function getAll(io: GetIO, base: string, query: Record<string, string>, chunkSize: number) {
  const items: unknown[] = [];
  let first: Record<string, unknown> | undefined;
  let cont: string | undefined;
  do {
    const q = new URLSearchParams({ ...query, limit: String(chunkSize), ...(cont ? { continue: cont } : {}) });
    const page = await getJson(io, `${base}?${q}`);
    first ??= page;
    items.push(...((page.items as unknown[]) ?? []));
    cont = typeof page.continue === 'string' ? page.continue : undefined;
  } while (cont);
  const { continue: _c, remaining: _r, ...rest } = first ?? {};
  return { ...rest, items };
}

async function fetchResource(io: GetIO, a: GetArgs): Promise<Record<string, unknown>> {
  const s = a.server;
  switch (a.resource) {
    case 'status':
      return getJson(io, `${s}/v1/status`);
    case 'maps':
      return getJson(io, `${s}/v1/maps`);
    case 'map':
      return getAll(io, `${s}/v1/maps/${encodeURIComponent(a.name!)}`, a.query, a.chunkSize);
    case 'conntrack':
      return getAll(io, `${s}/v1/conntrack`, a.query, a.chunkSize);
    case 'services': {
      if (a.name) {
        const [ns, svc] = a.name.includes('/') ? a.name.split('/', 2) : [a.query.namespace ?? 'default', a.name];
        return getJson(io, `${s}/v1/services/${encodeURIComponent(ns!)}/${encodeURIComponent(svc!)}`);
      }
      return getAll(io, `${s}/v1/services`, a.query, a.chunkSize);
    }
  }
}

function render(a: GetArgs, body: Record<string, unknown>): string {
  switch (a.resource) {
    case 'status':
      return renderStatus(body);
    case 'maps':
      return (body.items as unknown[]).length ? renderMaps(body.items) : `${String(body.message ?? 'No maps.')}\n`;
    case 'map':
      return renderMapEntries(body.items);
    case 'conntrack':
      return renderConntrack(body.items);
    case 'services':
      return (body.items as unknown[]).length ? renderServices(body.items) : 'No service ports.\n';
  }
}

/** Runs `get`; returns the exit code (0 ok, 1 server or network error, 2 usage). */
export async function runGet(argv: readonly string[], io: GetIO): Promise<number> {
  let args;
  try {
    args = parseGetArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`switchyard get: ${err.message}\n\n${GET_USAGE}`);
      return 2;
    }
    throw err;
  }
  if (args === 'help') {
    io.stdout(GET_USAGE);
    return 0;
  }
  try {
    const body = await fetchResource(io, args);
    io.stdout(
      args.output === 'json'
        ? `${JSON.stringify(body, null, 2)}\n`
        : args.output === 'yaml'
          ? toYaml(body)
          : render(args, body),
    );
    return 0;
  } catch (err) {
    if (err instanceof ServerError) {
      io.stderr(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
