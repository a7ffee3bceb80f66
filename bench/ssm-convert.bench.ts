/**
 * Benchmark of the ETSC conversion (src/ops/ssm.ts) and the decoding step:
 *   - the inverse DFT of size m = n + 1 in float64 of two channels at once (x = u + i v), Bluestein (what
 *     etscConvert uses for m > 48, one per channel pair) against the direct O(m²) sum, and PFFFT's float32 real
 *     FFT of one channel, of the nearest supported size, as a floor;
 *   - etscConvert of `--channels` channels;
 *   - ssmStep per token (all channels, n modes, or ⌈n/2⌉ folded), the constant-time decoding loop.
 * Prints a table and one JSON line per n (appended to results/bench/ssm-convert.jsonl).
 *
 *   npm run bench:ssm -- [--lens 512,1024,2048,4096,8192] [--channels 64] [--reps 5]
 */
import { parseArgs } from 'node:util';
import { createSsmState, etscConvert, initBackend, ssmStep } from '../src/index.js';
import { convolutionSize } from '../src/internal.js';
import { fftPlan } from '../src/ops/fft.js';
import { dft64 } from '../src/ops/ssm-dft.js';
import { environment, exponentOf, record, table, time, type Timing } from './common.js';

const { values: args } = parseArgs({
  options: {
    lens: { type: 'string', default: '512,1024,2048,4096,8192' },
    channels: { type: 'string', default: '64' },
    reps: { type: 'string', default: '5' },
  },
});
const lens = args.lens.split(',').map(Number);
const channels = Number(args.channels);
const reps = Number(args.reps);

async function main(): Promise<void> {
  const report = await initBackend({ quiet: true });
  console.log(JSON.stringify(environment(report.tfBackend)));
  const rows: Array<Array<string | number>> = [];
  // V8 optimises a function after some dozens of calls: run both DFTs that often first, or the first n measures the
  // interpreter (Bluestein at n = 512 read 1.8 ms before this warm-up, 0.2 ms at n = 1024).
  const warm = Float64Array.from({ length: 257 }, (_, j) => Math.sin(j));
  const [warmRe, warmIm] = [new Float64Array(257), new Float64Array(257)];
  for (let i = 0; i < 50; i++) for (const method of ['bluestein', 'direct'] as const) dft64(257, 1, method).transform(warm, warm, warmRe, warmIm);
  const series = { bluestein: new Map<number, Timing>(), direct: new Map<number, Timing>(), convert: new Map<number, Timing>(), step: new Map<number, Timing>() };
  for (const n of lens) {
    const m = n + 1;
    const x = Float64Array.from({ length: m }, (_, j) => Math.sin(j) + 0.1 * j / m);
    const y = Float64Array.from({ length: m }, (_, j) => Math.cos(3 * j) - 0.2 * j / m);
    const out = [new Float64Array(m), new Float64Array(m)] as const;
    const bluestein = time(() => dft64(m, 1, 'bluestein').transform(x, y, out[0], out[1]), reps);
    const direct = time(() => dft64(m, 1, 'direct').transform(x, y, out[0], out[1]), Math.max(1, Math.min(reps, 3)));
    const plan = fftPlan(convolutionSize(Math.ceil(m / 2))); // a PFFFT real transform of size ≥ m
    const [input, output] = plan.buffers(2);
    const pffft = time(() => plan.forward(input, output), reps);
    const t = Float32Array.from({ length: n * channels }, (_, i) => Math.cos(i * 0.37));
    const gamma = Float64Array.of(0.99);
    const convert = time(() => etscConvert(t, n, channels, gamma), Math.max(1, Math.min(reps, 3)));
    const ssm = etscConvert(t, n, channels, gamma);
    const state = createSsmState(ssm);
    const xt = new Float64Array(channels).fill(0.5);
    const yt = new Float64Array(channels);
    const step = time(() => { for (let i = 0; i < 10; i++) ssmStep(ssm, state, xt, yt); }, reps);
    const folded = etscConvert(t, n, channels, gamma, { fold: true });
    const foldedState = createSsmState(folded);
    const stepFolded = time(() => { for (let i = 0; i < 10; i++) ssmStep(folded, foldedState, xt, yt); }, reps);
    series.bluestein.set(n, bluestein);
    series.direct.set(n, direct);
    series.convert.set(n, convert);
    series.step.set(n, step);
    const ms = (s: number): string => (s * 1e3).toFixed(3);
    rows.push([n, ms(bluestein.min_s), ms(direct.min_s), (direct.min_s / bluestein.min_s).toFixed(1), ms(pffft.min_s), ms(convert.min_s), ms(step.min_s / 10), ms(stepFolded.min_s / 10)]);
    record('ssm-convert', {
      n, channels, bluestein_s: bluestein.min_s, direct_s: direct.min_s, pffft_float32_s: pffft.min_s, pffft_size: plan.size,
      convert_s: convert.min_s, step_s: step.min_s / 10, step_folded_s: stepFolded.min_s / 10,
    });
  }
  console.log(table(
    ['n', 'Bluestein ms', 'direct ms', 'direct/Bl.', 'PFFFT f32 ms', `convert ${channels}ch ms`, 'step ms/token', 'folded ms/token'], rows,
  ));
  console.log(`exponents: Bluestein ${exponentOf(series.bluestein)}, direct ${exponentOf(series.direct)}, convert ${exponentOf(series.convert)}, step ${exponentOf(series.step)}`);
}

void main();
