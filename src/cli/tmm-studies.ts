/**
 * `study <name>`: the TMM studies from the command line (src/experiments/operator-index.ts, tmm-copy.ts,
 * recall.ts, tmm-efficiency.ts, tmm-retention.ts, tmm-ablations.ts), each in its full preset or with `--quick`,
 * writing its tables to `--out` (default data/results/tmm-studies, the committed results that `npm run figures`
 * and notebook 09 read) with one progress line per evaluation. After a run every JSON it wrote gets a `run`
 * entry beside `config` and `rows`: the preset, the wall seconds of the whole study and the finishing time.
 * main.ts adds it with `program.addCommand(studyCommand())`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { initBackend } from '../backend/select.js';
import { ensureWritableDir, writeFileAtomic } from '../io/atomic.js';
import { OPERATOR_INDEX_PRESETS, runOperatorIndex } from '../experiments/operator-index.js';
import { RECALL_PRESETS, runRecall } from '../experiments/recall.js';
import { runTmmAblations, TMM_ABLATION_PRESETS } from '../experiments/tmm-ablations.js';
import { runTmmCopy, TMM_COPY_PRESETS } from '../experiments/tmm-copy.js';
import { runTmmEfficiency, TMM_EFFICIENCY_PRESETS } from '../experiments/tmm-efficiency.js';
import { runTmmRetention, TMM_RETENTION_PRESETS } from '../experiments/tmm-retention.js';
import { TMM_STUDIES_DIR } from '../experiments/figures.js';

type Mode = 'quick' | 'full';
type Log = (line: string) => void;

/** Each study: what it is, how it runs, and the result files (stems) it writes. */
const STUDIES: Record<string, { about: string; files: string[]; run: (mode: Mode, out: string, log: Log) => Promise<unknown> }> = {
  'operator-index': {
    about: 'winding numbers and section singular values of trained, autoencoder, copy and random TMM kernels',
    files: ['operator-index', 'operator-index-spectra', 'operator-index-kernels'],
    run: (mode, out, log) => runOperatorIndex(OPERATOR_INDEX_PRESETS[mode], out, log),
  },
  copy: { about: 'copying a repeated text window: TMM, TNN, transformer', files: ['tmm-copy'], run: (mode, out, log) => runTmmCopy(TMM_COPY_PRESETS[mode], out, log) },
  recall: { about: 'multi-query associative recall (MQAR)', files: ['recall'], run: (mode, out, log) => runRecall(RECALL_PRESETS[mode], out, log) },
  efficiency: {
    about: 'held-out loss vs wall time, counted FLOPs and peak memory after a learning-rate sweep per family',
    files: ['tmm-efficiency', 'tmm-efficiency-sweep', 'tmm-efficiency-curves'],
    run: (mode, out, log) => runTmmEfficiency(TMM_EFFICIENCY_PRESETS[mode], out, log),
  },
  retention: { about: 'how much of the input one hidden vector keeps (frozen blocks, a trained decoder)', files: ['tmm-retention'], run: (mode, out, log) => runTmmRetention(TMM_RETENTION_PRESETS[mode], out, log) },
  ablations: {
    about: 'TMM mixer variants: frozen all-ones, expanded, softplus-mean, 4 heads',
    files: ['tmm-ablations', 'tmm-ablations-curves'],
    run: (mode, out, log) => runTmmAblations(TMM_ABLATION_PRESETS[mode], out, log),
  },
};

/** The names `study` accepts, in the order they are listed. */
export const STUDY_NAMES: readonly string[] = Object.keys(STUDIES);

/** Adds `run` (preset, seconds, finished) to each `<stem>.json` under `outDir` that the study wrote. */
export async function stampRun(outDir: string, stems: readonly string[], run: { preset: Mode; seconds: number; finished: string }): Promise<void> {
  for (const stem of stems) {
    const file = path.join(outDir, `${stem}.json`);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { config: unknown; rows: unknown[] };
    const text = JSON.stringify({ config: saved.config, run, rows: saved.rows }, null, 2);
    await writeFileAtomic(file, [new TextEncoder().encode(text)]);
  }
}

/** The `study` command, one subcommand per study (`--quick`, `--out <dir>`). */
export function studyCommand(): Command {
  const study = new Command('study').description('run a TMM study (full preset unless --quick) and save its tables; `npm run figures` draws them');
  for (const [name, entry] of Object.entries(STUDIES)) {
    study
      .command(name)
      .description(entry.about)
      .option('--quick', 'the quick preset (what the tests run: seconds)')
      .option('--out <dir>', `where the tables go (default ${TMM_STUDIES_DIR}, the committed results; with --quick, results/tmm-studies-quick)`)
      .action(async (options: { quick?: boolean; out?: string }) => {
        // A quick run never lands on the committed full results unless asked to.
        const opts = { ...options, out: options.out ?? (options.quick ? path.join('results', 'tmm-studies-quick') : TMM_STUDIES_DIR) };
        ensureWritableDir(opts.out, '--out');
        await initBackend({ quiet: true });
        const mode: Mode = opts.quick ? 'quick' : 'full';
        const started = performance.now();
        const elapsed = () => (performance.now() - started) / 1000;
        console.log(`study ${name} (${mode}) → ${opts.out}`);
        await entry.run(mode, opts.out, (line) => console.log(`[${elapsed().toFixed(0)} s] ${line}`));
        await stampRun(opts.out, entry.files, { preset: mode, seconds: Number(elapsed().toFixed(1)), finished: new Date().toISOString() });
        console.log(`study ${name}: ${elapsed().toFixed(1)} s; wrote ${entry.files.map((f) => path.join(opts.out, `${f}.{csv,json}`)).join(', ')}`);
      });
  }
  return study;
}
