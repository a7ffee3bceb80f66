/**
 * toeplitz-lab's second entry point: the plumbing under the public API (src/index.ts), for the CLI, the
 * benchmarks, the tests and anyone extending the library. Nothing here is needed to use the models in a
 * notebook, and its names may change between versions.
 */

// File formats and atomic writes.
export {
  encodeSafetensors, encodeSafetensorsChunks, decodeSafetensors, SAFETENSORS_DTYPES,
  type SafetensorsTensor, type SafetensorsDtype, type DecodedSafetensors,
} from './io/safetensors.js';
export {
  saveCheckpoint, loadCheckpoint, assignWeights, OPTIMIZER_PREFIX, CONFIG_KEY, type CheckpointInput, type LoadedCheckpoint,
} from './io/checkpoint.js';
export { assertConfigEqual, configDifference, type ConfigDifference } from './io/config.js';
export { isModelSpec } from './models/spec.js';
export { writeFileAtomic } from './io/atomic.js';
export { saveResults } from './io/results.js';

// Op internals: FFT sizes, the FFT path switch, attention's pieces, least squares for reduced order.
export { convolutionSize } from './ops/fft.js';
export { setToeplitzPath } from './ops/toeplitz.js';
export { leastSquaresQr } from './ops/ssm-reduce.js';
export { sharedForward, sharedBackward, DENSE_MIN_COLUMNS, DENSE_MAX_N, type SharedShape } from './ops/toeplitz-shared.js';
export { fitLength, kaimingNormal, kaimingLinear } from './layers/tmm.js';
export { checkTmmConfig } from './models/tmm.js';
export { attentionCore, causalBlockAttention, causalMask } from './layers/attention.js';

// Decoding internals: the position-wise half of a TNN step that every decoder shares.
export { TnnStepper, causalTnnBlocks, type TokenMix } from './decode/step.js';

// Cost-measurement steps (what the sweeps time).
export { toeplitzStep, blockStep } from './eval/cost.js';

// Figure machinery: layout helpers, MIME bundles, the HTML page, the Chromium renderer.
export { axis, baseLayout, spansDecades, failureReason, type AxisOptions } from './plot/figure.js';
export { latestPoints, IMPL_LABELS } from './plot/speed.js';
export { figureBundle, displayBundle, type MimeBundle } from './plot/display.js';
export { tableHtml } from './plot/table.js';
export {
  figureHtml, FigureRenderer, sharedRenderer, findBrowser, requireBrowser, shippedBrowser, BROWSER_HINT, plotlyScriptPath, escapeHtml,
  type Browser, type ImageSize,
} from './plot/export.js';

// The experiments' run names (directory names of model labels).
export { runName } from './experiments/extrapolation.js';

// Notebook kernel and the headless runner.
export { installKernel, KERNEL_NAME } from './notebook/kernel.js';
export { executeNotebook, describeFailure, type NotebookRun, type ExecuteOptions } from './notebook/execute.js';
