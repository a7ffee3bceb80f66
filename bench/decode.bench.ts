/**
 * Per-token decode time against position for the three decoding paths of a causal TNN LM, side by side in one
 * run, on the small preset (4 layers, d 128, e 384) converted at n = 512:
 *   ssm         the ETSC recurrence, n = 512 complex modes per channel (the paper's form): constant work
 *   ssm-folded  the same kernel with one mode per conjugate pair (256 modes): half the state and work
 *   cache       the TNO inputs cached, y_t = Σ_s t[t − s] v_s: O(t·e) per layer and token
 *   fft         the full forward pass recomputed over the prefix: O(t log t) per token
 * The time at position p is that of a step with p tokens already consumed (min and median of `reps` steps
 * after one warm-up step; the minimum is the number least disturbed by other load on the machine). All paths
 * are measured at one position before the next. The recurrent paths step through the whole text; the cache
 * path fills its cache by one parallel prefill, and the fft path needs only the prefix. Positions past n are fine for timing (the
 * SSM is exact only below n; see src/experiments/etsc-drift.ts for what happens to its outputs there).
 * Memory: the bytes each path keeps between steps (state, cache, prefix ids), and the peak tfjs tensor bytes
 * of one step above the resident weights (tf.profile: the fft path's working memory).
 * Prints a table with ratios, the bar (ssm time not growing from 512 to 8192, faster than fft from 1024), and
 * one JSON line per measurement (appended to results/bench/decode.jsonl).
 *
 *   npm run bench:decode -- [--positions 64,128,...,8192] [--length 512] [--reps 15] [--fft-reps 2]
 */
import { parseArgs } from 'node:util';
import {
  ByteTokenizer, CacheDecoder, convert, decodeCostSweep, FftDecoder, initBackend, loadCorpus, TnnLM, tnnConfig, type BackendName, type DecodeCost,
} from '../src/index.js';
import { environment, exponentOf, record, table } from './common.js';

const { values: args } = parseArgs({
  options: {
    positions: { type: 'string', default: '64,128,256,512,1024,2048,4096,8192' },
    length: { type: 'string', default: '512' },
    reps: { type: 'string', default: '15' },
    'fft-reps': { type: 'string', default: '2' },
    backend: { type: 'string' },
  },
});
const positions = args.positions.split(',').map(Number).sort((a, b) => a - b);
const n = Number(args.length);
const reps = Number(args.reps);
const fftReps = Number(args['fft-reps']);
const last = positions[positions.length - 1];

const report = await initBackend({ backend: args.backend as BackendName | undefined });
const env = environment(report.name);
console.log(`environment: ${JSON.stringify(env)}`);

const config = tnnConfig('small', { dropout: 0 });
const model = new TnnLM(config, 0);
// Real text, so the state and cache hold realistic values; extra tokens for the timed steps past the last position.
const text = new ByteTokenizer().encode(loadCorpus('gutenberg', 'test').text).subarray(0, last + 2 * (reps + 1) + fftReps + 2);

type PathName = 'ssm' | 'ssm-folded' | 'cache' | 'fft';
const results = new Map<PathName, Map<number, DecodeCost>>();
const t0 = performance.now();
const ssm = convert(model, { length: n });
const folded = convert(model, { length: n, fold: true });
console.log(`converted ${config.layers} layers at n = ${n} in ${((performance.now() - t0) / 1000).toFixed(1)} s (${ssm.modes} modes; folded ${folded.modes})`);

// Side by side, position by position (src/eval/decode-cost.ts): the recurrent paths step through the text,
// the cache path fills its cache by one parallel prefill, the fft path takes the prefix.
const entries = [
  { name: 'ssm', decoder: ssm, reps }, { name: 'ssm-folded', decoder: folded, reps },
  { name: 'cache', decoder: new CacheDecoder(model, { length: last + 2 * reps + 8 }), reps }, { name: 'fft', decoder: new FftDecoder(model), reps: fftReps },
];
await decodeCostSweep(entries, text, positions, (row) => {
  const name = row.name as PathName;
  if (!results.has(name)) results.set(name, new Map());
  results.get(name)!.set(row.position, row);
  record('decode', {
    path: name, ...env, preset: 'small', conversion_length: n, position: row.position, ...row.timing, state_bytes: row.stateBytes, peak_tensor_bytes: row.peakBytes,
  });
});

const ms = (path: PathName, p: number) => results.get(path)!.get(p)!.timing.min_s * 1000;
const mb = (bytes: number) => (bytes / 2 ** 20).toPrecision(3);
console.log(`\nPer-token decode time (ms, min of ${reps} steps; fft min of ${fftReps}), small preset, n = ${n}, batch 1, backend ${report.name}`);
console.log(
  table(
    ['position', 'ssm', 'ssm-folded', 'cache', 'fft', 'fft/ssm', 'cache/ssm', 'cache/folded'],
    positions.map((p) => [
      p, ms('ssm', p).toFixed(2), ms('ssm-folded', p).toFixed(2), ms('cache', p).toFixed(2), ms('fft', p).toFixed(1),
      (ms('fft', p) / ms('ssm', p)).toFixed(2), (ms('cache', p) / ms('ssm', p)).toFixed(2), (ms('cache', p) / ms('ssm-folded', p)).toFixed(2),
    ]),
  ),
);
console.log('\nMemory kept between steps (MiB) and peak tfjs tensor memory of one step above the weights (MiB)');
const paths: PathName[] = ['ssm', 'ssm-folded', 'cache', 'fft'];
console.log(
  table(
    ['position', ...paths.map((q) => `${q} state`), ...paths.map((q) => `${q} peak`)],
    positions.map((p) => [p, ...paths.map((q) => mb(results.get(q)!.get(p)!.stateBytes)), ...paths.map((q) => mb(results.get(q)!.get(p)!.peakBytes))]),
  ),
);

// The bar: constant work per token from 512 on, and faster than fft recompute from 1024 on. Constant is judged by
// the fitted exponent of time against position (below 0.1; the cache path's is ~1), not by each position's time:
// with the native step (~2 ms a token), what the other paths leave in the caches moves single positions by up to
// ±30% in either direction (2026-12-07; the JavaScript step, at 7.5 ms, stayed within 3.5%). The spread is printed.
const flatRange = positions.filter((p) => p >= 512);
const reference = flatRange.length > 0 ? ms('ssm', flatRange[0]) : NaN;
const spread = Math.max(0, ...flatRange.map((p) => Math.abs(ms('ssm', p) / reference - 1)));
const growth = Number(exponentOf(new Map(flatRange.map((p) => [p, ms('ssm', p)]))));
const beatsFft = positions.filter((p) => p >= 1024).every((p) => ms('ssm', p) < ms('fft', p));
const crossover = positions.find((p) => ms('cache', p) > ms('ssm', p));
console.log(
  `\nbar: ssm per-token time constant from ${flatRange[0]} to ${last} (fitted exponent ${growth.toFixed(2)}, bar < 0.1): ${growth < 0.1 ? 'yes' : 'NO'} ` +
    `(largest deviation from its time at ${flatRange[0]}: ${(100 * spread).toFixed(1)}%)`,
);
console.log(`bar: ssm faster than fft recompute at every position ≥ 1024: ${beatsFft ? 'yes' : 'NO'}`);
console.log(`the cache path is faster than the ssm below position ${crossover ?? `> ${last}`} (it wins inside the window).`);
record('decode-summary', { ...env, conversion_length: n, flat_exponent: growth, flat_deviation: spread, flat_ok: growth < 0.1, beats_fft_from_1024: beatsFft, cache_ssm_crossover: crossover ?? null });
model.dispose();
