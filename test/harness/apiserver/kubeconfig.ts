// A kubeconfig pointing at the test API server: plain http, no credentials.
// client-node's KubeConfig.loadFromString() and a daemon's --kubeconfig both
// read it.

import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

export interface KubeconfigOptions {
  /** Also write the YAML here (mode 0600, as kubectl writes it). */
  file?: string;
  /** The context's namespace; "default" when unset. */
  namespace?: string;
}

export function kubeconfigObject(url: string, opts: Pick<KubeconfigOptions, 'namespace'> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    // client-node v2 refuses a plain http server unless TLS verification is
    // off, although there is no TLS to verify.
    clusters: [{ name: 'switchyard-test', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'switchyard-test', user: {} }],
    contexts: [
      {
        name: 'switchyard-test',
        context: { cluster: 'switchyard-test', user: 'switchyard-test', namespace: opts.namespace ?? 'default' },
      },
    ],
    'current-context': 'switchyard-test',
    preferences: {},
  };
}

/** The kubeconfig as YAML; written to `opts.file` too when given. */
export function kubeconfigFor(url: string, opts: KubeconfigOptions = {}): string {
  const yaml = stringify(kubeconfigObject(url, opts));
  if (opts.file !== undefined) writeFileSync(opts.file, yaml, { mode: 0o600 });
  return yaml;
}
