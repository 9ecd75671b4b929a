// The pure parts of the ipset driver: reading `ipset save`, the restore
// scripts it writes, the temporary set's name, and the refused line's number.
import { describe, expect, it } from 'vitest';
import {
  createLine,
  IpsetError,
  parseIpsetSave,
  refusedLineNumber,
  replaceScript,
  temporarySetName,
  updateScript,
  type IpsetSpec,
} from '../../../control/proxiers/ipvs/ipset.js';

const clusterIP: IpsetSpec = {
  name: 'KUBE-CLUSTER-IP',
  type: 'hash:ip,port',
  family: 'inet',
  comment: 'cluster ip + port',
};
const nodePorts: IpsetSpec = { name: 'KUBE-NODE-PORT-TCP', type: 'bitmap:port', family: 'inet', comment: 'node ports' };

describe('parseIpsetSave', () => {
  it('reads every set, its members as printed, and empty sets', () => {
    const saved = [
      'create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x61cf128d',
      'add KUBE-CLUSTER-IP 10.96.0.10,udp:53',
      'add KUBE-CLUSTER-IP 10.96.0.10,tcp:80',
      'create KUBE-LOOP-BACK hash:ip,port,ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x46dcaf82',
      'add KUBE-LOOP-BACK 10.244.1.5,tcp:8080,10.244.1.5',
      'create KUBE-NODE-PORT-TCP bitmap:port range 0-65535',
      'add KUBE-NODE-PORT-TCP 30080',
      'create V6 hash:ip,port family inet6 hashsize 1024 maxelem 65536',
      'add V6 fd00::a,tcp:80',
      'create EMPTY hash:ip family inet hashsize 1024 maxelem 65536',
      '',
    ].join('\n');
    const sets = parseIpsetSave(saved);
    expect([...sets.keys()]).toEqual(['KUBE-CLUSTER-IP', 'KUBE-LOOP-BACK', 'KUBE-NODE-PORT-TCP', 'V6', 'EMPTY']);
    expect(sets.get('KUBE-CLUSTER-IP')).toEqual(new Set(['10.96.0.10,udp:53', '10.96.0.10,tcp:80']));
    expect(sets.get('KUBE-LOOP-BACK')).toEqual(new Set(['10.244.1.5,tcp:8080,10.244.1.5']));
    expect(sets.get('KUBE-NODE-PORT-TCP')).toEqual(new Set(['30080']));
    expect(sets.get('V6')).toEqual(new Set(['fd00::a,tcp:80']));
    expect(sets.get('EMPTY')).toEqual(new Set());
  });

  it('leaves out the options after a member (timeout, comment, counters) and tolerates stray whitespace and CRLF', () => {
    const saved =
      'create C hash:ip family inet hashsize 1024 maxelem 65536 timeout 0 comment counters\r\n' +
      'add C 10.0.0.1 timeout 30 packets 0 bytes 0 comment "a b c"\r\n' +
      '  add   C   10.0.0.2  \n' +
      'add C\n';
    expect(parseIpsetSave(saved).get('C')).toEqual(new Set(['10.0.0.1', '10.0.0.2']));
  });

  it('gives nothing for empty output', () => {
    expect(parseIpsetSave('')).toEqual(new Map());
  });
});

describe('restore scripts', () => {
  it('creates sets with kube-proxy’s parameters; bitmap:port with its range and no family', () => {
    expect(createLine(clusterIP)).toBe('create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536');
    expect(createLine({ ...clusterIP, family: 'inet6' }, 'X')).toBe(
      'create X hash:ip,port family inet6 hashsize 1024 maxelem 65536',
    );
    expect(createLine(nodePorts)).toBe('create KUBE-NODE-PORT-TCP bitmap:port range 0-65535');
    expect(createLine({ ...nodePorts, range: '30000-32767' })).toBe(
      'create KUBE-NODE-PORT-TCP bitmap:port range 30000-32767',
    );
  });

  it('replaces through a temporary set: create both, flush, fill, swap, destroy', () => {
    const tmp = temporarySetName(clusterIP);
    expect(replaceScript(clusterIP, tmp, ['10.96.0.10,tcp:80', '10.96.0.11,udp:53'])).toEqual([
      'create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536',
      `create ${tmp} hash:ip,port family inet hashsize 1024 maxelem 65536`,
      `flush ${tmp}`,
      `add ${tmp} 10.96.0.10,tcp:80`,
      `add ${tmp} 10.96.0.11,udp:53`,
      `swap ${tmp} KUBE-CLUSTER-IP`,
      `destroy ${tmp}`,
    ]);
  });

  it('updates with deletions before additions, so a member in both stays', () => {
    expect(updateScript(clusterIP, ['10.96.0.12,tcp:80'], ['10.96.0.10,tcp:80'])).toEqual([
      'create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536',
      'del KUBE-CLUSTER-IP 10.96.0.10,tcp:80',
      'add KUBE-CLUSTER-IP 10.96.0.12,tcp:80',
    ]);
  });

  it.each([
    ['a member with a newline', () => updateScript(clusterIP, ['10.96.0.10,tcp:80\ndestroy KUBE-CLUSTER-IP'], [])],
    ['an empty member', () => replaceScript(clusterIP, 'T', [''])],
    ['a name over 31 characters', () => createLine({ ...clusterIP, name: 'KUBE-' + 'X'.repeat(27) })],
    ['a name with a space', () => createLine({ ...clusterIP, name: 'KUBE CLUSTER' })],
    ['a name that reads as an option', () => createLine({ ...clusterIP, name: '-exist' })],
    ['a range that is not FROM-TO', () => createLine({ ...nodePorts, range: '0-65535 timeout 1' })],
  ])('refuses %s (ERR_IPSET_INVALID)', (_, write) => {
    expect(write).toThrow(IpsetError);
    try {
      write();
    } catch (e) {
      expect((e as IpsetError).code).toBe('ERR_IPSET_INVALID');
    }
  });
});

describe('temporarySetName', () => {
  // kube-proxy's set names; the longest is 30 characters.
  const kubeProxySets = [
    'KUBE-LOOP-BACK',
    'KUBE-CLUSTER-IP',
    'KUBE-EXTERNAL-IP',
    'KUBE-EXTERNAL-IP-LOCAL',
    'KUBE-LOAD-BALANCER',
    'KUBE-LOAD-BALANCER-LOCAL',
    'KUBE-LOAD-BALANCER-FW',
    'KUBE-LOAD-BALANCER-SOURCE-IP',
    'KUBE-LOAD-BALANCER-SOURCE-CIDR',
    'KUBE-NODE-PORT-TCP',
    'KUBE-NODE-PORT-LOCAL-TCP',
    'KUBE-NODE-PORT-SCTP-HASH',
    'KUBE-NODE-PORT-LOCAL-SCTP-HASH',
    'KUBE-IPVS-IPS',
    'KUBE-HEALTH-CHECK-NODE-PORT',
  ];

  it('fits 31 characters, is readable, and is one per set', () => {
    const names = kubeProxySets.map((name) => temporarySetName({ ...clusterIP, name }));
    for (const n of names) {
      expect(n.length).toBeLessThanOrEqual(31);
      expect(n).toMatch(/^KUBE-[A-Z-]+-TMP-[0-9a-f]{8}$/);
    }
    expect(new Set(names).size).toBe(names.length);
    expect(temporarySetName(clusterIP)).toMatch(/^KUBE-CLUSTER-IP-TMP-/);
  });

  it('is stable for one spec and differs when the type or family changes', () => {
    expect(temporarySetName(clusterIP)).toBe(temporarySetName({ ...clusterIP, comment: 'other words' }));
    expect(temporarySetName({ ...clusterIP, type: 'hash:ip' })).not.toBe(temporarySetName(clusterIP));
    expect(temporarySetName({ ...clusterIP, family: 'inet6' })).not.toBe(temporarySetName(clusterIP));
  });
});

describe('refusedLineNumber', () => {
  it('reads the line ipset restore names', () => {
    expect(
      refusedLineNumber(
        'ipset v7.17: Error in line 3: Syntax error: cannot parse bogus: resolving to IPv4 address failed\n',
      ),
    ).toBe(3);
    expect(refusedLineNumber('ipset v7.17: The set with the given name does not exist\n')).toBeUndefined();
  });
});
