/**
 * The layering of src/ (../shared/DESIGN.md, rules in .dependency-cruiser.cjs): no import runs upward, no cycle,
 * and the core (ops, layers, models, decode, train, eval, figure builders) imports no Node built-in, checked
 * both by the rules and by bundling the core for the browser with esbuild. Each check is also run on a small
 * fixture that breaks it, so a rule that stopped matching would fail here.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const root = process.cwd();
const config = path.join(root, '.dependency-cruiser.cjs');
const depcruise = path.join(root, 'node_modules', '.bin', 'depcruise');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

/** The rule violations dependency-cruiser finds under `cwd`/src with the project's rules. */
async function violations(cwd: string): Promise<Violation[]> {
  const { stdout } = await promisify(execFile)(depcruise, ['src', '--config', config, '--output-type', 'json'], { cwd, maxBuffer: 64 << 20 })
    .catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' })); // exits non-zero when it finds violations
  return (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

const show = (vs: Violation[]): string => vs.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).join('\n');

test('no import in src/ runs upward, none forms a cycle, and the core imports no Node built-in', async () => {
  const found = await violations(root);
  assert.deepEqual(found, [], `dependency rules broken (.dependency-cruiser.cjs):\n${show(found)}`);
});

test('the rules catch an upward import, a cycle and a Node import in the core, naming both files', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layering-'));
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  };
  write('src/ops/up.ts', "import { x } from '../layers/x.js';\nexport const y = x;\n");
  write('src/layers/x.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n");
  write('src/models/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n");
  write('src/models/b.ts', "import { a } from './a.js';\nexport const b = () => a;\n");
  write('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }));
  const text = show(await violations(dir));
  assert.match(text, /no-upward-import-from-ops: src\/ops\/up\.ts → src\/layers\/x\.ts/);
  assert.match(text, /core-imports-no-node-builtin: src\/layers\/x\.ts → (node:)?fs/);
  assert.match(text, /no-circular: src\/models\/a\.ts → src\/models\/b\.ts/);
});

/** The core's files: every .ts under the core folders but the edges, as the rules define them. */
function coreFiles(): string[] {
  const rules = (createRequire(import.meta.url)(config) as { forbidden: Array<{ name: string; from: { path: string; pathNot?: string } }> }).forbidden;
  const rule = rules.find((r) => r.name === 'core-imports-no-node-builtin')!;
  const core = new RegExp(rule.from.path);
  const edge = new RegExp(rule.from.pathNot!);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (file.endsWith('.ts') && core.test(file) && !edge.test(file)) files.push(file);
    }
  };
  walk('src');
  return files;
}

/** Bundles `entries` for the browser; returns esbuild's error messages (empty: it bundled). */
async function browserBundleErrors(entries: string[]): Promise<string[]> {
  try {
    await build({ entryPoints: entries, bundle: true, platform: 'browser', format: 'esm', write: false, outdir: 'out', logLevel: 'silent' });
    return [];
  } catch (err) {
    return (err as { errors: Array<{ text: string; location: { file: string } | null }> }).errors
      .map((e) => `${e.location?.file ?? '?'}: ${e.text}`);
  }
}

test('the core bundles for the browser (esbuild, platform browser): no Node built-in anywhere below it', async () => {
  const files = coreFiles();
  assert.ok(files.length > 40 && files.includes('src/ops/toeplitz.ts') && files.includes('src/train/trainer.ts'), files.join(', '));
  assert.ok(!files.includes('src/train/run-folder.ts') && !files.includes('src/plot/export.ts'));
  const errors = await browserBundleErrors(files);
  assert.deepEqual(errors, [], errors.join('\n'));
});

test('the browser bundle check fails on a core file that imports a Node built-in', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bundle-'));
  const file = path.join(dir, 'core.ts');
  writeFileSync(file, "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n");
  const errors = await browserBundleErrors([file]);
  assert.match(errors.join('\n'), /core\.ts: Could not resolve "node:fs"/);
});
