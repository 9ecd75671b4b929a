import { describe, expect, it } from 'vitest';
import { parseGetArgs, runGet, UsageError } from '../../../control/cli/get.js';
import { renderMapEntries, renderServices, renderStatus } from '../../../control/cli/render.js';
import { formatAge, formatBytes, formatTable, shortList } from '../../../control/cli/table.js';

describe('tables', () => {
  it('aligns columns like kubectl: padded to the widest cell, three spaces apart', () => {
    expect(
      formatTable(
        ['NAME', 'TYPE'],
        [
          ['sy_services', 'hash'],
          ['x', 'lru_hash'],
        ],
      ),
    ).toBe('NAME          TYPE\nsy_services   hash\nx             lru_hash\n');
  });

  it('shortens lists and sizes', () => {
    expect(shortList(['a', 'b', 'c', 'd', 'e'])).toBe('a,b,c + 2 more...');
    expect(shortList([])).toBe('<none>');
    expect(shortList(null)).toBe('-');
    expect(formatBytes(1536)).toBe('1.5Ki');
    expect(formatBytes(300 * 1024 * 1024)).toBe('300Mi');
    expect(formatAge(75)).toBe('75s');
    expect(formatAge(3 * 3600 + 120)).toBe('3h2m');
  });

  it('renders a map whose key and value share a field name with the side as prefix', () => {
    const out = renderMapEntries([
      { key: { cookie: '1', addr: '10.244.1.11', port: 8080 }, value: { addr: '10.96.0.10', port: 80 } },
    ]);
    expect(out.split('\n')[0]).toBe('COOKIE   KEY.ADDR      KEY.PORT   VALUE.ADDR   VALUE.PORT');
  });

  it('renders service ports with ready counts and the endpoints used', () => {
    const out = renderServices([
      {
        namespace: 'demo',
        service: 'local',
        portName: '',
        port: 80,
        protocol: 'TCP',
        type: 'ClusterIP',
        clusterIPs: ['10.96.0.15'],
        endpoints: [{ ready: true }, { ready: false }],
        clusterEndpoints: null,
        localEndpoints: [],
      },
    ]);
    expect(out.split('\n')[1]).toBe(
      'demo        local   80/TCP   ClusterIP   10.96.0.15   <none>        1/2     -                   <none>',
    );
  });

  it('shows NodePorts and external addresses as kubectl does', () => {
    const base = { namespace: 'demo', portName: 'http', port: 80, protocol: 'TCP', clusterIPs: ['10.96.0.30'] };
    const rows = renderServices([
      { ...base, service: 'np', type: 'NodePort', nodePort: 30080, loadBalancerIPs: [], externalIPs: ['192.0.2.7'] },
      {
        ...base,
        service: 'lb',
        type: 'LoadBalancer',
        nodePort: 30081,
        loadBalancerIPs: ['198.51.100.4'],
        externalIPs: [],
      },
      { ...base, service: 'wait', type: 'LoadBalancer', nodePort: 30082, loadBalancerIPs: [], externalIPs: [] },
    ])
      .split('\n')
      .slice(1, 4)
      .map((l) => l.split(/\s{3,}/).slice(2, 6));
    expect(rows).toEqual([
      ['http:80:30080/TCP', 'NodePort', '10.96.0.30', '192.0.2.7'],
      ['http:80:30081/TCP', 'LoadBalancer', '10.96.0.30', '198.51.100.4'],
      ['http:80:30082/TCP', 'LoadBalancer', '10.96.0.30', '<pending>'],
    ]);
  });
});

describe('parseGetArgs', () => {
  it('takes resources, aliases, names and flags in either form', () => {
    expect(parseGetArgs(['svc', '-n', 'demo', '-o=json', '--server', '10.0.0.1:10249'])).toEqual({
      resource: 'services',
      server: 'http://10.0.0.1:10249',
      output: 'json',
      query: { namespace: 'demo' },
      chunkSize: 500,
    });
    expect(parseGetArgs(['map', 'sy_services', '--filter=key.port=80'])).toMatchObject({
      resource: 'map',
      name: 'sy_services',
      query: { filter: 'key.port=80' },
    });
    expect(parseGetArgs(['--help'])).toBe('help');
  });

  it('says what is wrong', () => {
    const bad: Array<[string[], RegExp]> = [
      [[], /which resource/],
      [['pods'], /unknown resource "pods"/],
      [['map'], /needs a map name/],
      [['maps', '--client', '1.2.3.4'], /--client does not apply to get maps/],
      [['status', '-o', 'wide'], /-o wide/],
      [['status', '--bogus', '1'], /unknown flag --bogus/],
      [['conntrack', '--service'], /needs a value/],
    ];
    for (const [argv, re] of bad) expect(() => parseGetArgs(argv), argv.join(' ')).toThrowError(re);
    expect(() => parseGetArgs(['x'])).toThrowError(UsageError);
  });
});

describe('runGet', () => {
  const io = (pages: Record<string, unknown>[], status = 200) => {
    const urls: string[] = [];
    let out = '';
    let err = '';
    return {
      urls,
      out: () => out,
      err: () => err,
      io: {
        fetch: (async (url: string) => {
          urls.push(url);
          const body = pages.shift() ?? {};
          return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
        }) as typeof fetch,
        stdout: (s: string) => (out += s),
        stderr: (s: string) => (err += s),
      },
    };
  };

  it('follows continue tokens and prints every page as one list', async () => {
    const t = io([
      {
        map: { name: 'sy_backends_v2' },
        items: [{ key: 1, value: { addr: '10.244.1.11', port: 8080 } }],
        continue: 'abc',
        remaining: 1,
      },
      {
        map: { name: 'sy_backends_v2' },
        items: [{ key: 2, value: { addr: '10.244.2.11', port: 8080 } }],
        remaining: 0,
      },
    ]);
    expect(await runGet(['map', 'sy_backends_v2', '--chunk-size', '1', '-o', 'json'], t.io)).toBe(0);
    expect(t.urls).toEqual([
      'http://127.0.0.1:10249/v1/maps/sy_backends_v2?limit=1',
      'http://127.0.0.1:10249/v1/maps/sy_backends_v2?limit=1&continue=abc',
    ]);
    expect(JSON.parse(t.out())).toEqual({
      map: { name: 'sy_backends_v2' },
      items: [
        { key: 1, value: { addr: '10.244.1.11', port: 8080 } },
        { key: 2, value: { addr: '10.244.2.11', port: 8080 } },
      ],
    });
  });

  it("prints the server's error code and message, exit 1; usage errors exit 2", async () => {
    const t = io([{ code: 'ERR_API_NOT_FOUND', message: 'no map named "x"', statusCode: 404 }], 404);
    expect(await runGet(['map', 'x'], t.io)).toBe(1);
    expect(t.err()).toBe('Error from server (ERR_API_NOT_FOUND): no map named "x"\n');
    const u = io([]);
    expect(await runGet(['pods'], u.io)).toBe(2);
    expect(u.err()).toMatch(/^switchyard get: unknown resource "pods"/);
  });

  it('says how to reach the server when nothing answers', async () => {
    const t = io([]);
    t.io.fetch = (async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    }) as typeof fetch;
    expect(await runGet(['status'], t.io)).toBe(1);
    expect(t.err()).toMatch(/cannot reach the switchyard API at http:\/\/127\.0\.0\.1:10249 \(ECONNREFUSED\)/);
  });
});

describe('renderStatus', () => {
  const status = { mode: 'ebpf', counts: {}, interfaces: [], lastSync: null, lastSuccessfulSync: null };
  it('lists the reasons something was dropped for, and no Drops line in a mode that counts none', () => {
    expect(renderStatus({ ...status, drops: { malformed: '0', no_backend: '3', nat_failed: '1' } })).toMatch(
      /^Drops:\s+no_backend=3, nat_failed=1$/m,
    );
    expect(renderStatus({ ...status, drops: { malformed: '0' } })).toMatch(/^Drops:\s+<none>$/m);
    expect(renderStatus({ ...status, mode: 'iptables' })).not.toMatch(/Drops/);
  });
});
