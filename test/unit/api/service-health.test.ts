// The health-check node ports, served for real on loopback: kube-proxy's
// status rules, headers and body bytes, servers following the services, and
// a port another process holds logged and retried without blocking the rest.
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceHealthServers, healthBody, serviceHealthOf } from '../../../control/api/service-health.js';
import { buildServicePorts } from '../../../control/model/service-port.js';
import { NODE, SERVING_TERMINATING, endpoint, service, slice } from '../model/fixtures.js';

const logs: Array<{ msg: string; service?: string }> = [];
const logger = pino(
  { level: 'info' },
  new Writable({
    write: (chunk, _e, done) => {
      logs.push(JSON.parse(String(chunk)));
      done();
    },
  }),
);

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as { port: number };
  s.close();
  await once(s, 'close');
  return port;
}

/** One raw HTTP exchange, so the bytes on the wire are what is compared. */
async function raw(port: number, text = 'GET /anything HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n') {
  const socket = connect({ host: '127.0.0.1', port });
  socket.write(text);
  const chunks: Buffer[] = [];
  socket.on('data', (c) => chunks.push(c));
  await once(socket, 'end');
  const all = Buffer.concat(chunks).toString();
  const [head, body] = all.split('\r\n\r\n');
  const [status, ...headers] = head!.split('\r\n');
  return {
    status: Number(status!.split(' ')[1]),
    headers: Object.fromEntries(
      headers.map((h) => [h.slice(0, h.indexOf(':')).toLowerCase(), h.slice(h.indexOf(':') + 2)]),
    ),
    body: body!,
  };
}

function lb(port: number, endpoints = [endpoint('10.244.1.5', { nodeName: NODE.nodeName })]) {
  return buildServicePorts(
    service({
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: port,
      loadBalancerIPs: ['198.51.100.10'],
      ports: [
        { name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 },
        { name: 'https', protocol: 'TCP', port: 443, targetPort: 8443, nodePort: 30443 },
      ],
    }),
    [
      slice('web-1', endpoints, {
        ports: [
          { name: 'http', protocol: 'TCP', port: 8080 },
          { name: 'https', protocol: 'TCP', port: 8443 },
        ],
      }),
    ],
    NODE,
  );
}

describe('serviceHealthOf', () => {
  it("counts a service's distinct local ready endpoint IPs across its ports; terminating and remote ones not", () => {
    const ports = lb(31000, [
      endpoint('10.244.1.5', { nodeName: NODE.nodeName }),
      endpoint('10.244.1.6', { nodeName: NODE.nodeName, ...SERVING_TERMINATING }),
      endpoint('10.244.2.7'),
    ]);
    expect(ports).toHaveLength(2);
    expect([...serviceHealthOf(ports).values()]).toEqual([
      { namespace: 'ns', name: 'web', port: 31000, localEndpoints: 1 },
    ]);
  });

  it('only services with a health-check node port (LoadBalancer, externalTrafficPolicy Local)', () => {
    const cluster = buildServicePorts(service({ type: 'LoadBalancer', healthCheckNodePort: 31000 }), [], NODE);
    expect(serviceHealthOf(cluster).size).toBe(0);
  });
});

describe('ServiceHealthServers', () => {
  let servers: ServiceHealthServers | undefined;
  let squatter: Server | undefined;
  afterEach(async () => {
    await servers?.close();
    squatter?.close();
    servers = squatter = undefined;
  });

  it('answers any method and path as kube-proxy: 200 with local endpoints and a healthy proxy, else 503', async () => {
    const port = await freePort();
    let healthy = true;
    servers = new ServiceHealthServers({ family: 'IPv4', logger, healthy: () => healthy });
    await servers.sync(serviceHealthOf(lb(port)), ['127.0.0.1']);

    const ok = await raw(port);
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('application/json');
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
    expect(ok.headers['x-load-balancing-endpoint-weight']).toBe('1');
    expect(ok.body).toBe(
      '{\n\t"service": {\n\t\t"namespace": "ns",\n\t\t"name": "web"\n\t},\n\t"localEndpoints": 1,\n\t"serviceProxyHealthy": true\n}',
    );
    expect(
      (await raw(port, 'POST /healthz?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'))
        .status,
    ).toBe(200);

    // The proxy unhealthy: 503 even with endpoints.
    healthy = false;
    const sick = await raw(port);
    expect(sick.status).toBe(503);
    expect(sick.body).toContain('"serviceProxyHealthy": false');

    // The last local endpoint gone (now on another node): 503, weight 0.
    healthy = true;
    await servers.sync(serviceHealthOf(lb(port, [endpoint('10.244.2.7')])), ['127.0.0.1']);
    const none = await raw(port);
    expect(none.status).toBe(503);
    expect(none.headers['x-load-balancing-endpoint-weight']).toBe('0');
    expect(none.body).toBe(healthBody({ namespace: 'ns', name: 'web', localEndpoints: 0 }, true));
  });

  it('moves with the port, closes with the service', async () => {
    const [a, b] = [await freePort(), await freePort()];
    servers = new ServiceHealthServers({ family: 'IPv4', logger, healthy: () => true });
    await servers.sync(serviceHealthOf(lb(a)), ['127.0.0.1']);
    expect((await raw(a)).status).toBe(200);
    await servers.sync(serviceHealthOf(lb(b)), ['127.0.0.1']);
    expect((await raw(b)).status).toBe(200);
    await expect(raw(a)).rejects.toThrow(/ECONNREFUSED/);
    await servers.sync(new Map(), ['127.0.0.1']);
    await expect(raw(b)).rejects.toThrow(/ECONNREFUSED/);
    expect(servers.list()).toEqual([]);
  });

  it('a port another process holds is logged once and retried; the other services are served', async () => {
    const [held, free] = [await freePort(), await freePort()];
    squatter = createServer();
    squatter.listen(held, '127.0.0.1');
    await once(squatter, 'listening');
    servers = new ServiceHealthServers({ family: 'IPv4', logger, healthy: () => true });
    const both = new Map([
      ...serviceHealthOf(lb(held)),
      ['ns/other', { namespace: 'ns', name: 'other', port: free, localEndpoints: 2 }],
    ]);
    logs.length = 0;
    await servers.sync(both, ['127.0.0.1']);
    await servers.sync(both, ['127.0.0.1']);
    expect(logs.filter((l) => l.msg.startsWith('cannot open the health check node port'))).toHaveLength(1);
    expect((await raw(free)).headers['x-load-balancing-endpoint-weight']).toBe('2');
    expect(servers.list().map((s) => s.name)).toEqual(['other']);

    squatter.close();
    await once(squatter, 'close');
    squatter = undefined;
    await servers.sync(both, ['127.0.0.1']);
    expect((await raw(held)).status).toBe(200);
  });
});
