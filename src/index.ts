/** toeplitz-lab: the public API that notebooks, the CLI and the benchmarks import. */
export { initBackend, backendReport, BACKEND_NAMES, type BackendName, type BackendReport } from './backend/select.js';
export { toeplitz, toeplitzLags, coefficientLength } from './ops/toeplitz.js';
export { toeplitzDense, toeplitzMatrix } from './ops/toeplitz-dense.js';
export { toeplitzSpectral } from './ops/toeplitz-spectral.js';
export { convolutionSize } from './ops/fft.js';
