/** toeplitz-lab: the public API that notebooks, the CLI and the benchmarks import. */
export { initBackend, backendReport, BACKEND_NAMES, type BackendName, type BackendReport } from './backend/select.js';
export { toeplitz, toeplitzLags, coefficientLength } from './ops/toeplitz.js';
export { toeplitzDense, toeplitzMatrix } from './ops/toeplitz-dense.js';
export { toeplitzSpectral } from './ops/toeplitz-spectral.js';
export { convolutionSize } from './ops/fft.js';
export { Module, Linear, Seeds, type ForwardOptions } from './layers/module.js';
export { Norm, simpleRmsNorm, type NormKind } from './layers/norm.js';
export { Rpe, type RpeConfig, type Activation } from './layers/rpe.js';
export { Decay, type DecayConfig } from './layers/decay.js';
export { Tno } from './layers/tno.js';
export { Gtu } from './layers/gtu.js';
export { Glu } from './layers/glu.js';
export { TnnBlock, TnnLM, TnnEncoder } from './models/tnn.js';
export { tnnConfig, TNN_PRESETS, type TnnConfig, type TnnPreset } from './models/config.js';
