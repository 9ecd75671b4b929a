// What switchyard's ClusterRole must grant, and how a DaemonSet's pods come
// to hold it: the Kubernetes source's own list of what it lists and watches
// (control/sources/kubernetes.ts watchedResources) plus events, and the chain
// DaemonSet → ServiceAccount → ClusterRoleBinding → ClusterRole. Both the
// Linux and the Windows DaemonSet are held to it (manifests.test.ts,
// windows-manifests.test.ts).
import { watchedResources } from '../../../control/sources/kubernetes.js';
import { theObject, type Manifest, type Obj } from '../../harness/deploy.js';

/** Every (group, resource, verb) a role grants, as "group/resource:verb" ("" is the core group). */
export function grantsOf(role: Obj): string[] {
  return [
    ...new Set<string>(
      (role.rules as Obj[]).flatMap((r) =>
        (r.apiGroups as string[]).flatMap((g) =>
          (r.resources as string[]).flatMap((res) => (r.verbs as string[]).map((v) => `${g}/${res}:${v}`)),
        ),
      ),
    ),
  ].sort();
}

/** "/api/v1/services" → "/services"; "/apis/discovery.k8s.io/v1/endpointslices" → "discovery.k8s.io/endpointslices". */
export function groupResource(path: string): string {
  const core = /^\/api\/v1\/([a-z]+)$/.exec(path);
  if (core) return `/${core[1]}`;
  const named = /^\/apis\/([^/]+)\/[^/]+\/([a-z]+)$/.exec(path);
  if (!named) throw new Error(`cannot read the group and resource of ${path}`);
  return `${named[1]}/${named[2]}`;
}

/** The group/resources the Kubernetes source lists and watches. */
export const watchedGroupResources = (): string[] =>
  watchedResources({ serviceProxyName: '', nodeName: 'n1' })
    .map((r) => groupResource(r.path))
    .sort();

/** What the role must grant, exactly: list and watch on every watched resource, and events in both APIs kube-proxy's role covers. */
export function neededGrants(): string[] {
  return [
    ...watchedGroupResources().flatMap((gr) => [`${gr}:list`, `${gr}:watch`]),
    ...['', 'events.k8s.io'].flatMap((g) => [`${g}/events:create`, `${g}/events:patch`]),
  ].sort();
}

export interface PodIdentity {
  serviceAccount: Obj;
  binding: Obj;
  role: Obj;
}

/**
 * The ServiceAccount a DaemonSet's pods run as, found in `rbac` (its name and
 * the DaemonSet's namespace), the one ClusterRoleBinding naming it as a
 * subject, and the ClusterRole that binding refers to. Throws, saying which
 * link is missing, when the chain does not resolve.
 */
export function podIdentity(ds: Obj, rbac: Manifest[]): PodIdentity {
  const name = ds.spec.template.spec.serviceAccountName;
  const namespace = ds.metadata.namespace;
  if (typeof name !== 'string' || name === '') throw new Error(`DaemonSet ${ds.metadata.name} names no ServiceAccount`);
  const serviceAccount = rbac
    .map((m) => m.object)
    .find((o) => o.kind === 'ServiceAccount' && o.metadata.name === name && o.metadata.namespace === namespace);
  if (!serviceAccount)
    throw new Error(`no ServiceAccount ${namespace}/${name}, which DaemonSet ${ds.metadata.name} runs as`);
  const bindings = rbac
    .map((m) => m.object)
    .filter(
      (o) =>
        o.kind === 'ClusterRoleBinding' &&
        (o.subjects as Obj[] | undefined)?.some(
          (s) => s.kind === 'ServiceAccount' && s.name === name && s.namespace === namespace,
        ),
    );
  if (bindings.length !== 1)
    throw new Error(`expected one ClusterRoleBinding of ServiceAccount ${namespace}/${name}, found ${bindings.length}`);
  const binding = bindings[0]!;
  if (binding.roleRef?.kind !== 'ClusterRole' || binding.roleRef?.apiGroup !== 'rbac.authorization.k8s.io')
    throw new Error(`ClusterRoleBinding ${binding.metadata.name} does not refer to a ClusterRole`);
  const role = theObject(rbac, 'ClusterRole', binding.roleRef.name);
  return { serviceAccount, binding, role };
}
