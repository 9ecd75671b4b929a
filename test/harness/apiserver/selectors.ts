// Label and field selectors as the real apiserver parses them, enough for
// what kube-proxy and our sources send:
//
//   labelSelector=!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name
//   fieldSelector=metadata.name=node-1
//
// Label requirements: `key`, `!key`, `key=v`, `key==v`, `key!=v`,
// `key in (a,b)`, `key notin (a,b)`; comma-separated, all must hold. As in
// Kubernetes, `!=` and `notin` also match objects that lack the label.
// Field requirements: metadata.name and metadata.namespace with =, == or !=.

import { badRequest } from './status.js';

/** What a selector looks at; every stored object provides it. */
export interface Selectable {
  name: string;
  /** "" for cluster-scoped objects. */
  namespace: string;
  labels: Readonly<Record<string, string>> | undefined;
}

export type Selector = (obj: Selectable) => boolean;

export const everything: Selector = () => true;

/** Splits on commas that are not inside `( )`, so `k in (a,b),x` is two requirements. */
function splitRequirements(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  out.push(selector.slice(start));
  return out.map((r) => r.trim()).filter((r) => r !== '');
}

type LabelTest = (labels: Readonly<Record<string, string>>) => boolean;

function parseLabelRequirement(req: string): LabelTest {
  const setMatch = /^(\S+)\s+(in|notin)\s+\((.*)\)$/.exec(req);
  if (setMatch !== null) {
    const [, key = '', op, list = ''] = setMatch;
    const values = new Set(list.split(',').map((v) => v.trim()));
    return op === 'in'
      ? (labels) => Object.hasOwn(labels, key) && values.has(labels[key] ?? '')
      : (labels) => !Object.hasOwn(labels, key) || !values.has(labels[key] ?? '');
  }
  const opMatch = /^([^=!\s]+)\s*(!=|==|=)\s*(.*)$/.exec(req);
  if (opMatch !== null) {
    const [, key = '', op, value = ''] = opMatch;
    return op === '!='
      ? (labels) => labels[key] !== value || !Object.hasOwn(labels, key)
      : (labels) => Object.hasOwn(labels, key) && labels[key] === value;
  }
  if (req.startsWith('!')) {
    const key = req.slice(1).trim();
    if (key === '' || /\s/.test(key)) throw badRequest(`unable to parse requirement: ${req}`);
    return (labels) => !Object.hasOwn(labels, key);
  }
  if (/^[^\s=!(),]+$/.test(req)) return (labels) => Object.hasOwn(labels, req);
  throw badRequest(`unable to parse requirement: ${req}`);
}

/** Parses a labelSelector; throws a 400 ApiError on syntax the server would reject. */
export function parseLabelSelector(selector: string | null | undefined): Selector {
  if (selector == null || selector.trim() === '') return everything;
  const tests = splitRequirements(selector).map(parseLabelRequirement);
  const empty: Readonly<Record<string, string>> = {};
  return (obj) => {
    const labels = obj.labels ?? empty;
    return tests.every((t) => t(labels));
  };
}

const FIELDS: Readonly<Record<string, (obj: Selectable) => string>> = {
  'metadata.name': (obj) => obj.name,
  'metadata.namespace': (obj) => obj.namespace,
};

/** Parses a fieldSelector; unknown fields are a 400, as on the real server. */
export function parseFieldSelector(selector: string | null | undefined): Selector {
  if (selector == null || selector.trim() === '') return everything;
  const tests = splitRequirements(selector).map((req): Selector => {
    const m = /^([^=!\s]+)\s*(!=|==|=)\s*(.*)$/.exec(req);
    if (m === null) throw badRequest(`invalid selector: '${selector}'; can't understand '${req}'`);
    const [, field = '', op, value = ''] = m;
    const get = FIELDS[field];
    if (get === undefined) throw badRequest(`field label not supported: ${field}`);
    return op === '!=' ? (obj) => get(obj) !== value : (obj) => get(obj) === value;
  });
  return (obj) => tests.every((t) => t(obj));
}

export function bothSelectors(a: Selector, b: Selector): Selector {
  if (a === everything) return b;
  if (b === everything) return a;
  return (obj) => a(obj) && b(obj);
}
