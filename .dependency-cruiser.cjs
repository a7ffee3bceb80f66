/**
 * The layering of src/ (../shared/DESIGN.md) as dependency-cruiser rules; `npm test` runs them
 * (test/layering.test.ts), so an import that runs upward fails with both file names.
 *
 * Ranks, low to high: a module may import its own folder and any folder of a lower rank, never a higher one.
 * Folders of the same rank may import each other (no cycles: `no-circular`).
 *   0 ops          math over tensors and arrays (Toeplitz, FFT, SSM): knows nothing of layers or models
 *   1 backend      picks the tfjs backend, loads the FFT, sets the Toeplitz op's FFT path
 *   1 data, io     tokenisers, corpora, batching, random numbers; file formats, atomic writes, config diffs
 *   2 layers       RPE, decay, TNO, GTU, GLU, norms, attention, the TMM mixer
 *   3 models       TNN, TMM, transformer, presets, model specs and model files
 *   4 decode       ETSC of TNN layers and models, the recurrent, cache and FFT decoders, sampling
 *   5 train, eval  the training loop and recipe; perplexity, coefficients, cost measurements
 *   6 plot         figure builders, display in a notebook, export
 *   7 experiments  one module per experiment
 *   8 cli, notebook the command line, the Jupyter kernel and the headless notebook runner
 * src/index.ts and src/internal.ts (the entry points) sit above all of them.
 *
 * Separately, the core (what a browser page could run as is) imports no Node built-in module: ops, layers,
 * models, decode, train, eval and the figure builders, less the files at the edges that read or write files,
 * start a browser or talk to tslab (listed in EDGE below). test/layering.test.ts also bundles the core for the
 * browser with esbuild.
 */
const RANKS = {
  ops: 0,
  backend: 1,
  data: 1,
  io: 1,
  layers: 2,
  models: 3,
  decode: 4,
  train: 5,
  eval: 5,
  plot: 6,
  experiments: 7,
  cli: 8,
  notebook: 8,
};

const folders = Object.keys(RANKS);

/** One rule per folder: nothing in it imports a folder of a higher rank. */
const layerRules = folders
  .map((folder) => {
    const above = folders.filter((other) => RANKS[other] > RANKS[folder]);
    return above.length === 0
      ? undefined
      : {
          name: `no-upward-import-from-${folder}`,
          comment: `src/${folder} (rank ${RANKS[folder]}) may not import ${above.map((f) => `src/${f}`).join(', ')} (../shared/DESIGN.md, .dependency-cruiser.cjs)`,
          severity: 'error',
          from: { path: `^src/${folder}/` },
          to: { path: `^src/(${above.join('|')})/` },
        };
  })
  .filter((rule) => rule !== undefined);

/** Core folders, and the files in them that are edges (files, a browser, tslab). */
const CORE = '^src/(ops|layers|models|decode|train|eval|plot)/';
const EDGE = '^src/(models/saved|train/(run-folder|workers|gradient-worker)|plot/(display|export|table))\\.(ts|mjs)$';

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-entry-point-imports',
      comment: 'library modules import each other directly, never src/index.ts or src/internal.ts (which re-export them); the CLI may use the public API',
      severity: 'error',
      from: { path: `^src/(${folders.filter((f) => f !== 'cli').join('|')})/` },
      to: { path: '^src/(index|internal)\\.ts$' },
    },
    {
      name: 'no-circular',
      comment: 'import cycles make the layering meaningless and the load order fragile',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'core-imports-no-node-builtin',
      comment: 'the core runs in a browser as is: files, workers, processes and tslab stay at the edges',
      severity: 'error',
      from: { path: CORE, pathNot: EDGE },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'core-imports-no-edge',
      comment: 'the core runs in a browser as is: it may not import a file at the edges (see EDGE)',
      severity: 'error',
      from: { path: CORE, pathNot: EDGE },
      to: { path: `(${EDGE})|^src/(backend|io|experiments|cli|notebook)/`, pathNot: '^src/io/config\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
