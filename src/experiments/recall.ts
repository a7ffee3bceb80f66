/**
 * In-context recall for the three families (TMM, TNN, transformer): multi-query associative recall (MQAR,
 * Arora et al. 2023; generator in src/data/recall.ts). Accuracy on the queried values against the number of
 * key–value pairs P and the sequence length L.
 *
 * This is the library's proxy for recall, not the paper's evidence: the TMM paper (Badger & Roland 2026)
 * reports recall through Based-style SQuAD/SWDE evaluations of FineWeb-trained models, which need those data
 * sets and models far beyond a CPU; MQAR is the synthetic task those evaluations were designed to track, and
 * it isolates the ability (retrieve a value bound to a key earlier in the context) from language modelling.
 *
 * Protocol: for each length L, each family gets one model, trained from scratch with the masked loss
 * (`trainMasked`, src/experiments/tmm-copy.ts: only the query positions are scored) on a mixture of the pair
 * counts that fit (P with 4P ≤ L, one drawn uniformly per sequence), then evaluated on `evalSequences` fresh
 * sequences per P (a separate seed). Teacher-forced argmax accuracy over the query positions; chance is 1/V,
 * and `contextChance` (≈ 1/P) is what guessing any value that occurs among the sequence's pairs scores: a
 * model has learned recall only where it beats that, not merely chance.
 * Vocabulary: 1 + K + V ids (filler, keys, values); every family at the same preset with that vocabulary
 * (TMM's context length n = L).
 *
 * quick: L = 32, P ∈ {2, 4, 8}, 40 steps (a test runs it in seconds; accuracy stays near chance).
 * full: L ∈ {64, 128}, P ∈ {4, 8, 16}, 600 steps of batch 32 — minutes per model on 2 loaded cores, still
 * short of what MQAR usually needs (thousands of steps), so it can only rank early learning.
 */
import * as aq from 'arquero';
import { RecallSampler, recallVocabSize, type RecallBatch } from '../data/recall.js';
import { saveResults } from '../io/results.js';
import type { RecallRow } from '../plot/tmm-studies.js';
import { maskedScores, studyModel, trainMasked, type StudyFamily, type StudyPreset } from './tmm-copy.js';

export interface RecallConfig {
  families: StudyFamily[];
  preset: StudyPreset;
  /** Sequence lengths L (one model per family and length). */
  lengths: number[];
  /** Pair counts P; at each L only those with 4P ≤ L are trained and evaluated. */
  pairs: number[];
  /** Keys K (ids 1..K) and values V (ids K+1..K+V). */
  keys: number;
  values: number;
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  /** Fresh sequences per pair count at evaluation. */
  evalSequences: number;
  seed: number;
}

export const RECALL_PRESETS: Record<'quick' | 'full', RecallConfig> = {
  quick: { families: ['tmm', 'tnn', 'transformer'], preset: 'tiny', lengths: [32], pairs: [2, 4, 8], keys: 32, values: 32, steps: 40, batchSize: 16, lr: 3e-3, warmupSteps: 5, evalSequences: 32, seed: 0 },
  full: { families: ['tmm', 'tnn', 'transformer'], preset: 'tiny', lengths: [64, 128], pairs: [4, 8, 16], keys: 64, values: 64, steps: 600, batchSize: 32, lr: 3e-3, warmupSteps: 50, evalSequences: 256, seed: 0 },
};

/** Batches of `sequences` in all, at most `batchSize` per batch, from one fixed-P sampler. */
function evaluationBatches(config: RecallConfig, length: number, pairs: number): RecallBatch[] {
  const sampler = new RecallSampler({ length, pairs, keys: config.keys, values: config.values, batchSize: config.batchSize, seed: config.seed + 1_000_003 * pairs + 7919 * length + 1 });
  return Array.from({ length: Math.ceil(config.evalSequences / config.batchSize) }, () => sampler.next());
}

/**
 * The accuracy of guessing, at each query, one of the distinct values of its sequence's pairs uniformly: what a
 * model that knows "the answer is a value from the context" but not which one scores (≈ 1/P).
 */
export function contextChance(batches: readonly RecallBatch[]): number {
  let total = 0;
  let queries = 0;
  for (const batch of batches) {
    for (let b = 0; b < batch.batchSize; b++) {
      const row = batch.inputs.subarray(b * batch.length, (b + 1) * batch.length);
      const P = batch.pairs[b];
      const distinct = new Set(Array.from({ length: P }, (_, i) => row[2 * i + 1])).size;
      total += P / distinct; // P queries, each right with probability 1/distinct
      queries += P;
    }
  }
  return total / queries;
}

/**
 * Accuracy per family, length and pair count (see the header). Needs `await initBackend()`.
 * @param outDir when given, writes recall.csv and recall.json (config + rows) there
 */
export async function runRecall(config: RecallConfig, outDir?: string, log: (line: string) => void = () => {}): Promise<aq.ColumnTable> {
  const vocab = recallVocabSize(config);
  const rows: RecallRow[] = [];
  for (const length of config.lengths) {
    const fitting = config.pairs.filter((p) => 4 * p <= length && p <= config.keys);
    if (fitting.length === 0) throw new Error(`Error in runRecall: no pair count in [${config.pairs}] fits length ${length} (needs 4P ≤ L and P ≤ keys).`);
    const held = new Map(fitting.map((p) => [p, evaluationBatches(config, length, p)]));
    for (const family of config.families) {
      const model = studyModel(family, config.preset, length, vocab, config.seed);
      const sampler = new RecallSampler({ length, pairs: fitting, keys: config.keys, values: config.values, batchSize: config.batchSize, seed: config.seed });
      const started = performance.now();
      const losses = trainMasked(model, () => sampler.next(), { steps: config.steps, lr: config.lr, warmupSteps: config.warmupSteps, clip: 1, weightDecay: 0.01, seed: config.seed });
      const seconds = (performance.now() - started) / 1000;
      const tail = losses.slice(-Math.max(1, Math.ceil(losses.length / 10)));
      const trainLoss = tail.reduce((a, b) => a + b, 0) / tail.length;
      for (const pairs of fitting) {
        const scored = maskedScores(model, held.get(pairs)!);
        rows.push({
          family, preset: config.preset, params: model.parameterCount(), length, pairs, accuracy: scored.accuracy, nll: scored.nll, queries: scored.tokens,
          chance: 1 / config.values, contextChance: contextChance(held.get(pairs)!), steps: config.steps, trainLoss, seconds,
        });
        log(`recall ${family} L=${length} P=${pairs}: accuracy ${scored.accuracy.toFixed(3)} (chance ${(1 / config.values).toFixed(3)}), ${seconds.toFixed(1)} s`);
      }
      model.dispose();
    }
  }
  return outDir === undefined ? aq.from(rows) : saveResults(outDir, 'recall', config, rows);
}
