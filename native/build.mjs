/**
 * Builds the optional native addon (native/*.cc → native/build/Release/toeplitz_native.node: the GEMM and the
 * Toeplitz FFT) with node-gyp, the one npm ships. Run by `npm ci` / `npm install` (the root package's `install`
 * script) and by `npm run build:native`. It never fails the install: without a C++ compiler, or on a CPU other
 * than x86-64, it says why and the library runs its matrix products on tfjs-wasm's XNNPACK and its Toeplitz
 * products on the WebAssembly FFT instead (src/backend/native.ts).
 * TOEPLITZ_NATIVE=0 skips the build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const say = (line) => console.log(`toeplitz-lab native kernels: ${line}`);

function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  if (process.env.npm_execpath) {
    const bundled = path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(bundled)) return bundled;
  }
  return undefined;
}

function main() {
  if (process.env.TOEPLITZ_NATIVE === '0') return say('skipped (TOEPLITZ_NATIVE=0); the wasm backend keeps XNNPACK and the WebAssembly FFT');
  if (process.arch !== 'x64') return say(`not built: it is written for x86-64 (AVX2 + FMA), this is ${process.arch}; the wasm backend keeps XNNPACK and the WebAssembly FFT`);
  const gyp = nodeGyp();
  if (gyp === undefined) return say('not built: node-gyp was not found (run this through npm: npm run build:native); the wasm backend keeps XNNPACK and the WebAssembly FFT');
  const started = Date.now();
  const run = spawnSync(process.execPath, [gyp, 'rebuild', '--release'], { cwd: here, encoding: 'utf8' });
  if (run.status !== 0) {
    const lines = `${run.stdout ?? ''}\n${run.stderr ?? ''}`.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('gyp info'));
    rmSync(path.join(here, 'build'), { recursive: true, force: true }); // no half-built addon is ever loaded
    say(`not built (node-gyp failed${run.error ? `: ${run.error.message}` : ''}); the wasm backend keeps XNNPACK and the WebAssembly FFT. Last lines:`);
    for (const line of lines.slice(-6)) console.log(`  ${line}`);
    return;
  }
  say(`built native/build/Release/toeplitz_native.node in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main();
