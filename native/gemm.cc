/*
 * toeplitz-lab's native matrix product: C = op(A) · op(B) (+ bias) in float32 on AVX2 + FMA, called by the
 * wasm backend's BatchMatMul and _FusedMatMul kernels (src/backend/native-gemm.ts) directly on the wasm heap.
 *
 * Why: tfjs-wasm's XNNPACK reaches 12–23 GFLOP/s on one core here (128-bit SIMD, no FMA), PyTorch 55–90; the
 * training step is ~60% matrix products. This is the classic packed GEMM (Goto & van de Geijn 2008; BLIS):
 *   for each KC-deep slab p0 of the shared dimension:
 *     pack op(B)[p0:p0+KC, :] into NR-wide column panels (contiguous, zero-padded)
 *     for each MC-tall block i0 of rows:
 *       pack op(A)[i0:i0+MC, p0:p0+KC] into MR-tall row panels
 *       C[i0:i0+MC, :] (+)= Σ over panels of the MR × NR micro-kernel (12 ymm accumulators, 2 B loads and
 *                           6 broadcasts of A per k, 12 FMAs)
 * op(X) is X or Xᵀ through the packing strides, so no transpose is ever materialised. The order of every sum
 * is fixed by (m, n, k): results are deterministic, bit for bit, on any machine that runs this code.
 *
 * The kernel is compiled for AVX2 + FMA only (target attributes); `available` says whether this CPU has them,
 * and the caller never calls `gemm` otherwise. Packing buffers are per thread, so worker threads may call it
 * at the same time (the module is context-aware: NAPI_MODULE_INIT).
 *
 * JS: gemm(a, b, c, bias | null, batch, m, n, k, transA, transB, strideA, strideB)
 *   a: Float32Array, batch × (transA ? [k, m] : [m, k]) at batch stride strideA (0: broadcast)
 *   b: Float32Array, batch × (transB ? [n, k] : [k, n]) at batch stride strideB (0: broadcast)
 *   c: Float32Array, [batch, m, n], written;  bias: Float32Array [n] added to every row, or null.
 */
#include <node_api.h>

#include <immintrin.h>

#include <cstddef>
#include <cstring>
#include <vector>

namespace {

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

/* C[0:MR, 0:NR] = (accumulate ? C : 0) + Σ_p a[p, :]ᵀ b[p, :], with C's rows ldc apart. */
__attribute__((target("avx2,fma"))) void microKernel(int kc, const float* a, const float* b, float* c, ptrdiff_t ldc, bool accumulate) {
  __m256 acc[MR][2];
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int p = 0; p < kc; p++, a += MR, b += NR) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    for (int r = 0; r < MR; r++) {
      const __m256 ar = _mm256_broadcast_ss(a + r);
      acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
    }
  }
  for (int r = 0; r < MR; r++, c += ldc) {
    if (accumulate) {
      acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(c));
      acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(c + 8));
    }
    _mm256_storeu_ps(c, acc[r][0]);
    _mm256_storeu_ps(c + 8, acc[r][1]);
  }
}

/* C[m, n] (row-major) = op(A) op(B), op(A)(i, p) = a[i·rsa + p·csa], op(B)(p, j) = b[p·rsb + j·csb]. */
void gemm(int m, int n, int k, const float* a, ptrdiff_t rsa, ptrdiff_t csa, const float* b, ptrdiff_t rsb, ptrdiff_t csb, float* c) {
  thread_local std::vector<float> bufA(MC * KC), bufB(static_cast<size_t>(KC) * (NC + NR));
  if (k == 0) {
    std::memset(c, 0, static_cast<size_t>(m) * n * sizeof(float));
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
            float* cij = c + static_cast<size_t>(i0 + i) * n + j0 + j;
            if (h == MR && w == NR) {
              microKernel(kc, ap, bp, cij, n, accumulate);
              continue;
            }
            // An edge tile: through a full MR × NR tile, copying only the h × w part in and out.
            for (int r = 0; r < h; r++) {
              for (int q = 0; q < w; q++) tile[r * NR + q] = accumulate ? cij[r * n + q] : 0.f;
            }
            microKernel(kc, ap, bp, tile, NR, true);
            for (int r = 0; r < h; r++) {
              for (int q = 0; q < w; q++) cij[r * n + q] = tile[r * NR + q];
            }
          }
        }
      }
    }
  }
}

/* ---- the N-API binding ------------------------------------------------------------------------------ */

bool floats(napi_env env, napi_value v, float** data, size_t* length) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  void* ptr;
  if (napi_get_typedarray_info(env, v, &type, length, &ptr, nullptr, nullptr) != napi_ok || type != napi_float32_array) return false;
  *data = static_cast<float*>(ptr);
  return true;
}

napi_value fail(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}

napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc != 12) return fail(env, "gemm: expected 12 arguments (a, b, c, bias, batch, m, n, k, transA, transB, strideA, strideB)");
  float *a, *b, *c, *bias = nullptr;
  size_t la, lb, lc, lbias = 0;
  if (!floats(env, argv[0], &a, &la) || !floats(env, argv[1], &b, &lb) || !floats(env, argv[2], &c, &lc)) {
    return fail(env, "gemm: a, b and c must be Float32Arrays");
  }
  napi_valuetype biasType;
  napi_typeof(env, argv[3], &biasType);
  if (biasType != napi_null && !floats(env, argv[3], &bias, &lbias)) return fail(env, "gemm: bias must be a Float32Array or null");
  int64_t dims[6];
  for (int i = 0; i < 4; i++) napi_get_value_int64(env, argv[4 + i], &dims[i]);
  for (int i = 0; i < 2; i++) napi_get_value_int64(env, argv[10 + i], &dims[4 + i]);
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
    gemm(static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), ai, transA ? 1 : k, transA ? m : 1, bi, transB ? 1 : n, transB ? k : 1, ci);
    if (bias != nullptr) {
      for (int64_t r = 0; r < m; r++) {
        float* row = ci + r * n;
        for (int64_t j = 0; j < n; j++) row[j] += bias[j];
      }
    }
  }
  return nullptr;
}

}  // namespace

NAPI_MODULE_INIT() {
  __builtin_cpu_init();
  const bool available = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  napi_value fn, flag;
  napi_create_function(env, "gemm", NAPI_AUTO_LENGTH, Gemm, nullptr, &fn);
  napi_get_boolean(env, available, &flag);
  napi_set_named_property(env, exports, "gemm", fn);
  napi_set_named_property(env, exports, "available", flag);
  return exports;
}
