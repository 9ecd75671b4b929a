// deploy/: every document is a valid object of its kind (checked against
// client-node's API types, and the checker itself shown to catch broken
// manifests), the RBAC grants what the Kubernetes source reads and nothing
// more, and the DaemonSet is what a kube-proxy replacement needs to be.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { daemonContainer, flagValue, readManifests, theObject, type Obj } from '../../harness/deploy.js';
import { repoRoot } from '../../harness/paths.js';
import { checkObject } from './api-types.js';
import { grantsOf, neededGrants, podIdentity, watchedGroupResources } from './rbac.js';

const manifests = readManifests();
const clone = (o: Obj): Obj => structuredClone(o);

describe('deploy/ manifests are valid Kubernetes objects', () => {
  it('holds the five objects, in an order that applies cleanly', () => {
    expect(manifests.map((m) => `${m.file}: ${m.object.kind}`)).toEqual([
      '01-rbac.yaml: ServiceAccount',
      '01-rbac.yaml: ClusterRole',
      '01-rbac.yaml: ClusterRoleBinding',
      '02-config.yaml: ConfigMap',
      '03-daemonset.yaml: DaemonSet',
    ]);
  });

  for (const { file, index, object } of manifests) {
    it(`${file} #${index} (${object.kind} ${object.metadata?.name}) has only known fields, of the right types, and every required one`, () => {
      expect(checkObject(object)).toEqual([]);
    });
  }
});

describe('the checker rejects broken manifests', () => {
  const ds = theObject(manifests, 'DaemonSet');
  const paths = (o: Obj) => checkObject(o).map((p) => p.path);

  it('an unknown field, however deep', () => {
    const bad = clone(ds);
    bad.spec.template.spec.containers[0].securityContext.privilegd = true;
    bad.spec.updateStrategy.rollingUpdate.maxUnavalable = 1;
    expect(paths(bad)).toEqual([
      'spec.updateStrategy.rollingUpdate.maxUnavalable',
      'spec.template.spec.containers[0].securityContext.privilegd',
    ]);
  });

  it('a value of the wrong type', () => {
    const bad = clone(ds);
    bad.spec.template.spec.hostNetwork = 'true';
    bad.spec.template.spec.containers[0].ports[0].containerPort = '10256';
    bad.spec.template.spec.tolerations = { operator: 'Exists' };
    bad.spec.template.spec.containers[0].args = '--config=/etc/switchyard/config.conf';
    expect(checkObject(bad).sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      {
        path: 'spec.template.spec.containers[0].args',
        message: 'expected a list, got string "--config=/etc/switchyard/config.conf"',
      },
      {
        path: 'spec.template.spec.containers[0].ports[0].containerPort',
        message: 'expected a number, got string "10256"',
      },
      { path: 'spec.template.spec.hostNetwork', message: 'expected true or false, got string "true"' },
      { path: 'spec.template.spec.tolerations', message: 'expected a list, got an object' },
    ]);
  });

  it('a missing required field, and a missing name', () => {
    const bad = clone(ds);
    delete bad.spec.template.spec.containers[0].name;
    delete bad.spec.selector;
    delete bad.metadata.name;
    expect(paths(bad).sort()).toEqual(['metadata.name', 'spec.selector', 'spec.template.spec.containers[0].name']);
  });

  it('ConfigMap data that is not a string, a kind it does not know, and a misspelled kind', () => {
    const cm = clone(theObject(manifests, 'ConfigMap'));
    cm.data['config.conf'] = { mode: 'ebpf' };
    expect(paths(cm)).toEqual(['data.config.conf']);
    expect(paths({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } })).toEqual(['kind']);
    expect(paths({ ...clone(ds), apiVersion: 'extensions/v1beta1' })).toEqual(['kind']);
  });
});

describe('RBAC: what the Kubernetes source reads, events, and nothing more', () => {
  const role = theObject(manifests, 'ClusterRole', 'switchyard');

  it('grants list and watch on every resource the source lists and watches, events, and nothing else', () => {
    expect(watchedGroupResources()).toEqual(['/nodes', '/services', 'discovery.k8s.io/endpointslices']);
    expect(grantsOf(role)).toEqual(neededGrants());
    expect(role.rules.every((r: Obj) => !r.resourceNames && !r.nonResourceURLs)).toBe(true);
  });

  it('binds the role to the ServiceAccount the DaemonSet runs as', () => {
    const sa = theObject(manifests, 'ServiceAccount');
    const binding = theObject(manifests, 'ClusterRoleBinding');
    const ds = theObject(manifests, 'DaemonSet');
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: role.metadata.name,
    });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace },
    ]);
    expect(ds.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    expect(ds.metadata.namespace).toBe(sa.metadata.namespace);
    expect(podIdentity(ds, manifests)).toEqual({ serviceAccount: sa, binding, role });
  });

  it('the grant check fails on a grant too many or too few', () => {
    const more = clone(role);
    more.rules[0].verbs.push('get');
    expect(grantsOf(more)).not.toEqual(neededGrants());
    const fewer = clone(role);
    fewer.rules.splice(1, 1);
    expect(neededGrants().filter((g) => !grantsOf(fewer).includes(g))).toEqual([
      'discovery.k8s.io/endpointslices:list',
      'discovery.k8s.io/endpointslices:watch',
    ]);
  });
});

describe('the DaemonSet', () => {
  const ds = theObject(manifests, 'DaemonSet');
  const pod = ds.spec.template.spec;
  const c = daemonContainer(manifests);
  /** The hostPath a container path is mounted from, if any. */
  const hostPathAt = (mountPath: string) => {
    const mount = (c.volumeMounts as Obj[]).find((m) => m.mountPath === mountPath);
    const volume = (pod.volumes as Obj[]).find((v) => v.name === mount?.name);
    return { mount, hostPath: volume?.hostPath };
  };

  it('runs on every node, in kube-system, one node at a time, as a node-critical pod', () => {
    expect(ds.metadata.namespace).toBe('kube-system');
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
    expect(ds.spec.selector.matchLabels).toEqual(ds.spec.template.metadata.labels);
  });

  it("is privileged on the host's network", () => {
    expect(pod.hostNetwork).toBe(true);
    expect(c.securityContext).toEqual({ privileged: true });
  });

  it('names its node from the downward API', () => {
    expect(flagValue(c.args, 'hostname-override')).toBe('$(NODE_NAME)');
    expect(c.env.find((e: Obj) => e.name === 'NODE_NAME')).toEqual({
      name: 'NODE_NAME',
      valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } },
    });
  });

  it("mounts the host's bpffs, cgroup2 and xtables lock where the daemon uses them", () => {
    const bpffs = hostPathAt('/sys/fs/bpf');
    expect(bpffs.hostPath).toEqual({ path: '/sys/fs/bpf', type: 'Directory' });
    // The pins (--bpffs-root, default /sys/fs/bpf/switchyard) live on the host's bpffs.
    expect(flagValue(c.args, 'bpffs-root')).toBeUndefined();
    const cgroupRoot = flagValue(c.args, 'cgroup-root');
    expect(cgroupRoot).toBeDefined();
    expect(hostPathAt(cgroupRoot!).hostPath).toEqual({ path: '/sys/fs/cgroup', type: 'Directory' });
    expect(hostPathAt('/run/xtables.lock').hostPath).toEqual({ path: '/run/xtables.lock', type: 'FileOrCreate' });
  });

  it('gives the API server a real address, not the ClusterIP it is about to program', () => {
    const env = Object.fromEntries((c.env as Obj[]).filter((e) => 'value' in e).map((e) => [e.name, e.value]));
    expect(Object.keys(env).sort()).toEqual(['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT']);
    expect(env.KUBERNETES_SERVICE_PORT).toMatch(/^\d+$/);
  });

  it('runs the image of this version', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    expect(c.image).toBe(`switchyard:${pkg.version}`);
  });
});
