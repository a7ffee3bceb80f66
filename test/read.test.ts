/**
 * Reading tensors back (src/ops/read.ts): readTidy and readAllTidy return the values and leave no tensor behind,
 * and no tf.tidy in src/ or the notebooks returns an array read back from a tensor, which tidy would walk element
 * by element (a source scan with the TypeScript parser, itself checked on a fixture that has each form).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import ts from 'typescript';
import { initBackend } from '../src/backend/select.js';
import { readAllTidy, readTidy } from '../src/ops/read.js';

before(async () => {
  await initBackend({ quiet: true });
});

test('readTidy returns the values of the tensor its function returns and disposes every tensor made', () => {
  const x = tf.tensor2d([1, -2, 3, 4.5, 0, -6], [2, 3]);
  const tensors = tf.memory().numTensors;
  const got = readTidy(() => x.mul(2).add(1)); // two tensors made, one returned
  assert.deepEqual(Array.from(got), [3, -3, 7, 10, 1, -11]);
  assert.ok(got instanceof Float32Array);
  assert.equal(tf.memory().numTensors, tensors);
  x.dispose();
});

test('readAllTidy returns each tensor in order and disposes all of them', () => {
  const tensors = tf.memory().numTensors;
  const [a, b] = readAllTidy(() => {
    const x = tf.tensor1d([1, 2, 3]);
    return [x.square(), x.neg().sum().reshape([1])];
  });
  assert.deepEqual(Array.from(a), [1, 4, 9]);
  assert.deepEqual(Array.from(b), [-6]);
  assert.equal(tf.memory().numTensors, tensors);
});

test('readTidy refuses a tensor that is not float32, naming its dtype, and still disposes it', () => {
  const tensors = tf.memory().numTensors;
  assert.throws(() => readTidy(() => tf.tensor1d([1, 2], 'int32')), /tensor 0 must be float32, but is int32; cast it inside the function/);
  assert.equal(tf.memory().numTensors, tensors);
});

/** `tf.tidy(...)` calls in `text` whose function returns a value read back from a tensor, as "line: text". */
function tidyReadBacks(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const readBack = (e: ts.Expression): boolean => {
    while (ts.isAsExpression(e) || ts.isParenthesizedExpression(e) || ts.isNonNullExpression(e)) e = e.expression;
    if (ts.isArrayLiteralExpression(e)) return e.elements.some((el) => !ts.isSpreadElement(el) && readBack(el));
    if (ts.isObjectLiteralExpression(e)) return e.properties.some((p) => ts.isPropertyAssignment(p) && readBack(p.initializer));
    if (!ts.isCallExpression(e)) return false;
    const callee = e.expression;
    if (ts.isPropertyAccessExpression(callee) && ['dataSync', 'arraySync'].includes(callee.name.text)) return true;
    // Float32Array.from(t.dataSync()), Array.from(...): a copy of a read-back array is walked the same way.
    return ts.isPropertyAccessExpression(callee) && callee.name.text === 'from' && e.arguments.some(readBack);
  };
  const returned = (body: ts.ConciseBody): ts.Expression[] => {
    if (!ts.isBlock(body)) return [body];
    const out: ts.Expression[] = [];
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node)) return; // a nested function's returns are not the tidy's
      if (ts.isReturnStatement(node) && node.expression) out.push(node.expression);
      ts.forEachChild(node, visit);
    };
    ts.forEachChild(body, visit);
    return out;
  };
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && node.expression.getText(source) === 'tf.tidy') {
      const fn = node.arguments[node.arguments.length - 1];
      if (fn && (ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) && returned(fn.body).some(readBack)) {
        found.push(`${file}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}: ${node.getText(source).split('\n')[0]}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

test('the scan finds a tf.tidy returning dataSync, arraySync, a copy of one, or one inside an array or object', () => {
  const fixture = [
    'const a = tf.tidy(() => x.mul(2).dataSync() as Float32Array);',
    'const b = tf.tidy(() => { const y = x.mul(2); return y.arraySync(); });',
    'const c = tf.tidy(() => ({ values: x.dataSync(), n: 3 }));',
    'const d = tf.tidy(() => [x.dataSync()[0], Uint8Array.from(x.dataSync())]);',
    'const ok1 = tf.tidy(() => x.sum().dataSync()[0]);',
    'const ok2 = tf.tidy(() => { const f = () => x.dataSync(); return x.mul(f()[0]); });',
    'const ok3 = tf.tidy(() => x.mul(2));',
  ].join('\n');
  assert.deepEqual(tidyReadBacks('fixture.ts', fixture).map((line) => line.split(':')[1]), ['1', '2', '3', '4']);
});

test('no tf.tidy in src/ or the notebooks returns an array read back from a tensor (readTidy reads after the tidy)', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? files(full) : entry.name.endsWith('.ts') ? [full] : [];
    });
  const found = [...files('src'), ...files('notebooks')].flatMap((file) => tidyReadBacks(file, readFileSync(file, 'utf8')));
  assert.deepEqual(found, [], `tf.tidy walks a returned array element by element (300 ms for 524,288 floats); use readTidy:\n${found.join('\n')}`);
});
