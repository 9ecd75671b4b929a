// /v1/maps and /v1/maps/:name: every pinned BPF map with its size and
// capacity, and a map's entries decoded (addresses as text, flags by name),
// paged and filterable. Read from the kernel through the pins, so this is
// what packets see, not what the controller meant to write.
import type { ApiApp } from '../../../api/app.js';
import type { ApiContext } from '../../../api/context.js';
import { ApiError, ApiErrorCode } from '../../../api/errors.js';
import { parseSelector } from '../../../api/filter.js';
import type { DecodedEntry, MapCatalog, RawEntry } from '../map-catalog.js';
import type { EbpfProxier } from '../proxier.js';
import { pageOf } from '../../../api/paging.js';
import { ErrorResponses, MapEntriesBody, MapParams, MapQuery, MapsBody } from '../../../api/schemas.js';

function noMaps(ctx: ApiContext): string {
  return `the ${ctx.options.mode} mode programs no BPF maps`;
}

async function read<T>(ctx: ApiContext, op: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiError && err.code !== ApiErrorCode.Internal) throw err;
    ctx.metrics.observeMapFailure(err instanceof ApiError ? err.cause : err, op);
    throw err;
  }
}

/** `proxier`: the running ebpf proxier, or undefined in another mode. */
export function mapRoutes(app: ApiApp, ctx: ApiContext, proxier: EbpfProxier | undefined): void {
  const maps = proxier?.maps;
  app.get(
    '/v1/maps',
    {
      schema: {
        summary: 'every BPF map: type, sizes, capacity, entries, memory',
        response: { 200: MapsBody, ...ErrorResponses },
      },
    },
    async () => {
      if (!maps) return { mode: ctx.options.mode, items: [], message: noMaps(ctx) };
      return { mode: ctx.options.mode, items: await read(ctx, 'api.summaries', () => maps.summaries()) };
    },
  );

  app.get(
    '/v1/maps/:name',
    {
      schema: {
        summary: "a map's entries, decoded (paged, filterable)",
        params: MapParams,
        querystring: MapQuery,
        response: { 200: MapEntriesBody, ...ErrorResponses },
      },
    },
    async (req) => {
      const { name } = req.params;
      if (!maps) throw new ApiError(ApiErrorCode.NotFound, `no map named "${name}": ${noMaps(ctx)}`);
      const { limit, continue: cont, filter } = req.query;
      const map = await read(ctx, 'api.summary', () => maps.summary(name));
      const select = filter ? parseSelector(filter, maps.fields(name)) : undefined;
      const rows = await read(ctx, 'api.dump', () => maps.raw(name));
      const page = select
        ? await filtered(maps, name, rows, select, { limit, continue: cont })
        : await plain(maps, name, rows, { limit, continue: cont });
      return { map, ...page };
    },
  );
}

type Req = { limit: number | undefined; continue: string | undefined };

/** No filter: cut the page from the raw rows and decode only that page. */
async function plain(maps: MapCatalog, name: string, rows: RawEntry[], req: Req) {
  const page = pageOf(`map/${name}`, rows, (r) => r.id, req);
  return { ...page, items: await maps.decodeAll(name, page.items) };
}

/** A filter needs every entry decoded first; the page is cut from the matches. */
async function filtered(maps: MapCatalog, name: string, rows: RawEntry[], select: (e: unknown) => boolean, req: Req) {
  const decoded = await maps.decodeAll(name, rows);
  const matches: Array<DecodedEntry & { id: string }> = [];
  decoded.forEach((d, i) => {
    if (select(d)) matches.push({ ...d, id: rows[i]!.id });
  });
  const page = pageOf(`map/${name}`, matches, (r) => r.id, req);
  return { ...page, items: page.items.map(({ key, value }) => ({ key, value })) };
}
