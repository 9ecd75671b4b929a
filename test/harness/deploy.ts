// The deployment manifests (deploy/*.yaml, and deploy/windows/*.yaml for
// Windows nodes) as tests read them: every document of every file of one
// folder in apply order, parsed as YAML 1.1 as kubectl's go-yaml reads it
// (yes/no are booleans there), and the pieces the tests look at: the objects
// by kind, the DaemonSet's container, and the KubeProxyConfiguration the
// ConfigMap holds with the path the daemon reads it from.
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './paths.js';

export const deployDir = join(repoRoot, 'deploy');
/** The Windows nodes' DaemonSet and ConfigMap (they run as deploy/'s ServiceAccount), and their image's Dockerfile. */
export const windowsDeployDir = join(deployDir, 'windows');

// The manifests are plain data: `any` keeps the tests that read them short.
export type Obj = any;

export interface Manifest {
  /** File name in its folder (deploy/ or deploy/windows/), and the document's index in it. */
  file: string;
  index: number;
  object: Obj;
}

/** Every document of every .yaml file of `dir`, in the order `kubectl apply -f <dir>` applies them (not recursive). */
export function readManifests(dir = deployDir): Manifest[] {
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  return files.flatMap((file) => {
    const docs = parseAllDocuments(readFileSync(join(dir, file), 'utf8'), { version: '1.1' });
    const list = Array.isArray(docs) ? docs : [docs];
    return list.flatMap((doc, index) => {
      if (doc.errors[0]) throw new Error(`${file} document ${index}: ${doc.errors[0].message}`);
      const object = doc.toJS() as Obj;
      return object === null || object === undefined ? [] : [{ file, index, object }];
    });
  });
}

/** The one object of `kind` (and `name`, if given); throws when there is none or several. */
export function theObject(manifests: Manifest[], kind: string, name?: string): Obj {
  const hits = manifests.filter(
    (m) => m.object.kind === kind && (name === undefined || m.object.metadata?.name === name),
  );
  if (hits.length !== 1)
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''} in the manifests, found ${hits.length}`);
  return hits[0]!.object;
}

/** The DaemonSet's switchyard container. */
export function daemonContainer(manifests: Manifest[]): Obj {
  const ds = theObject(manifests, 'DaemonSet');
  const c = (ds.spec.template.spec.containers as Obj[]).find((x) => x.name === 'switchyard');
  if (!c) throw new Error('the DaemonSet has no container named switchyard');
  return c;
}

/** The value of `--name=value` in the container's args, if given. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  const arg = args.find((a) => a.startsWith(`--${name}=`));
  return arg?.slice(name.length + 3);
}

export interface ShippedConfig {
  /** The KubeProxyConfiguration text, as the ConfigMap holds it. */
  text: string;
  /** Where the DaemonSet's --config points. */
  path: string;
}

/**
 * The KubeProxyConfiguration the daemon reads: the file --config names, which
 * must be a key of the ConfigMap mounted at its folder. Throws when the
 * DaemonSet and the ConfigMap do not line up.
 */
export function shippedConfig(manifests: Manifest[]): ShippedConfig {
  const ds = theObject(manifests, 'DaemonSet');
  const c = daemonContainer(manifests);
  const path = flagValue(c.args ?? [], 'config');
  if (!path) throw new Error('the DaemonSet does not pass --config');
  const mount = (c.volumeMounts as Obj[]).find((m) => m.mountPath === posix.dirname(path));
  if (!mount) throw new Error(`nothing is mounted at ${posix.dirname(path)}, the folder of --config=${path}`);
  const volume = (ds.spec.template.spec.volumes as Obj[]).find((v) => v.name === mount.name);
  const configMapName = volume?.configMap?.name;
  if (!configMapName) throw new Error(`volume ${mount.name} at ${mount.mountPath} is not a ConfigMap`);
  const cm = theObject(manifests, 'ConfigMap', configMapName);
  const text = cm.data?.[posix.basename(path)];
  if (typeof text !== 'string')
    throw new Error(`ConfigMap ${configMapName} has no key ${posix.basename(path)} for --config=${path}`);
  return { text, path };
}
