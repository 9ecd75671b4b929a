// deploy/windows/: the Windows nodes' ConfigMap and DaemonSet, held to what
// deploy/'s are held to (manifests.test.ts, config.test.ts): valid objects of
// their kinds, and the checker shown to catch a broken Windows one; the
// ServiceAccount of deploy/01-rbac.yaml resolving for them, with a role that
// grants what the Kubernetes source reads; a DaemonSet that is what a
// kube-proxy replacement on a Windows node needs (a HostProcess pod on the
// host's network, on every Windows node and on no Linux one); and its command
// line and KubeProxyConfiguration, read by the daemon's own loader, meaning
// the kernelspace mode with kube-proxy's winkernel settings.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOptions, type LoadedOptions } from '../../../control/config/load.js';
import { readKubeProxyConfiguration } from '../../../control/config/kubeproxy-config.js';
import {
  daemonContainer,
  flagValue,
  readManifests,
  shippedConfig,
  theObject,
  windowsDeployDir,
  type Obj,
} from '../../harness/deploy.js';
import { repoRoot } from '../../harness/paths.js';
import { checkObject } from './api-types.js';
import { parseDockerfile } from './dockerfile.js';
import { kubeletExpand } from './kubelet.js';
import { grantsOf, neededGrants, podIdentity } from './rbac.js';

const linux = readManifests();
const windows = readManifests(windowsDeployDir);
const clone = (o: Obj): Obj => structuredClone(o);

const ds = theObject(windows, 'DaemonSet');
const pod = ds.spec.template.spec;
const c = daemonContainer(windows);
const linuxDs = theObject(linux, 'DaemonSet');
const linuxC = daemonContainer(linux);

describe('deploy/windows/ manifests are valid Kubernetes objects', () => {
  it('holds the ConfigMap and the DaemonSet, in an order that applies cleanly after deploy/', () => {
    expect(windows.map((m) => `${m.file}: ${m.object.kind}`)).toEqual([
      '01-config.yaml: ConfigMap',
      '02-daemonset.yaml: DaemonSet',
    ]);
  });

  for (const { file, index, object } of windows) {
    it(`windows/${file} #${index} (${object.kind} ${object.metadata?.name}) has only known fields, of the right types, and every required one`, () => {
      expect(checkObject(object)).toEqual([]);
    });
  }
});

describe('the checker rejects a broken Windows DaemonSet', () => {
  const paths = (o: Obj) =>
    checkObject(o)
      .map((p) => p.path)
      .sort();

  it('an unknown field in the Windows options and the pod OS', () => {
    const bad = clone(ds);
    bad.spec.template.spec.securityContext.windowsOptions.hostProces = true;
    bad.spec.template.spec.os.nme = 'windows';
    expect(paths(bad)).toEqual([
      'spec.template.spec.os.nme',
      'spec.template.spec.securityContext.windowsOptions.hostProces',
    ]);
  });

  it('a value of the wrong type, and a missing required field', () => {
    const bad = clone(ds);
    bad.spec.template.spec.securityContext.windowsOptions.hostProcess = 'true';
    bad.spec.template.spec.containers[0].command = c.command.join(' ');
    delete bad.spec.template.spec.os.name;
    expect(checkObject(bad).sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      {
        path: 'spec.template.spec.containers[0].command',
        message: `expected a list, got string ${JSON.stringify(c.command.join(' '))}`,
      },
      { path: 'spec.template.spec.os.name', message: 'missing required field "name" of V1PodOS' },
      {
        path: 'spec.template.spec.securityContext.windowsOptions.hostProcess',
        message: 'expected true or false, got string "true"',
      },
    ]);
  });
});

describe("RBAC: deploy/'s ServiceAccount and role, which grant what the source reads", () => {
  it('runs as the Linux DaemonSet does, so one role serves both', () => {
    const identity = podIdentity(ds, linux);
    expect(identity).toEqual(podIdentity(linuxDs, linux));
    expect(identity.serviceAccount.metadata).toMatchObject({ name: 'switchyard', namespace: 'kube-system' });
    expect(grantsOf(identity.role)).toEqual(neededGrants());
  });

  it('and the check fails when the reference does not resolve', () => {
    const renamed = clone(ds);
    renamed.spec.template.spec.serviceAccountName = 'switchyard-windows';
    expect(() => podIdentity(renamed, linux)).toThrow(
      'no ServiceAccount kube-system/switchyard-windows, which DaemonSet switchyard-windows runs as',
    );
    const moved = clone(ds);
    moved.metadata.namespace = 'kube-proxy';
    expect(() => podIdentity(moved, linux)).toThrow('no ServiceAccount kube-proxy/switchyard');
    expect(() => podIdentity(ds, windows)).toThrow('no ServiceAccount kube-system/switchyard');
  });
});

/** A selector's matchLabels select a pod with `labels`. */
const selects = (matchLabels: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
/** No node can carry both node selectors: some label both name, with different values. */
const disjoint = (a: Record<string, string> = {}, b: Record<string, string> = {}) =>
  Object.keys(a).some((k) => k in b && a[k] !== b[k]);

describe('the Windows DaemonSet', () => {
  it('runs on every Windows node, in kube-system, one node at a time, as a node-critical pod', () => {
    expect(ds.metadata.namespace).toBe('kube-system');
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'windows' });
    expect(pod.os).toEqual({ name: 'windows' });
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
    expect(selects(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels)).toBe(true);
  });

  it('never lands on a node the Linux DaemonSet runs on, nor takes its pods', () => {
    expect(disjoint(pod.nodeSelector, linuxDs.spec.template.spec.nodeSelector)).toBe(true);
    expect(pod.affinity).toBeUndefined();
    expect(linuxDs.spec.template.spec.affinity).toBeUndefined();
    // Two DaemonSets whose selectors match each other's pods fight over them.
    expect(selects(linuxDs.spec.selector.matchLabels, ds.spec.template.metadata.labels)).toBe(false);
    expect(selects(ds.spec.selector.matchLabels, linuxDs.spec.template.metadata.labels)).toBe(false);
    expect(ds.metadata.name).not.toBe(linuxDs.metadata.name);
    // The checks catch what they are for.
    expect(disjoint({ 'kubernetes.io/os': 'linux' }, linuxDs.spec.template.spec.nodeSelector)).toBe(false);
    expect(disjoint(undefined, linuxDs.spec.template.spec.nodeSelector)).toBe(false);
    expect(
      selects(linuxDs.spec.selector.matchLabels, {
        ...ds.spec.template.metadata.labels,
        ...linuxDs.spec.template.metadata.labels,
      }),
    ).toBe(true);
  });

  it("is a HostProcess pod, Windows' privileged one, as SYSTEM on the host's network", () => {
    expect(pod.securityContext).toEqual({
      windowsOptions: { hostProcess: true, runAsUserName: 'NT AUTHORITY\\SYSTEM' },
    });
    // The container inherits it (a HostProcess pod holds HostProcess containers only).
    expect(c.securityContext).toBeUndefined();
    expect(pod.hostNetwork).toBe(true);
    expect(pod.dnsPolicy).toBe(linuxDs.spec.template.spec.dnsPolicy);
    // Nothing of Linux's: no privileged flag, no host folders (bpffs, cgroup2, the xtables lock, modules).
    expect(JSON.stringify(ds)).not.toMatch(/privileged|hostPath|capabilities|seLinux|seccomp|appArmor/);
    expect(pod.volumes).toEqual([{ name: 'config', configMap: { name: 'switchyard-windows' } }]);
  });

  it('names its node from the downward API', () => {
    expect(flagValue(c.args, 'hostname-override')).toBe('$(NODE_NAME)');
    expect(c.env.find((e: Obj) => e.name === 'NODE_NAME')).toEqual({
      name: 'NODE_NAME',
      valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } },
    });
  });

  it("gives the API server's real address, as on Linux, and the HNS network as kube-proxy reads it", () => {
    const literal = (container: Obj) =>
      Object.fromEntries((container.env as Obj[]).filter((e) => 'value' in e).map((e) => [e.name, e.value]));
    const env = literal(c);
    expect(Object.keys(env).sort()).toEqual(['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'KUBE_NETWORK']);
    const { KUBE_NETWORK, ...api } = env;
    expect(api).toEqual(literal(linuxC));
    expect(KUBE_NETWORK).toMatch(/\S/);
  });

  it('runs node.exe on the tree the image holds, with the V8 flag control/main.ts would re-execute with', () => {
    const dockerfile = parseDockerfile(readFileSync(join(windowsDeployDir, 'Dockerfile'), 'utf8'));
    const runtime = dockerfile.at(-1)!;
    const entrypoint = runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT')!;
    expect(c.command).toEqual(JSON.parse(entrypoint.args));
    const tree = runtime.instructions
      .find((i) => i.keyword === 'COPY')!
      .args.split(/\s+/)
      .at(-1);
    const sandbox = '$env:CONTAINER_SANDBOX_MOUNT_POINT';
    const v8Flags = /const V8_FLAGS = (\[[^\]]*\]);/.exec(readFileSync(join(repoRoot, 'control', 'main.ts'), 'utf8'));
    expect(c.command).toEqual([
      `${sandbox}${tree}/bin/node.exe`,
      ...(JSON.parse(v8Flags![1]!.replaceAll("'", '"')) as string[]),
      `${sandbox}${tree}/dist/control/main.js`,
    ]);
  });

  it('probes, ports and requests as on Linux', () => {
    for (const key of ['ports', 'livenessProbe', 'readinessProbe', 'resources', 'imagePullPolicy'])
      expect(c[key], key).toEqual(linuxC[key]);
  });

  it('runs the Windows image of this version', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    expect(c.image).toBe(`switchyard:${pkg.version}-windows`);
  });
});

describe('the Windows DaemonSet starts the daemon with its ConfigMap', () => {
  const config = shippedConfig(windows);
  const NODE = 'win-worker-3';
  const args = () => kubeletExpand(c, c.args as string[], NODE);
  const readFile = (text: string) => (path: string) => {
    if (path !== config.path) throw Object.assign(new Error(`unexpected read of ${path}`), { code: 'ENOENT' });
    return text;
  };
  function load(argv = args(), text = config.text): LoadedOptions {
    const loaded = loadOptions(argv, { hostname: () => 'the-machine', readFile: readFile(text) });
    if ('exit' in loaded) throw new Error(`the args made the daemon exit: ${loaded.output}`);
    return loaded;
  }

  it('accepts every flag and every field, and notes nothing', () => {
    expect(load().notes).toEqual([]);
  });

  it("takes the kernelspace mode, kube-proxy's winkernel defaults and the node name", () => {
    const { options } = load();
    expect(options).toMatchObject({
      configFile: config.path,
      mode: 'kernelspace',
      hostname: NODE,
      healthzBindAddress: '0.0.0.0:10256',
      metricsBindAddress: '127.0.0.1:10249',
      logLevel: 'info',
      logFormat: 'text',
      winkernel: {
        networkName: '',
        sourceVip: '',
        enableDSR: false,
        rootHnsEndpointName: 'cbr0',
        forwardHealthCheckVip: false,
      },
    });
    expect(options.kubeconfig).toBeUndefined();
    // kube-proxy's winkernel runs on the iptables periods, at their defaults here.
    expect(options.sync).toEqual({ syncPeriodMs: 30_000, minSyncPeriodMs: 1000 });
  });

  it("decodes as a KubeProxyConfiguration whose fields, but mode and winkernel, are the Linux ConfigMap's", () => {
    const win = readKubeProxyConfiguration(config.path, readFile(config.text));
    expect(win.notes).toEqual([]);
    const linuxConfig = shippedConfig(linux);
    const lin = readKubeProxyConfiguration(linuxConfig.path, () => linuxConfig.text);
    const { mode, winkernel, ...shared } = win.config as Record<string, unknown>;
    expect(mode).toBe('kernelspace');
    expect(Object.keys(winkernel as object).sort()).toEqual([
      'enableDSR',
      'forwardHealthCheckVip',
      'networkName',
      'rootHnsEndpointName',
      'sourceVip',
    ]);
    const linuxShared = lin.config as Record<string, unknown>;
    for (const [key, value] of Object.entries(shared)) expect(value, key).toEqual(linuxShared[key]);
  });

  it("probes the health server's port", () => {
    const port = Number(load().options.healthzBindAddress.split(':').pop());
    const named = new Map((c.ports as Obj[]).map((p) => [p.name, p.containerPort]));
    for (const probe of [c.livenessProbe, c.readinessProbe]) {
      const p = probe.httpGet.port;
      expect(typeof p === 'string' ? named.get(p) : p).toBe(port);
    }
  });

  it('passes no flag the file replaces: --proxy-mode beside --config would be ignored, with a note', () => {
    expect(flagValue(c.args, 'proxy-mode')).toBeUndefined();
    const { notes, options } = load([...args(), '--proxy-mode=kernelspace']);
    expect(notes).toEqual([expect.stringMatching(/^--proxy-mode=kernelspace is ignored because --config is given/)]);
    expect(options.mode).toBe('kernelspace');
  });

  it('fails, naming the field, on a winkernel field kube-proxy does not have or a source VIP that is no address', () => {
    const misspelled = config.text.replace('enableDSR: false', 'enableDsr: false');
    expect(() => load(args(), misspelled)).toThrow(/unknown field "winkernel.enableDsr"/);
    const notAnIp = config.text.replace('sourceVip: ""', 'sourceVip: "10.244.1.x"');
    expect(() => load(args(), notAnIp)).toThrow(/winkernel\.sourceVip/);
  });
});
