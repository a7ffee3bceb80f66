/*
 * toeplitz-lab's native ETSC decoding step on AVX2 + FMA: one token through the diagonal SSMs of a TNN layer
 * (src/ops/ssm.ts defines the recurrence and calls this through the hook that src/backend/select.ts sets):
 *
 *   ssmStep(λRe, λIm, bRe, bIm, uRe, uIm, x, y, channels, modes)
 *       u[c, k] ← λ[c, k] u[c, k] + b[c, k] x[c],   y[c] = Re Σ_k u[c, k]      for c < channels, k < modes
 *   λ, b, u: Float64Array [channels, modes] (channel-major, as DiagonalSsm and SsmState); x, y: Float32Array [channels]
 *
 * In float64, 4 modes per lane group; the sum over modes runs in 4 lanes, then across them, then the ragged end
 * (a different order than ops/ssm.ts's sequential sum: the two agree to float64 rounding, not bit for bit).
 * The step reads 48 bytes and writes 16 per mode (~50 MB a token for the small model's 4 layers at n = 512):
 * it is bound by memory, so 2 threads split the channels; each channel is summed the same way on either.
 */
#include <immintrin.h>

#include <cstdint>

#include "common.h"

#pragma GCC target("avx2,fma")

namespace {

using native::fail;

/* The step for channels [c0, c1) (see the header). */
void stepChannels(const double* const (&p)[4], double* ur, double* ui, const float* x, float* y, size_t c0, size_t c1, size_t modes) {
  const auto [lr, li, br, bi] = p;
  for (size_t c = c0; c < c1; c++) {
    const double xc = x[c];
    const __m256d xv = _mm256_set1_pd(xc);
    __m256d lanes = _mm256_setzero_pd();
    size_t k = c * modes;
    const size_t end = k + modes;
    for (; k + 4 <= end; k += 4) {
      const __m256d lre = _mm256_loadu_pd(lr + k), lim = _mm256_loadu_pd(li + k);
      const __m256d re = _mm256_loadu_pd(ur + k), im = _mm256_loadu_pd(ui + k);
      const __m256d nre = _mm256_fmadd_pd(_mm256_loadu_pd(br + k), xv, _mm256_fmsub_pd(lre, re, _mm256_mul_pd(lim, im)));  // Re(λu) + Re(b) x
      const __m256d nim = _mm256_fmadd_pd(_mm256_loadu_pd(bi + k), xv, _mm256_fmadd_pd(lre, im, _mm256_mul_pd(lim, re)));  // Im(λu) + Im(b) x
      _mm256_storeu_pd(ur + k, nre);
      _mm256_storeu_pd(ui + k, nim);
      lanes = _mm256_add_pd(lanes, nre);
    }
    alignas(32) double part[4];
    _mm256_store_pd(part, lanes);
    double sum = (part[0] + part[1]) + (part[2] + part[3]);
    for (; k < end; k++) {
      const double nre = lr[k] * ur[k] - li[k] * ui[k] + br[k] * xc, nim = lr[k] * ui[k] + li[k] * ur[k] + bi[k] * xc;
      ur[k] = nre;
      ui[k] = nim;
      sum += nre;
    }
    y[c] = static_cast<float>(sum);
  }
}

napi_value SsmStep(napi_env env, napi_callback_info info) {
  const char* usage = "ssmStep: expected (λRe, λIm, bRe, bIm, uRe, uIm: Float64Array, x, y: Float32Array, channels, modes)";
  napi_value argv[10];
  double* a[6];
  size_t len[6];
  float *x, *y;
  size_t nx, ny;
  int64_t dims[2];
  if (!native::arguments(env, info, 10, argv)) return fail(env, usage);
  for (int i = 0; i < 6; i++) {
    if (!native::typedArray(env, argv[i], napi_float64_array, &a[i], &len[i])) return fail(env, usage);
  }
  if (!native::floats(env, argv[6], &x, &nx) || !native::floats(env, argv[7], &y, &ny) || !native::integers(env, argv, 8, 2, dims) || dims[0] < 0 ||
      dims[1] < 0) {
    return fail(env, usage);
  }
  const size_t channels = static_cast<size_t>(dims[0]), modes = static_cast<size_t>(dims[1]);
  for (size_t l : len) {
    if (l < channels * modes) return fail(env, "ssmStep: λ, b and the state must hold [channels, modes] values");
  }
  if (nx < channels || ny < channels) return fail(env, "ssmStep: x and y must hold [channels] values");
  const double* const p[4] = {a[0], a[1], a[2], a[3]};
  native::overRange(channels, 1, channels * modes >= (size_t{1} << 15) ? 2 : channels + 1, [&](size_t c0, size_t c1) {
    stepChannels(p, a[4], a[5], x, y, c0, c1, modes);
  });
  return nullptr;
}

}  // namespace

void native::registerSsm(napi_env env, napi_value exports) {
  const std::pair<const char*, napi_callback> functions[] = {{"ssmStep", SsmStep}};
  native::exportFunctions(env, exports, functions);
}
