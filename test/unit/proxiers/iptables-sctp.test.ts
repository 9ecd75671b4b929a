// A node whose kernel refuses SCTP rules (no xt_sctp): the iptables mode says
// so once at start-up and programs every other service port; an SCTP rule in
// the restore would have made iptables-restore refuse all of them. The
// kernel's refusal is stood in for by an Iptables that refuses what such a
// kernel refuses (this host's kernel takes SCTP rules; the privileged tests
// write them for real).
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { nodeFacts, nodePortAddressSpec } from '../../../control/model/node-facts.js';
import { buildServicePorts } from '../../../control/model/service-port.js';
import type { ServicePortName, ServicePortState } from '../../../control/model/types.js';
import { Iptables, IptablesError } from '../../../control/netfilter/iptables.js';
import { IptablesProxier } from '../../../control/proxiers/iptables/proxier.js';
import type { SyncRequest } from '../../../control/proxiers/types.js';
import { NODE, endpoint, service, slice } from '../model/fixtures.js';

class NoSctpKernel extends Iptables {
  readonly restored: string[] = [];
  override async check(): Promise<void> {}
  override async save(): Promise<string> {
    return '';
  }
  override async restore(input: string): Promise<void> {
    if (/-p sctp/.test(input))
      throw new IptablesError('ERR_IPTABLES_RESTORE', "iptables-restore failed (exit 2): Couldn't load match `sctp'");
    this.restored.push(input);
  }
}

const port = (name: string, protocol: 'TCP' | 'SCTP', ip: string): ServicePortState =>
  buildServicePorts(
    service({ name, clusterIPs: [ip], ports: [{ name: 'p', protocol, port: 80, targetPort: 8080 }] }),
    [slice(`${name}-1`, [endpoint('10.244.1.5')], { serviceName: name, ports: [{ name: 'p', protocol, port: 8080 }] })],
    NODE,
  )[0]!;

describe('the iptables mode on a kernel without SCTP rules', () => {
  it('warns once, skips the SCTP port with why, and programs the others', async () => {
    const lines: Array<{ msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as { msg: string }) });
    const kernel = new NoSctpKernel();
    const proxier = new IptablesProxier({
      masqueradeAll: false,
      masqueradeBit: 14,
      clusterCIDRs: [],
      localhostNodePorts: false,
      logger,
      iptables: kernel,
    });
    await proxier.start();
    expect(lines.filter((l) => /SCTP service ports are not programmed/.test(l.msg))).toHaveLength(1);

    const web = port('web', 'TCP', '10.96.0.10');
    const sctp = port('signal', 'SCTP', '10.96.0.11');
    const desired = new Map<ServicePortName, ServicePortState>([
      [web.name, web],
      [sctp.name, sctp],
    ]);
    const req: SyncRequest = {
      desired,
      changed: new Set(desired.keys()),
      removed: new Map(),
      full: true,
      node: nodeFacts({
        nodeName: NODE.nodeName,
        node: { addresses: ['192.168.1.5'], podCIDRs: [] },
        localAddresses: [],
        nodePortAddresses: nodePortAddressSpec([]),
      }),
    };
    const result = await proxier.sync(req);
    expect(result.skipped).toEqual([
      { name: sctp.name, reason: expect.stringMatching(/^not programmed: the kernel refuses iptables SCTP rules/) },
    ]);
    const written = kernel.restored.join('\n');
    expect(written).toContain('-d 10.96.0.10 --dport 80');
    expect(written).not.toContain('10.96.0.11');
    expect(proxier.chainsOf(web.name)?.length).toBeGreaterThan(0);
  });
});
