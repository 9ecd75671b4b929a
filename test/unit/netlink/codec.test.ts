// Virtual and real servers to the addon's shapes and back, with the addon's
// own constants (from <linux/ip_vs.h>): what is written reads back the same.
import { describe, expect, it } from 'vitest';
import { addon } from '../../../control/native/addon.js';
import { IpvsCodec } from '../../../control/netlink/codec.js';
import { IpvsErrorCode, virtualServerId, realServerId, type VirtualServer } from '../../../control/netlink/index.js';

const c = addon().ipvsConstants;
const codec = new IpvsCodec(c);

/** What the kernel answers for what we sent: the same fields, HASHED set, counters zero. */
const readBack = (vs: VirtualServer) => {
  const s = codec.service(vs);
  const base = { af: 0, protocol: 0, addr: '', port: 0, fwmark: 0, scheduler: '', peName: '', timeout: 0, netmask: 0 };
  return codec.virtualServer({ ...base, ...s, flags: s.flags! | c.SVC_F_HASHED });
};

describe('IpvsCodec', () => {
  it('encodes a ClusterIP service port as kube-proxy programs it', () => {
    expect(codec.service({ address: '10.96.0.10', protocol: 'UDP', port: 53, scheduler: '' })).toEqual({
      af: c.AF_INET,
      protocol: c.IPPROTO_UDP,
      addr: '10.96.0.10',
      port: 53,
      scheduler: 'rr',
      flags: 0,
      timeout: 0,
      netmask: 32,
    });
  });

  it('encodes ClientIP affinity as persistence with its timeout, per client address', () => {
    const s = codec.service({
      address: 'fd00::10',
      protocol: 'TCP',
      port: 443,
      scheduler: 'wrr',
      persistence: { timeoutSeconds: 10800 },
    });
    expect(s).toMatchObject({ af: c.AF_INET6, flags: c.SVC_F_PERSISTENT, timeout: 10800, netmask: 128 });
  });

  it('encodes firewall-mark services and scheduler flags', () => {
    expect(codec.service({ fwmark: 7, family: 6, scheduler: 'sh', schedulerFlags: [true, true, false] })).toEqual({
      af: c.AF_INET6,
      fwmark: 7,
      scheduler: 'sh',
      flags: c.SVC_F_SCHED1 | c.SVC_F_SCHED2,
      timeout: 0,
      netmask: 128,
    });
  });

  it.each<VirtualServer>([
    { address: '10.96.0.1', protocol: 'TCP', port: 443, scheduler: 'rr' },
    {
      address: '10.96.0.2',
      protocol: 'SCTP',
      port: 9,
      scheduler: 'lc',
      persistence: { timeoutSeconds: 600, netmask: 24 },
    },
    {
      address: 'fd00::1',
      protocol: 'UDP',
      port: 53,
      scheduler: 'mh',
      onePacket: true,
      schedulerFlags: [true, false, false],
    },
    { fwmark: 9, family: 4, scheduler: 'wlc' },
  ])('reads back what it wrote: %j', (vs) => {
    expect(readBack(vs)).toEqual({
      ...vs,
      ...(vs.persistence ? { persistence: { netmask: 32, ...vs.persistence } } : {}),
    });
  });

  it('encodes real servers as masquerading by default, and decodes the counts', () => {
    expect(codec.dest({ address: '10.244.1.5', port: 8080, weight: 1 })).toEqual({
      af: c.AF_INET,
      addr: '10.244.1.5',
      port: 8080,
      weight: 1,
      fwdMethod: c.CONN_F_MASQ,
      upperThreshold: 0,
      lowerThreshold: 0,
    });
    const rs = codec.realServer({
      af: c.AF_INET6,
      addr: 'fd00::5',
      port: 80,
      fwdMethod: c.CONN_F_DROUTE,
      weight: 0,
      upperThreshold: 5,
      lowerThreshold: 1,
      activeConns: 2,
      inactConns: 3,
      persistConns: 1,
    });
    expect(rs).toEqual({
      address: 'fd00::5',
      port: 80,
      weight: 0,
      forwarding: 'route',
      upperThreshold: 5,
      lowerThreshold: 1,
      activeConnections: 2,
      inactiveConnections: 3,
      persistentConnections: 1,
    });
  });

  it('maps each change to one addon operation, keys only where the kernel looks up', () => {
    const vs = { address: '10.96.0.1', protocol: 'TCP', port: 80, scheduler: 'rr' } as const;
    const rs = { address: '10.244.0.2', port: 8080, weight: 3 };
    expect(codec.change({ op: 'deleteVirtualServer', virtualServer: vs })).toEqual({
      op: 'deleteService',
      service: { af: c.AF_INET, protocol: c.IPPROTO_TCP, addr: '10.96.0.1', port: 80 },
    });
    expect(codec.change({ op: 'editRealServer', virtualServer: vs, realServer: rs })).toMatchObject({
      op: 'editDest',
      service: { port: 80 },
      dest: { addr: '10.244.0.2', weight: 3 },
    });
    expect(codec.change({ op: 'deleteRealServer', virtualServer: vs, realServer: rs })).toEqual({
      op: 'deleteDest',
      service: { af: c.AF_INET, protocol: c.IPPROTO_TCP, addr: '10.96.0.1', port: 80 },
      dest: { af: c.AF_INET, addr: '10.244.0.2', port: 8080 },
    });
    expect(codec.change({ op: 'flush' })).toEqual({ op: 'flush' });
  });

  it('refuses what is not an address before the kernel sees it', () => {
    expect(() => codec.service({ address: '10.96.0', protocol: 'TCP', port: 80, scheduler: 'rr' })).toThrow(
      expect.objectContaining({ code: IpvsErrorCode.InvalidArgument }),
    );
    expect(() => codec.dest({ address: 'pod-a', port: 80, weight: 1 })).toThrow(/real server address "pod-a"/);
  });

  it('names servers as ipvsadm prints them', () => {
    expect(virtualServerId({ address: 'fd00::1', protocol: 'UDP', port: 53 })).toBe('UDP [fd00::1]:53');
    expect(virtualServerId({ fwmark: 7, family: 6 })).toBe('FWM 7 IPv6');
    expect(realServerId({ address: '10.0.0.1', port: 80 })).toBe('10.0.0.1:80');
  });
});
