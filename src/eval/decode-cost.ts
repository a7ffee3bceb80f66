/**
 * Per-token decoding cost against position (ETSC, Qin & Zhong 2023): what `npm run bench:decode` and the
 * constant-time-inference notebook measure. The cost at position p is that of one `step` with p tokens already
 * consumed, batch 1: min and median over `reps` steps after one warm-up step. Also the bytes the decoder keeps
 * between steps at p, and the peak tfjs tensor bytes of one step above what was allocated before it (the
 * recompute path's working memory).
 * A recurrent decoder (path 'ssm') reaches p by stepping through the text (it has no parallel prefill that
 * ends in its state); the others by `reset` + `prefill` of the p-token prefix.
 */
import * as tf from '@tensorflow/tfjs';
import type { Decoder } from '../decode/decoder.js';
import { timeIt, type Timing } from './cost.js';

export interface DecodeCost {
  /** The decoder's name in the sweep (e.g. 'ssm', 'ssm-folded', 'cache', 'fft'). */
  name: string;
  position: number;
  timing: Timing;
  /** Bytes kept between steps at this position (state, cache or prefix ids). */
  stateBytes: number;
  /** Peak tensor bytes of one step above those allocated before it. */
  peakBytes: number;
}

export interface DecodeCostEntry {
  name: string;
  decoder: Decoder;
  /** Timed steps per position (a slow path may take fewer). */
  reps: number;
}

/** Brings `decoder` (batch 1) to `position` tokens of `text`. */
function advance(decoder: Decoder, text: Int32Array, position: number): void {
  if (decoder.path === 'ssm') {
    if (decoder.batch !== 1 || decoder.position > position) decoder.reset(1);
    while (decoder.position < position) decoder.step(text.subarray(decoder.position, decoder.position + 1));
  } else {
    decoder.reset(1);
    if (position > 0) decoder.prefill(text.subarray(0, position), position);
  }
}

/**
 * Every decoder at every position, side by side (all decoders at one position before the next, so the
 * machine's load falls on all alike). `text` must hold the last position plus 2·(max reps + 1) tokens.
 * @param onRow called with each measurement as it is made (progress, JSON lines)
 */
export async function decodeCostSweep(
  entries: readonly DecodeCostEntry[], text: Int32Array, positions: readonly number[], onRow: (row: DecodeCost) => void = () => {},
): Promise<DecodeCost[]> {
  const sorted = [...positions].sort((a, b) => a - b);
  const needed = sorted[sorted.length - 1] + 2 * (Math.max(...entries.map((e) => e.reps)) + 1);
  if (text.length < needed) throw new Error(`Error in decodeCostSweep: text has ${text.length} tokens; positions up to ${sorted[sorted.length - 1]} need ${needed}.`);
  const rows: DecodeCost[] = [];
  for (const position of sorted) {
    for (const { name, decoder, reps } of entries) {
      advance(decoder, text, position);
      const feed = () => { decoder.step(text.subarray(decoder.position, decoder.position + 1)); };
      const stateBytes = decoder.stateBytes();
      const timing = timeIt(feed, reps);
      const before = tf.memory().numBytes;
      const peakBytes = (await tf.profile(feed)).peakBytes - before;
      const row = { name, position, timing, stateBytes, peakBytes };
      rows.push(row);
      onRow(row);
    }
  }
  return rows;
}
