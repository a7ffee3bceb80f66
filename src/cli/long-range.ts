/**
 * `long-range`: the long-range experiment from the command line (src/experiments/long-range.ts): TNN and
 * transformer encoders on ListOps, IMDB, (permuted, Fashion-) MNIST and Pathfinder, and masked-LM pretraining
 * on IMDB, in the full preset or with `--quick`, on all tasks or those `--tasks` names; one progress line per
 * fifth of a run. Writes long-range.{csv,json} to `--out`: by default data/results/long-range, the committed
 * results notebook 10 reads, or with --quick results/long-range-quick (a quick run never replaces them). The
 * JSON gets a `run` entry beside `config` and `rows`: the preset, the wall seconds and the finishing time.
 * main.ts adds it with `program.addCommand(longRangeCommand())`.
 */
import path from 'node:path';
import { Command } from 'commander';
import { initBackend } from '../backend/select.js';
import { ensureWritableDir } from '../io/atomic.js';
import { LONG_RANGE_DIR, LONG_RANGE_PRESETS, longRangeTaskNames, runLongRange, selectTasks } from '../experiments/long-range.js';
import { stampRun } from './tmm-studies.js';

/** The `long-range` command (`--quick`, `--tasks <list>`, `--out <dir>`). */
export function longRangeCommand(): Command {
  const names = longRangeTaskNames(LONG_RANGE_PRESETS.full).join(', ');
  return new Command('long-range')
    .description('train TNN and transformer encoders on the long-range tasks (full preset unless --quick) and save the table')
    .option('--quick', 'the quick preset (what the tests run: tiny models, short sequences, minutes)')
    .option('--tasks <list>', `comma-separated tasks to run (default all: ${names})`)
    .option('--out <dir>', `where long-range.csv and .json go (default ${LONG_RANGE_DIR}, the committed results; with --quick, results/long-range-quick)`)
    .action(async (options: { quick?: boolean; tasks?: string; out?: string }) => {
      // A quick run never lands on the committed full results unless asked to.
      const opts = { ...options, out: options.out ?? (options.quick ? path.join('results', 'long-range-quick') : LONG_RANGE_DIR) };
      const mode = opts.quick ? 'quick' : 'full';
      const preset = LONG_RANGE_PRESETS[mode];
      const config = opts.tasks === undefined ? preset : selectTasks(preset, opts.tasks.split(',').map((s) => s.trim()).filter((s) => s.length > 0));
      ensureWritableDir(opts.out, '--out');
      await initBackend({ quiet: true });
      const started = performance.now();
      const elapsed = () => (performance.now() - started) / 1000;
      console.log(`long-range (${mode}): ${longRangeTaskNames(config).join(', ')} → ${opts.out}`);
      await runLongRange(config, opts.out, (line) => console.log(`[${elapsed().toFixed(0)} s] ${line}`));
      await stampRun(opts.out, ['long-range'], { preset: mode, seconds: Number(elapsed().toFixed(1)), finished: new Date().toISOString() });
      console.log(`long-range: ${elapsed().toFixed(1)} s; wrote ${path.join(opts.out, 'long-range.{csv,json}')}`);
    });
}
