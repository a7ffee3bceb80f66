/**
 * The real FFT under the Toeplitz operator: PFFFT (Pommier's SIMD FFT, BSD licence) compiled to WebAssembly
 * with 128-bit SIMD, from the `@echogarden/pffft-wasm` package. Measured on this project's 2-core machine it is
 * 4–8× faster than the fastest pure-JavaScript FFT (../shared/ECOSYSTEM.md), and it runs wherever WebAssembly
 * SIMD does (Node ≥ 16.4, every current browser), with no download at install.
 *
 * We use it in its "unordered" mode: spectra stay in PFFFT's internal layout, because the operator only ever
 * multiplies spectra element-wise (`pffft_zconvolve_accumulate`), which needs no reordering.
 * Transforms are unnormalised: backward(forward(x)) = N·x.
 *
 * The module is loaded once, asynchronously (`loadFFT`, called by `initBackend`); after that every call is
 * synchronous. Buffers live in the WebAssembly heap and are addressed by float index (`ptr >> 2`).
 */

/** The subset of the Emscripten module we call (see pffft.h in the package). */
interface PffftModule {
  HEAPF32: Float32Array;
  _pffft_new_setup(size: number, kind: number): number;
  _pffft_transform(setup: number, input: number, output: number, work: number, direction: number): void;
  _pffft_zconvolve_accumulate(setup: number, a: number, b: number, ab: number, scaling: number): void;
  _pffft_aligned_malloc(bytes: number): number;
  _pffft_aligned_free(ptr: number): void;
}

const PFFFT_REAL = 0;
const PFFFT_FORWARD = 0;
const PFFFT_BACKWARD = 1;
/** PFFFT with 4-wide SIMD needs real sizes that are multiples of 2·4·4 = 32 with 2,3,5 as the only factors. */
const SIZE_QUANTUM = 32;

let pffft: PffftModule | undefined;

/** Loads the WebAssembly FFT (idempotent). `initBackend()` calls it; call it yourself only without that. */
export async function loadFFT(): Promise<void> {
  if (pffft !== undefined) return;
  // A computed specifier keeps TypeScript from resolving the untyped package (and keeps tslab, which compiles
  // to CommonJS, on Node's own loader for this ES module).
  const specifier: string = '@echogarden/pffft-wasm/simd';
  const imported = (await import(specifier)) as { default: () => Promise<PffftModule> };
  pffft = await imported.default();
}

/** Whether `loadFFT` has completed. */
export function fftLoaded(): boolean {
  return pffft !== undefined;
}

function pffftModule(): PffftModule {
  if (pffft === undefined) {
    throw new Error(
      'Error in toeplitz: the WebAssembly FFT is not loaded. Call `await initBackend()` (src/backend) once before using the Toeplitz operator.',
    );
  }
  return pffft;
}

/** True when m has no prime factor other than 2, 3 and 5. */
function isFiveSmooth(m: number): boolean {
  for (const p of [2, 3, 5]) while (m % p === 0) m /= p;
  return m === 1;
}

/**
 * The FFT size for an n-point Toeplitz product: the smallest N ≥ 2n − 1 that PFFFT supports (a multiple of 32
 * with factors 2, 3, 5 only). A circulant of size N ≥ 2n − 1 embeds the n×n Toeplitz matrix without wrap-around.
 */
export function convolutionSize(n: number): number {
  let m = Math.max(1, Math.ceil((2 * n - 1) / SIZE_QUANTUM));
  while (!isFiveSmooth(m)) m++;
  return m * SIZE_QUANTUM;
}

/**
 * A PFFFT setup plus float buffers of one size N in the WebAssembly heap. Buffers are allocated once per
 * (size, count) and reused by later calls of the same shape; `heap()` must be re-read after `buffers()`,
 * because growing the heap replaces its ArrayBuffer.
 */
export class FFTPlan {
  readonly size: number;
  private readonly setup: number;
  private readonly work: number;
  private readonly pool: number[] = []; // float indices of N-float buffers

  constructor(size: number) {
    if (!Number.isInteger(size) || size % SIZE_QUANTUM !== 0 || !isFiveSmooth(size / SIZE_QUANTUM)) {
      throw new Error(`Error in FFTPlan: size must be 32·2^a·3^b·5^c, but got ${size}.`);
    }
    const m = pffftModule();
    this.size = size;
    this.setup = m._pffft_new_setup(size, PFFFT_REAL);
    this.work = m._pffft_aligned_malloc(4 * size);
  }

  /** The current float view of the WebAssembly heap. */
  heap(): Float32Array {
    return pffftModule().HEAPF32;
  }

  /** `count` distinct buffers of N floats (float indices into `heap()`), contents unspecified. */
  buffers(count: number): number[] {
    const m = pffftModule();
    while (this.pool.length < count) this.pool.push(m._pffft_aligned_malloc(4 * this.size) >> 2);
    return this.pool.slice(0, count);
  }

  /** Forward real transform: spectrum (internal layout, N floats) of the real series at `input`. */
  forward(input: number, output: number): void {
    pffftModule()._pffft_transform(this.setup, input << 2, output << 2, this.work, PFFFT_FORWARD);
  }

  /** Backward transform (unnormalised): N real samples from a spectrum in the internal layout. */
  backward(input: number, output: number): void {
    pffftModule()._pffft_transform(this.setup, input << 2, output << 2, this.work, PFFFT_BACKWARD);
  }

  /** ab += a ⊙ b · scale, element-wise complex product of two spectra in the internal layout. */
  multiplyAccumulate(a: number, b: number, ab: number, scale: number): void {
    pffftModule()._pffft_zconvolve_accumulate(this.setup, a << 2, b << 2, ab << 2, scale);
  }
}

const plans = new Map<number, FFTPlan>();

/** The cached plan for size N (see `convolutionSize`). */
export function fftPlan(size: number): FFTPlan {
  let plan = plans.get(size);
  if (plan === undefined) {
    plan = new FFTPlan(size);
    plans.set(size, plan);
  }
  return plan;
}
