// Does this kernel run the cgroup sock_addr hooks (connect4/6, sendmsg4/6)
// for SCTP sockets? bpf/lib/sock.h relies on the answer, no: Linux's
// sctp_inet_connect() and sctp_sendmsg() call none of them, so the node's own
// SCTP connections to a service cannot be translated at the socket (pods'
// are, at tc). A probe object counts each hook by protocol while a process
// in a test cgroup dials with TCP, UDP and SCTP (one-to-one connect(),
// one-to-many sendto()) in both families; TCP and UDP are the control. Runs
// where the kernel has SCTP (the VMs); skipped here, this kernel has none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, type CgroupAttachment, type TypedMap } from '../../../control/bpf/index.js';
import { TestNet } from '../../harness/netns.js';
import { testBpfObject } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { kernelHasSctp } from '../../harness/sctp.js';

const HOOKS = ['connect4', 'connect6', 'sendmsg4', 'sendmsg6'] as const;

const CLIENT = `
import socket
def attempt(fam, typ, proto, host, send):
    s = socket.socket(fam, typ, proto)
    s.settimeout(2)
    try:
        s.sendto(b"x", (host, 9)) if send else s.connect((host, 9))
    except OSError:
        pass
    s.close()
for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    attempt(fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, host, False)
    attempt(fam, socket.SOCK_DGRAM, socket.IPPROTO_UDP, host, True)
    attempt(fam, socket.SOCK_STREAM, 132, host, False)
    attempt(fam, socket.SOCK_SEQPACKET, 132, host, True)
`;

describe.runIf(requirePrivileges() && kernelHasSctp())('cgroup sock_addr hooks and SCTP sockets', () => {
  const net = new TestNet();
  let obj: BpfObject;
  let counts: TypedMap<number, bigint>;
  const links: CgroupAttachment[] = [];

  beforeAll(async () => {
    obj = BpfObject.load(testBpfObject('sock-probe'), { pinRoot: net.pinDir('sock-probe') });
    counts = obj.map('sy_probe_hooks').typed<number, bigint>();
    const ns = net.namespace('node');
    const cgroup = net.cgroup('node');
    for (const h of HOOKS) links.push(obj.program(`sy_probe_${h}`).attachCgroup({ cgroup }));
    const client = net.spawnInCgroup(cgroup, ns, 'python3', ['-c', CLIENT]);
    expect(await client.exited, client.stderr).toBe(0);
  });
  afterAll(async () => {
    for (const l of links) l.detach();
    obj?.close();
    await net.teardown();
  });

  const count = (hook: (typeof HOOKS)[number], proto: number) => counts.get(proto + 256 * HOOKS.indexOf(hook)) ?? 0n;

  it('runs connect4/6 for TCP and sendmsg4/6 for UDP (the control)', () => {
    expect(count('connect4', 6)).toBeGreaterThan(0n);
    expect(count('connect6', 6)).toBeGreaterThan(0n);
    expect(count('sendmsg4', 17)).toBeGreaterThan(0n);
    expect(count('sendmsg6', 17)).toBeGreaterThan(0n);
  });

  it('runs none of them for SCTP, connect() or sendto()', () => {
    expect(HOOKS.map((h) => count(h, 132))).toEqual([0n, 0n, 0n, 0n]);
  });
});
