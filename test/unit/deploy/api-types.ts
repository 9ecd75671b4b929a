// Checks manifests against the Kubernetes API types that
// @kubernetes/client-node ships, as the API server's strict field validation
// would: each model class's attributeTypeMap gives its fields and their
// types, and its .d.ts which fields are required (the generated JavaScript
// does not say). An unknown field, a value of the wrong type or a missing
// required field is a problem naming its path. A type this checker does not
// know is a problem too, so that nothing passes unchecked.
import * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ts from 'typescript';

export interface Problem {
  path: string;
  message: string;
}

/** The kinds deploy/ ships, by apiVersion/kind, with their client-node model class. */
export const MODEL_OF_KIND: Readonly<Record<string, string>> = {
  'v1/ServiceAccount': 'V1ServiceAccount',
  'v1/ConfigMap': 'V1ConfigMap',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'V1ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'V1ClusterRoleBinding',
  'apps/v1/DaemonSet': 'V1DaemonSet',
};

interface Attribute {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

interface Model {
  attributes: Map<string, Attribute>;
  /** JSON names of the fields the type declares without `?`. */
  required: Set<string>;
}

const modelsDir = join(dirname(createRequire(import.meta.url).resolve('@kubernetes/client-node')), 'gen', 'models');
const models = new Map<string, Model | undefined>();

function model(name: string): Model | undefined {
  if (models.has(name)) return models.get(name);
  const cls = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => Attribute[] } | undefined>)[name];
  const map = cls?.getAttributeTypeMap?.();
  const found = map
    ? { attributes: new Map(map.map((a) => [a.baseName, a])), required: requiredFields(name, map) }
    : undefined;
  models.set(name, found);
  return found;
}

/** The fields of the class declared without a question mark in its .d.ts. */
function requiredFields(name: string, attributes: Attribute[]): Set<string> {
  const file = join(modelsDir, `${name}.d.ts`);
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const required = new Set<string>();
  source.forEachChild((node) => {
    if (!ts.isClassDeclaration(node) || node.name?.text !== name) return;
    for (const member of node.members) {
      if (!ts.isPropertyDeclaration(member) || member.questionToken) continue;
      if (member.modifiers?.some((m) => m.kind === ts.SyntaxKind.StaticKeyword)) continue;
      const prop = ts.isStringLiteral(member.name) || ts.isIdentifier(member.name) ? member.name.text : undefined;
      const attr = attributes.find((a) => a.name === prop);
      if (attr) required.add(attr.baseName);
    }
  });
  return required;
}

const ARRAY = /^Array<(.+)>$/;
const MAP = /^\{ \[key: string\]: (.+); \}$/;

const describe = (v: unknown) =>
  Array.isArray(v)
    ? 'a list'
    : v === null
      ? 'null'
      : typeof v === 'object'
        ? 'an object'
        : `${typeof v} ${JSON.stringify(v)}`;

/** Problems with `value` as a `type` (client-node's type notation) at `path`. */
export function checkValue(value: unknown, type: string, format: string, path: string): Problem[] {
  const wrong = (expected: string): Problem[] => [{ path, message: `expected ${expected}, got ${describe(value)}` }];
  const array = ARRAY.exec(type);
  if (array) {
    if (!Array.isArray(value)) return wrong('a list');
    return value.flatMap((item, i) => checkValue(item, array[1]!, '', `${path}[${i}]`));
  }
  const map = MAP.exec(type);
  if (map) {
    if (!isRecord(value)) return wrong('an object');
    return Object.entries(value).flatMap(([k, v]) => checkValue(v, map[1]!, '', `${path}.${k}`));
  }
  switch (type) {
    case 'any':
      return [];
    case 'string':
    case 'Date':
      return typeof value === 'string' ? [] : wrong('a string');
    case 'boolean':
      return typeof value === 'boolean' ? [] : wrong('true or false');
    case 'number':
      if (typeof value !== 'number') return wrong('a number');
      return format.startsWith('int') && !Number.isInteger(value) ? wrong('an integer') : [];
    case 'IntOrString':
      return typeof value === 'string' || Number.isInteger(value) ? [] : wrong('an integer or a string');
  }
  const m = model(type);
  if (!m) return [{ path, message: `the checker does not know the type ${type}` }];
  if (!isRecord(value)) return wrong(`an object (${type})`);
  const problems: Problem[] = [];
  for (const [key, v] of Object.entries(value)) {
    const attr = m.attributes.get(key);
    const at = path ? `${path}.${key}` : key;
    if (!attr) problems.push({ path: at, message: `unknown field "${key}" in ${type}` });
    else if (v !== null) problems.push(...checkValue(v, attr.type, attr.format, at));
  }
  for (const key of m.required) {
    if (value[key] === undefined || value[key] === null)
      problems.push({ path: path ? `${path}.${key}` : key, message: `missing required field "${key}" of ${type}` });
  }
  return problems;
}

/** Problems with one manifest: its kind must be one deploy/ ships, its body valid for that kind, and it must have a name. */
export function checkObject(object: unknown): Problem[] {
  if (!isRecord(object)) return [{ path: '', message: `expected an object, got ${describe(object)}` }];
  const kind = `${String(object.apiVersion)}/${String(object.kind)}`;
  const type = MODEL_OF_KIND[kind];
  if (!type)
    return [
      { path: 'kind', message: `${kind} is not a kind this checker knows (${Object.keys(MODEL_OF_KIND).join(', ')})` },
    ];
  const problems = checkValue(object, type, '', '');
  const metadata = object.metadata;
  if (!isRecord(metadata) || typeof metadata.name !== 'string' || metadata.name === '') {
    problems.push({ path: 'metadata.name', message: 'every object needs a name' });
  }
  return problems;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
