/*
 * toeplitz-lab's native matrix product: C = op(A) · op(B) (+ bias) in float32 on AVX2 + FMA, called by the
 * wasm backend's BatchMatMul and _FusedMatMul kernels (src/backend/native.ts) directly on the wasm heap.
 *
 * Why: tfjs-wasm's XNNPACK reaches 17–27 GFLOP/s on one core here (128-bit SIMD, no FMA), PyTorch's OpenBLAS
 * 72–89, this code 72–85 (`npm run bench:matmul`); on XNNPACK a training step was ~60% matrix products. This is the classic packed GEMM (Goto & van de Geijn 2008; BLIS):
 *   for each KC-deep slab p0 of the shared dimension:
 *     pack op(B)[p0:p0+KC, :] into NR-wide column panels (contiguous, zero-padded)
 *     for each MC-tall block i0 of rows:
 *       pack op(A)[i0:i0+MC, p0:p0+KC] into MR-tall row panels
 *       C[i0:i0+MC, :] (+)= Σ over panels of the MR × NR micro-kernel (12 ymm accumulators, 2 B loads and
 *                           6 broadcasts of A per k, 12 FMAs)
 * op(X) is X or Xᵀ through the packing strides, so no transpose is ever materialised. The order of every sum
 * is fixed by (m, n, k): results are deterministic, bit for bit, on any machine that runs this code and at
 * either thread count.
 *
 * The kernel is compiled for AVX2 + FMA only (target attributes); `available` says whether this CPU has them,
 * and the caller never calls `gemm` otherwise. Packing buffers are per thread, so worker threads may call it
 * at the same time (the module is context-aware: NAPI_MODULE_INIT).
 *
 * JS: setThreads(1 | 2) for the calling thread (default 1; see gemmThreaded);
 *     gemm(a, b, c, bias | null, batch, m, n, k, transA, transB, strideA, strideB)
 *   a: Float32Array, batch × (transA ? [k, m] : [m, k]) at batch stride strideA (0: broadcast)
 *   b: Float32Array, batch × (transB ? [n, k] : [k, n]) at batch stride strideB (0: broadcast)
 *   c: Float32Array, [batch, m, n], written;  bias: Float32Array [n] added to every row, or null.
 */
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "common.h"

namespace {

using native::fail;

constexpr int MR = 6, NR = 16, KC = 256, MC = 96, NC = 3072;

/* op(B)[0:kc, 0:nc] (element (p, j) at b[p·rs + j·cs]) into NR-wide panels, each kc × NR row-major. */
void packB(const float* b, ptrdiff_t rs, ptrdiff_t cs, int kc, int nc, float* out) {
  for (int j = 0; j < nc; j += NR) {
    const int w = nc - j < NR ? nc - j : NR;
    for (int p = 0; p < kc; p++, out += NR) {
      const float* src = b + p * rs + j * cs;
      if (w == NR && cs == 1) {
        std::memcpy(out, src, NR * sizeof(float));
        continue;
      }
      int q = 0;
      for (; q < w; q++) out[q] = src[q * cs];
      for (; q < NR; q++) out[q] = 0.f;
    }
  }
}

/* op(A)[0:mc, 0:kc] (element (i, p) at a[i·rs + p·cs]) into MR-tall panels, each kc × MR (column-major). */
void packA(const float* a, ptrdiff_t rs, ptrdiff_t cs, int mc, int kc, float* out) {
  for (int i = 0; i < mc; i += MR) {
    const int h = mc - i < MR ? mc - i : MR;
    for (int p = 0; p < kc; p++, out += MR) {
      const float* src = a + i * rs + p * cs;
      int r = 0;
      for (; r < h; r++) out[r] = src[r * rs];
      for (; r < MR; r++) out[r] = 0.f;
    }
  }
}

/*
 * C[0:MR, 0:NR] = (accumulate ? C : 0) + Σ_p a[p, :]ᵀ b[p, :], with C's rows ldc apart. The 12 accumulators
 * are named, not an array, so that they stay in registers whatever the compiler's inlining (as an array, one
 * build kept them on the stack: 33 GFLOP/s instead of 75 on L1-resident panels).
 */
__attribute__((target("avx2,fma"))) void microKernel(int kc, const float* a, const float* b, float* c, ptrdiff_t ldc, bool accumulate) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int p = 0; p < kc; p++, a += MR, b += NR) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 ar = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(ar, b0, c00), c01 = _mm256_fmadd_ps(ar, b1, c01);
    ar = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ar, b0, c10), c11 = _mm256_fmadd_ps(ar, b1, c11);
    ar = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ar, b0, c20), c21 = _mm256_fmadd_ps(ar, b1, c21);
    ar = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ar, b0, c30), c31 = _mm256_fmadd_ps(ar, b1, c31);
    ar = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ar, b0, c40), c41 = _mm256_fmadd_ps(ar, b1, c41);
    ar = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ar, b0, c50), c51 = _mm256_fmadd_ps(ar, b1, c51);
  }
  const __m256 rows[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int r = 0; r < MR; r++, c += ldc) {
    __m256 lo = rows[r][0], hi = rows[r][1];
    if (accumulate) {
      lo = _mm256_add_ps(lo, _mm256_loadu_ps(c));
      hi = _mm256_add_ps(hi, _mm256_loadu_ps(c + 8));
    }
    _mm256_storeu_ps(c, lo);
    _mm256_storeu_ps(c + 8, hi);
  }
}

/* C[m, n] (rows ldc apart) = op(A) op(B), op(A)(i, p) = a[i·rsa + p·csa], op(B)(p, j) = b[p·rsb + j·csb]. */
void gemm(int m, int n, int k, const float* a, ptrdiff_t rsa, ptrdiff_t csa, const float* b, ptrdiff_t rsb, ptrdiff_t csb, float* c, ptrdiff_t ldc) {
  thread_local std::vector<float> bufA(MC * KC), bufB(static_cast<size_t>(KC) * (NC + NR));
  if (k == 0) {
    for (int i = 0; i < m; i++) std::memset(c + i * ldc, 0, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  float tile[MR * NR];
  for (int j0 = 0; j0 < n; j0 += NC) {
    const int nc = n - j0 < NC ? n - j0 : NC;
    for (int p0 = 0; p0 < k; p0 += KC) {
      const int kc = k - p0 < KC ? k - p0 : KC;
      const bool accumulate = p0 > 0;
      packB(b + p0 * rsb + j0 * csb, rsb, csb, kc, nc, bufB.data());
      for (int i0 = 0; i0 < m; i0 += MC) {
        const int mc = m - i0 < MC ? m - i0 : MC;
        packA(a + i0 * rsa + p0 * csa, rsa, csa, mc, kc, bufA.data());
        for (int j = 0; j < nc; j += NR) {
          const float* bp = bufB.data() + static_cast<size_t>(j / NR) * kc * NR;
          const int w = nc - j < NR ? nc - j : NR;
          for (int i = 0; i < mc; i += MR) {
            const float* ap = bufA.data() + static_cast<size_t>(i / MR) * kc * MR;
            const int h = mc - i < MR ? mc - i : MR;
            float* cij = c + (i0 + i) * ldc + j0 + j;
            if (h == MR && w == NR) {
              microKernel(kc, ap, bp, cij, ldc, accumulate);
              continue;
            }
            // An edge tile: through a full MR × NR tile, copying only the h × w part in and out.
            for (int r = 0; r < h; r++) {
              for (int q = 0; q < w; q++) tile[r * NR + q] = accumulate ? cij[r * ldc + q] : 0.f;
            }
            microKernel(kc, ap, bp, tile, NR, true);
            for (int r = 0; r < h; r++) {
              for (int q = 0; q < w; q++) cij[r * ldc + q] = tile[r * NR + q];
            }
          }
        }
      }
    }
  }
}

/*
 * A second core for one product: the helper takes half of C, half the rows, or half the columns when C has
 * fewer rows than columns. Each element's sum is the same either way (the shared dimension is never split), so
 * results do not depend on the thread count. Products under 2^22 multiply-adds stay on one thread.
 */
void gemmThreaded(int m, int n, int k, const float* a, ptrdiff_t rsa, ptrdiff_t csa, const float* b, ptrdiff_t rsb, ptrdiff_t csb, float* c) {
  const bool split = native::threads > 1 && static_cast<int64_t>(m) * n * k >= (int64_t{1} << 22) && (m >= 2 * MR || n >= 2 * NR);
  if (!split) {
    gemm(m, n, k, a, rsa, csa, b, rsb, csb, c, n);
    return;
  }
  if (m >= n || n < 2 * NR) {
    const int m1 = (m / 2 + MR - 1) / MR * MR;  // the caller's rows [0, m1), the helper's [m1, m)
    native::runOnTwo([=] { gemm(m1, n, k, a, rsa, csa, b, rsb, csb, c, n); },
                     [=] { gemm(m - m1, n, k, a + m1 * rsa, rsa, csa, b, rsb, csb, c + static_cast<ptrdiff_t>(m1) * n, n); });
  } else {
    const int n1 = (n / 2 + NR - 1) / NR * NR;  // the caller's columns [0, n1), the helper's [n1, n)
    native::runOnTwo([=] { gemm(m, n1, k, a, rsa, csa, b, rsb, csb, c, n); },
                     [=] { gemm(m, n - n1, k, a, rsa, csa, b + n1 * csb, rsb, csb, c + n1, n); });
  }
}

/* ---- the N-API binding ------------------------------------------------------------------------------ */

napi_value Gemm(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  if (!native::arguments(env, info, 12, argv)) return fail(env, "gemm: expected 12 arguments (a, b, c, bias, batch, m, n, k, transA, transB, strideA, strideB)");
  float* abc[3];
  size_t lengths[3];
  if (!native::floatArrays(env, argv, 3, abc, lengths)) return fail(env, "gemm: a, b and c must be Float32Arrays");
  float *a = abc[0], *b = abc[1], *c = abc[2], *bias;
  const size_t la = lengths[0], lb = lengths[1], lc = lengths[2];
  size_t lbias;
  if (!native::optionalFloats(env, argv[3], &bias, &lbias)) return fail(env, "gemm: bias must be a Float32Array or null");
  int64_t dims[6];
  if (!native::integers(env, argv, 4, 4, dims) || !native::integers(env, argv, 10, 2, dims + 4)) {
    return fail(env, "gemm: batch, m, n, k, strideA and strideB must be numbers");
  }
  bool transA, transB;
  if (napi_get_value_bool(env, argv[8], &transA) != napi_ok || napi_get_value_bool(env, argv[9], &transB) != napi_ok) {
    return fail(env, "gemm: transA and transB must be booleans");
  }
  const int64_t batch = dims[0], m = dims[1], n = dims[2], k = dims[3], strideA = dims[4], strideB = dims[5];
  if (batch < 1 || m < 1 || n < 1 || k < 0 || strideA < 0 || strideB < 0) return fail(env, "gemm: batch, m, n must be ≥ 1, k and the strides ≥ 0");
  // Every element read or written lies inside its array.
  if (static_cast<int64_t>(la) < (batch - 1) * strideA + m * k || static_cast<int64_t>(lb) < (batch - 1) * strideB + k * n ||
      static_cast<int64_t>(lc) < batch * m * n || (bias != nullptr && static_cast<int64_t>(lbias) < n)) {
    return fail(env, "gemm: an array is shorter than its shape and stride say");
  }
  for (int64_t i = 0; i < batch; i++) {
    const float* ai = a + i * strideA;
    const float* bi = b + i * strideB;
    float* ci = c + i * m * n;
    gemmThreaded(static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), ai, transA ? 1 : k, transA ? m : 1, bi, transB ? 1 : n, transB ? k : 1, ci);
    if (bias != nullptr) {
      for (int64_t r = 0; r < m; r++) {
        float* row = ci + r * n;
        for (int64_t j = 0; j < n; j++) row[j] += bias[j];
      }
    }
  }
  return nullptr;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t n = 0;
  if (!native::arguments(env, info, 1, argv) || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1 || n > 2) {
    return fail(env, "setThreads: expected 1 or 2 (the calling thread, and one helper)");
  }
  native::threads = n;
  return nullptr;
}

}  // namespace

void native::registerGemm(napi_env env, napi_value exports) {
  const std::pair<const char*, napi_callback> functions[] = {{"gemm", Gemm}, {"setThreads", SetThreads}};
  native::exportFunctions(env, exports, functions);
}
