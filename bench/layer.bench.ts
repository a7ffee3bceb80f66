/**
 * Benchmark of one model layer, forward + backward (gradients for the input and every parameter), d = 512:
 *   ours TNN     the paper's block: pre-norm GTU (expand 3, RPE 64×6, λ 0.99) + GLU, causal
 *   ours attn    our transformer block of the same width (8 heads, FFN 2048, causal): quadratic in n
 *   torch TNN    the PyTorch peer's TnnLayer (../shared/peers/torch_tnn_peer.py, its layer_s column), at 2 and at 1
 *                thread; the ratio is taken against the faster
 * all measured in one run, with the peak tfjs tensor memory of one step (tf.profile). Prints a table with ratios,
 * fitted exponents, and one JSON line per measurement (also appended to results/bench/layer.jsonl). Every line
 * carries the setting (d, batch, backend, versions, machine) so that figures never mix runs. The transformer is
 * tried at every length (up to --attn-max) until one fails: that length is recorded with `status: 'out of
 * memory'` (or 'failed') and the error, so the figure marks where the transformer stops, and the longer ones
 * are not tried (a failed wasm allocation can leave the heap unusable).
 *
 *   npm run bench:layer -- [--lens 512,...,16384] [--reps 2] [--attn-max 16384] [--no-torch]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, Seeds, TnnBlock, tnnConfig, TransformerBlock, transformerConfig, type BackendName } from '../src/index.js';
import { blockStep } from '../src/eval/cost.js';
import { environment, exponentOf, failure, record, table, time, torchPeer, type PeerTime, type Timing } from './common.js';

const { values: args } = parseArgs({
  options: {
    lens: { type: 'string', default: '512,1024,2048,4096,8192,16384' },
    reps: { type: 'string', default: '2' },
    'attn-max': { type: 'string', default: String(Number.MAX_SAFE_INTEGER) }, // default: until out of memory
    'no-torch': { type: 'boolean', default: false },
    backend: { type: 'string' },
    peer: { type: 'string', default: path.join('..', 'shared', 'peers') },
  },
});
const lens = args.lens.split(',').map(Number);
const reps = Number(args.reps);
const attnMax = Number(args['attn-max']);
const d = 512;

const report = await initBackend({ backend: args.backend as BackendName | undefined });
const env = environment(report.name);
console.log(`environment: ${JSON.stringify(env)}`);

const tnn = new TnnBlock(tnnConfig('paper-wikitext103', { dropout: 0 }), true, new Seeds(0));
const attn = new TransformerBlock(transformerConfig('paper-wikitext103', { dropout: 0 }), true, new Seeds(1));

const ours = new Map<number, Timing>();
const ourAttn = new Map<number, Timing>();
const failed = new Map<string, { n: number; status: string }>();
const setting = { ...env, d, batch: 1 };

/** Times one block at each length until one fails; records each measurement, and the failure with its error. */
async function sweep(impl: 'tnn' | 'attention', block: TnnBlock | TransformerBlock, lengths: number[], into: Map<number, Timing>, build: Record<string, unknown> = {}): Promise<void> {
  for (const n of lengths) {
    const x = tf.variable(tf.randomNormal([1, n, d]), true);
    try {
      const step = blockStep(block, x);
      into.set(n, time(step, reps));
      record('layer', { impl, ...setting, ...build, n, ...into.get(n), peakBytes: (await tf.profile(step)).peakBytes });
    } catch (err) {
      const f = failure(err);
      failed.set(impl, { n, status: f.status });
      record('layer', { impl, ...setting, ...build, n, ...f });
      console.log(`${impl} at n = ${n}: ${f.status} (${f.error}); longer lengths not tried`);
      return;
    } finally {
      try {
        x.dispose();
      } catch {
        // the heap may be unusable after a failed allocation; nothing else runs in it but the next sweep
      }
    }
  }
}
// All TNN lengths first: the transformer's large score blocks fragment the wasm heap for what follows.
await sweep('tnn', tnn, lens, ours);
await sweep('attention', attn, lens.filter((m) => m <= attnMax), ourAttn, { heads: 8 });
const torch = args['no-torch'] ? new Map<number, PeerTime>() : torchPeer('layer', 'layer', args.peer, lens, d, reps, setting);

const fmt = (v: number | undefined, impl?: string, n?: number) => {
  const f = impl === undefined ? undefined : failed.get(impl);
  return v !== undefined ? v.toFixed(3) : f && f.n === n ? f.status : '—';
};
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? '—' : (a / b).toFixed(2));
console.log(`\nOne layer, forward + backward, batch 1, d ${d}, backend ${report.name} (min of ${reps}, seconds)`);
console.log(
  table(
    ['n', 'ours TNN', 'ours attn', 'attn/TNN', 'torch TNN (best)', 'threads', 'ours/torch'],
    lens.map((n) => {
      const o = ours.get(n)?.min_s;
      const a = ourAttn.get(n)?.min_s;
      const p = torch.get(n);
      return [n, fmt(o, 'tnn', n), fmt(a, 'attention', n), ratio(a, o), fmt(p?.seconds), p?.threads ?? '—', ratio(o, p?.seconds)];
    }),
  ),
);
console.log(`fitted exponent p in t ∝ n^p: ours TNN ${exponentOf(ours)}, ours attention ${exponentOf(ourAttn)}, torch TNN ${exponentOf(torch)}`);
if (torch.size > 0) {
  const worst = Math.max(...lens.filter((n) => torch.has(n) && ours.has(n)).map((n) => ours.get(n)!.min_s / torch.get(n)!.seconds));
  console.log(`torch bar: worst ours/torch (torch at its faster thread count) = ${worst.toFixed(2)} (bar ≤ 1.0) ${worst <= 1 ? 'PASS' : 'FAIL'}`);
}
const longer = lens.filter((n) => n >= 4096 && ourAttn.has(n) && ours.has(n));
if (longer.length > 0) {
  const ok = longer.every((n) => ours.get(n)!.min_s < ourAttn.get(n)!.min_s);
  console.log(`attention bar: TNN faster than our transformer at n ≥ 4096 (${longer.join(', ')}) ${ok ? 'PASS' : 'FAIL'}`);
}
