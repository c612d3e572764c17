#!/usr/bin/env node
/**
 * The structure of src/, checked (part of `npm run lint`; ARCHITECTURE.md, "Folders"):
 *
 * 1. Each folder imports only the folders its row in ALLOWED names. The stages — read,
 *    validate, split, upload — never import one another: what passes between them lives
 *    in model/. Pipelines wire stages; the CLI wires pipelines.
 * 2. No import cycle between files (type-only imports included; `import()` excluded, since
 *    a lazy load cannot form a cycle at start-up).
 *
 * Exit 0 when the structure holds, 1 with every violation listed otherwise.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)), 'src');

/** folder → the folders it may import (besides itself). '.' is src/ itself. */
const ALLOWED = {
  model: [],
  files: ['model'],
  read: ['model', 'files', 's3'],
  validate: ['model'],
  split: ['model', 'files'],
  upload: ['model', 'api'],
  api: ['model'],
  state: ['model', 'files', 's3'],
  s3: ['model'],
  report: ['model', 'files', 's3'],
  reconcile: ['model', 'api', 'files'],
  campaign: ['model', 'files', 'state', 's3'],
  pipeline: [
    'model',
    'files',
    'read',
    'validate',
    'split',
    'upload',
    'api',
    'state',
    'report',
    's3',
    'reconcile',
    'campaign',
  ],
  sandbox: ['model', 'api', 'files'],
  cli: [
    'model',
    'api',
    'pipeline',
    'report',
    'state',
    'sandbox',
    'read',
    'files',
    'notify',
    'telemetry',
    '.',
  ],
  telemetry: ['model'],
  notify: ['model', 'api', 'report', '.'],
  '.': [
    'model',
    'api',
    'pipeline',
    'sandbox',
    'reconcile',
    'read',
    'validate',
    'split',
    'upload',
    'state',
    'report',
    'files',
    's3',
    'cli',
  ],
};

function sources(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts'))
      out.push(path);
  }
  return out;
}

const folderOf = (file) => {
  const rel = relative(root, file).split('/');
  return rel.length === 1 ? '.' : rel[0];
};

const STATIC = /^\s*(?:import|export)\b[^'";]*?\bfrom\s*['"](\.[^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g;

const problems = [];
const graph = new Map();
for (const file of sources(root)) {
  const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const edges = [];
  for (const [re, lazy] of [
    [STATIC, false],
    [DYNAMIC, true],
  ]) {
    for (const [, spec] of code.matchAll(re)) {
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      const from = folderOf(file);
      const to = folderOf(target);
      // version.ts holds one constant every layer may name.
      const leaf = relative(root, target) === 'version.ts';
      if (from !== to && !leaf && !(ALLOWED[from] ?? []).includes(to))
        problems.push(
          `${relative(root, file)} imports ${relative(root, target)}: ${from}/ may not import ${to}/`,
        );
      if (!lazy) edges.push(target);
    }
  }
  graph.set(file, edges);
}

// Cycles: depth-first search, reporting each cycle once.
const state = new Map();
const stack = [];
const seen = new Set();
function visit(file) {
  state.set(file, 'open');
  stack.push(file);
  for (const next of graph.get(file) ?? []) {
    if (!graph.has(next)) continue;
    if (state.get(next) === 'open') {
      const cycle = stack.slice(stack.indexOf(next)).map((f) => relative(root, f));
      const key = [...cycle].sort().join(' ');
      if (!seen.has(key)) {
        seen.add(key);
        problems.push(`import cycle: ${[...cycle, cycle[0]].join(' → ')}`);
      }
    } else if (!state.has(next)) visit(next);
  }
  stack.pop();
  state.set(file, 'done');
}
for (const file of graph.keys()) if (!state.has(file)) visit(file);

if (problems.length > 0) {
  for (const p of problems) console.error(`check-imports: ${p}`);
  process.exit(1);
}
console.log(`check-imports: ${graph.size} files, folder rules and no cycles: ok`);
