/*
 * toeplitz-lab's native pointwise kernels on AVX2 + FMA: the chains of small tfjs kernels a training step runs
 * most often, each one pass over its arrays (called by the wasm backend's kernels, src/backend/kernels.ts, in
 * place on the wasm heap; src/ops/gating.ts and src/ops/softmax-nll.ts define the ops and their fallbacks).
 *
 *   SiLU(z) = z σ(z),  σ(z) = 1 / (1 + e^{−z}),  SiLU'(z) = σ(z) (1 + z (1 − σ(z)))
 *   siluGate(a, b, out)                 out = SiLU(a) ⊙ b            (b null: out = SiLU(a))
 *   siluGateBackward(a, b, g, da, db)   da = g ⊙ b ⊙ SiLU'(a),  db = g ⊙ SiLU(a)   (b null: da = g ⊙ SiLU'(a))
 *       the GTU's gate u ⊙ TNO(v) and its v = SiLU(x W_v), the GLU's SiLU(x W1) ⊙ x W2, every SiLU.
 *   softmaxNll(logits, targets, nll, lse, rows, V) -> the first row whose target is outside [0, V), or −1
 *       lse[r] = log Σ_j e^{logits[r, j]},  nll[r] = lse[r] − logits[r, target[r]]      (logits [rows, V])
 *   softmaxNllBackward(logits, targets, lse, g, dlogits, rows, V)
 *       dlogits[r, j] = g[r] (e^{logits[r, j] − lse[r]} − [j = target[r]])
 *       the language-model loss: log-softmax and the pick of the target in one pass, no [rows, V] log-probabilities.
 *   softmaxRows(s, mask, p, rows, cols, maskRows, scale)
 *       p[r, :] = softmax(scale · s[r, :] + mask[r mod maskRows, :])          (mask null: no mask)
 *   softmaxRowsBackward(p, dp, ds, rows, cols, scale)
 *       ds[r, j] = scale · p[r, j] (dp[r, j] − Σ_k dp[r, k] p[r, k])
 *       attention's weights and their gradient, a mask of [n, n] broadcast over batch and heads.
 *   adamw(p, g, m, v, pOut, mOut, vOut, lr, beta1, beta2, c1, c2, eps, decay)     one AdamW update:
 *       m' = β1 m + (1 − β1) g,  v' = β2 v + (1 − β2) g²,  p' = p − lr (m'/c1 / (√(v'/c2) + ε) + decay · p)
 *   dropout(x, y, key1, key2, threshold, scale)       inverted dropout with a counter-based mask:
 *       y[i] = x[i] · (u_i ≥ threshold ? scale : 0),  u_i = h(h(i·φ + key1) ⊕ key2) >> 8   (24 bits)
 *       h = lowbias32, φ = 0x9E3779B9 (src/ops/dropout.ts derives the keys from the seed and documents why).
 *
 * e^x is Cephes' expf on 8 lanes (round x / ln 2 to k, reduce r = x − k ln 2 in two parts, a degree-5
 * polynomial for e^r, scale by 2^k): within a few ulp on [−87.3, 88.3] (float32's normal range), 0 below,
 * +∞ above, NaN for NaN. Sums of a row run in 8 lanes, then in double. Elements are split between 2 threads
 * at multiples of 8 and rows are split by rows, and the ragged end of an array goes through the same 8-lane
 * code (padded), so each output is computed the same way on 1 or 2 threads: results do not depend on the
 * thread count.
 */
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "common.h"

#pragma GCC target("avx2,fma")

namespace {

using native::fail;
using native::overRange;

constexpr int LANES = 8;

/* e^x lane by lane (see the header). */
inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.3365447504f), hi = _mm256_set1_ps(88.3762626647949f);
  const __m256 c = _mm256_max_ps(lo, _mm256_min_ps(hi, x));  // min/max return their second operand for NaN: x
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(c, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), c);  // r = c − k ln 2, ln 2 in two parts
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 er = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));  // e^r
  const __m256i k2 = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);  // 2^k
  const __m256 y = _mm256_mul_ps(er, _mm256_castsi256_ps(k2));
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ), over = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
  return _mm256_blendv_ps(_mm256_andnot_ps(under, y), _mm256_set1_ps(INFINITY), over);
}

inline __m256 sigmoid8(__m256 z) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), z))));
}

/* ---- the SiLU gate: 8 elements at a time ------------------------------------------------------------------ */

/* out[i..i+8) = SiLU(a) ⊙ b (b null: SiLU(a)). */
inline void gate8(const float* a, const float* b, float* out) {
  const __m256 z = _mm256_loadu_ps(a);
  __m256 y = _mm256_mul_ps(z, sigmoid8(z));
  if (b != nullptr) y = _mm256_mul_ps(y, _mm256_loadu_ps(b));
  _mm256_storeu_ps(out, y);
}

/* da = g ⊙ b ⊙ SiLU'(a), db = g ⊙ SiLU(a) for 8 elements (b null: da = g ⊙ SiLU'(a), no db). */
inline void gateBackward8(const float* a, const float* b, const float* g, float* da, float* db) {
  const __m256 z = _mm256_loadu_ps(a), s = sigmoid8(z), one = _mm256_set1_ps(1.0f);
  const __m256 slope = _mm256_mul_ps(s, _mm256_fmadd_ps(z, _mm256_sub_ps(one, s), one));
  const __m256 gv = _mm256_loadu_ps(g);
  if (b == nullptr) {
    _mm256_storeu_ps(da, _mm256_mul_ps(gv, slope));
    return;
  }
  _mm256_storeu_ps(da, _mm256_mul_ps(_mm256_mul_ps(gv, _mm256_loadu_ps(b)), slope));
  _mm256_storeu_ps(db, _mm256_mul_ps(gv, _mm256_mul_ps(z, s)));
}

/* p + i, or null for a null array. */
template <typename T>
inline T* at(T* p, size_t i) {
  return p == nullptr ? nullptr : p + i;
}

/*
 * Runs step(in, out, i) for every group of 8 elements at i of the arrays in[0..I) and out[0..O), `count`
 * elements each (a null array stays null), on 2 threads split at a multiple of 8 when asked and worth it. The
 * ragged end goes through zero-padded copies of the arrays (i = 0 there), so every element is computed by the
 * same 8-lane code on 1 or 2 threads.
 */
template <int I, int O, typename Step>
void eachGroupOf8(const float* const (&in)[I], float* const (&out)[O], size_t count, Step step) {
  overRange(count, LANES, size_t{1} << 16, [&](size_t i0, size_t i1) {
    const size_t whole = i0 + (i1 - i0) / LANES * LANES;
    for (size_t i = i0; i < whole; i += LANES) step(in, out, i);
    if (whole == i1) return;
    const size_t m = i1 - whole;
    alignas(32) float padIn[I][LANES] = {}, padOut[O][LANES];
    const float* x[I];
    float* y[O];
    for (int k = 0; k < I; k++) {
      x[k] = in[k] == nullptr ? nullptr : padIn[k];
      if (in[k] != nullptr) std::memcpy(padIn[k], in[k] + whole, m * sizeof(float));
    }
    for (int k = 0; k < O; k++) y[k] = out[k] == nullptr ? nullptr : padOut[k];
    step(x, y, 0);
    for (int k = 0; k < O; k++) {
      if (out[k] != nullptr) std::memcpy(out[k] + whole, padOut[k], m * sizeof(float));
    }
  });
}

void siluGate(const float* a, const float* b, float* out, size_t count) {
  const float* in[2] = {a, b};
  float* const outs[1] = {out};
  eachGroupOf8(in, outs, count, [](const float* const* x, float* const* y, size_t i) { gate8(x[0] + i, at(x[1], i), y[0] + i); });
}

void siluGateBackward(const float* a, const float* b, const float* g, float* da, float* db, size_t count) {
  const float* in[3] = {a, b, g};
  float* const outs[2] = {da, db};
  eachGroupOf8(in, outs, count, [](const float* const* x, float* const* y, size_t i) {
    gateBackward8(x[0] + i, at(x[1], i), x[2] + i, y[0] + i, at(y[1], i));
  });
}

/* ---- log-softmax and the target's NLL, row by row ---------------------------------------------------------- */

/* The 8 values of row x starting at j, padded with `pad` past V. */
inline __m256 loadRow(const float* x, int j, int V, float pad) {
  if (j + LANES <= V) return _mm256_loadu_ps(x + j);
  alignas(32) float p[LANES];
  for (int l = 0; l < LANES; l++) p[l] = j + l < V ? x[j + l] : pad;
  return _mm256_load_ps(p);
}

inline double sum8(__m256 v) {
  alignas(32) float p[LANES];
  _mm256_store_ps(p, v);
  double s = 0;
  for (float f : p) s += f;
  return s;
}

/* log Σ_j e^{x[j]} for one row of V values: max first, then Σ e^{x − max} in 8 lanes. */
float logSumExp(const float* x, int V) {
  __m256 m = _mm256_set1_ps(-INFINITY);
  for (int j = 0; j < V; j += LANES) m = _mm256_max_ps(m, loadRow(x, j, V, -INFINITY));
  alignas(32) float lanes[LANES];
  _mm256_store_ps(lanes, m);
  float top = lanes[0];
  for (float f : lanes) top = f > top ? f : top;
  if (std::isinf(top)) return top;  // every logit −∞ (or one +∞): the sum is 0 (or ∞)
  const __m256 shift = _mm256_set1_ps(top);
  __m256 s = _mm256_setzero_ps();
  for (int j = 0; j < V; j += LANES) s = _mm256_add_ps(s, exp8(_mm256_sub_ps(loadRow(x, j, V, -INFINITY), shift)));
  return static_cast<float>(top + std::log(sum8(s)));
}

/* nll and lse for rows [r0, r1); the first row with a target outside [0, V) there, or −1. */
int64_t softmaxNllRows(const float* logits, const int32_t* targets, float* nll, float* lse, int V, size_t r0, size_t r1) {
  for (size_t r = r0; r < r1; r++) {
    const float* x = logits + r * V;
    const int32_t target = targets[r];
    if (target < 0 || target >= V) return static_cast<int64_t>(r);
    lse[r] = logSumExp(x, V);
    nll[r] = lse[r] - x[target];
  }
  return -1;
}

void softmaxNllBackwardRows(const float* logits, const int32_t* targets, const float* lse, const float* g, float* dl, int V, size_t r0, size_t r1) {
  for (size_t r = r0; r < r1; r++) {
    const float* x = logits + r * V;
    float* d = dl + r * V;
    const __m256 shift = _mm256_set1_ps(lse[r]), gr = _mm256_set1_ps(g[r]);
    int j = 0;
    for (; j + LANES <= V; j += LANES) _mm256_storeu_ps(d + j, _mm256_mul_ps(gr, exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), shift))));
    if (j < V) {
      alignas(32) float p[LANES];
      _mm256_store_ps(p, _mm256_mul_ps(gr, exp8(_mm256_sub_ps(loadRow(x, j, V, 0.0f), shift))));
      std::memcpy(d + j, p, (V - j) * sizeof(float));
    }
    d[targets[r]] -= g[r];
  }
}

/* ---- softmax over rows ---------------------------------------------------------------------------------- */

/* p = softmax(scale · s + m) for one row of `cols` (m null: no mask): the exponentials first, then 1 / Σ. */
void softmaxRow(const float* s, const float* m, float* p, int cols, float scale) {
  const __m256 k = _mm256_set1_ps(scale), lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
  auto logit = [&](int j) {  // lanes past the row are −∞: they add nothing to the max or the sum
    __m256 x = _mm256_mul_ps(k, loadRow(s, j, cols, 0.0f));
    if (m != nullptr) x = _mm256_add_ps(x, loadRow(m, j, cols, 0.0f));
    if (j + LANES <= cols) return x;
    return _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), x, _mm256_cmp_ps(lane, _mm256_set1_ps(static_cast<float>(cols - j)), _CMP_LT_OQ));
  };
  __m256 top = _mm256_set1_ps(-INFINITY);
  for (int j = 0; j < cols; j += LANES) top = _mm256_max_ps(top, logit(j));
  alignas(32) float lanes[LANES];
  _mm256_store_ps(lanes, top);
  float t = lanes[0];
  for (float f : lanes) t = f > t ? f : t;
  const __m256 shift = _mm256_set1_ps(t);
  __m256 sum = _mm256_setzero_ps();
  for (int j = 0; j < cols; j += LANES) {
    const __m256 e = exp8(_mm256_sub_ps(logit(j), shift));
    sum = _mm256_add_ps(sum, e);
    if (j + LANES <= cols) {
      _mm256_storeu_ps(p + j, e);
    } else {
      _mm256_store_ps(lanes, e);
      std::memcpy(p + j, lanes, (cols - j) * sizeof(float));
    }
  }
  const float inverse = static_cast<float>(1.0 / sum8(sum));
  const __m256 inv = _mm256_set1_ps(inverse);
  int j = 0;
  for (; j + LANES <= cols; j += LANES) _mm256_storeu_ps(p + j, _mm256_mul_ps(inv, _mm256_loadu_ps(p + j)));
  for (; j < cols; j++) p[j] *= inverse;
}

/* ds = scale · p ⊙ (dp − Σ dp ⊙ p) for one row. */
void softmaxRowBackward(const float* p, const float* dp, float* ds, int cols, float scale) {
  __m256 dot = _mm256_setzero_ps();
  for (int j = 0; j < cols; j += LANES) dot = _mm256_fmadd_ps(loadRow(p, j, cols, 0.0f), loadRow(dp, j, cols, 0.0f), dot);
  const __m256 d = _mm256_set1_ps(static_cast<float>(sum8(dot))), k = _mm256_set1_ps(scale);
  int j = 0;
  for (; j + LANES <= cols; j += LANES) {
    _mm256_storeu_ps(ds + j, _mm256_mul_ps(k, _mm256_mul_ps(_mm256_loadu_ps(p + j), _mm256_sub_ps(_mm256_loadu_ps(dp + j), d))));
  }
  alignas(32) float tail[LANES];
  if (j < cols) {
    _mm256_store_ps(tail, _mm256_mul_ps(k, _mm256_mul_ps(loadRow(p, j, cols, 0.0f), _mm256_sub_ps(loadRow(dp, j, cols, 0.0f), d))));
    std::memcpy(ds + j, tail, (cols - j) * sizeof(float));
  }
}

/* ---- AdamW ---------------------------------------------------------------------------------------------- */

/* The update's constants as float32, each rounded once from double (as tfjs makes its scalars). */
struct AdamW {
  float lr, beta1, rest1, beta2, rest2, c1, c2, eps, decay;  // rest = 1 − β
};

/* One AdamW update of 8 elements, in the order of the formula (as train/optimizer.ts's tfjs fallback). */
inline void adamw8(const float* p, const float* g, const float* m, const float* v, float* po, float* mo, float* vo, const AdamW& h) {
  const __m256 gv = _mm256_loadu_ps(g);
  const __m256 mn = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m), _mm256_set1_ps(h.beta1)), _mm256_mul_ps(gv, _mm256_set1_ps(h.rest1)));
  const __m256 vn = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v), _mm256_set1_ps(h.beta2)), _mm256_mul_ps(_mm256_mul_ps(gv, gv), _mm256_set1_ps(h.rest2)));
  const __m256 denominator = _mm256_add_ps(_mm256_sqrt_ps(_mm256_div_ps(vn, _mm256_set1_ps(h.c2))), _mm256_set1_ps(h.eps));
  __m256 update = _mm256_div_ps(_mm256_div_ps(mn, _mm256_set1_ps(h.c1)), denominator);
  const __m256 pv = _mm256_loadu_ps(p);
  if (h.decay != 0) update = _mm256_add_ps(update, _mm256_mul_ps(pv, _mm256_set1_ps(h.decay)));
  _mm256_storeu_ps(po, _mm256_sub_ps(pv, _mm256_mul_ps(update, _mm256_set1_ps(h.lr))));
  _mm256_storeu_ps(mo, mn);
  _mm256_storeu_ps(vo, vn);
}

void adamw(const float* const (&in)[4], float* const (&out)[3], size_t count, const AdamW& h) {
  eachGroupOf8(in, out, count, [&h](const float* const* x, float* const* y, size_t i) {
    adamw8(x[0] + i, x[1] + i, x[2] + i, x[3] + i, y[0] + i, y[1] + i, y[2] + i, h);
  });
}

/* ---- counter-based dropout ------------------------------------------------------------------------------- */

constexpr uint32_t PHI = 0x9E3779B9u;  // 2^32 / golden ratio: the counter's odd increment

/* lowbias32 (C. Wellons' hash prospector): x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16. */
inline uint32_t lowbias32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  return x ^ (x >> 16);
}

inline __m256i lowbias32(__m256i x) {
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
  x = _mm256_mullo_epi32(x, _mm256_set1_epi32(0x7feb352d));
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
  x = _mm256_mullo_epi32(x, _mm256_set1_epi32(static_cast<int>(0x846ca68bu)));
  return _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
}

/*
 * y[i] = x[i] · m_i for i in [0, count): m_i = scale where u_i ≥ threshold, else 0 (a product, so NaN stays
 * NaN as in x · mask). u_i depends on (i, keys) only: any split between threads gives the same bits.
 */
void dropout(const float* x, float* y, size_t count, uint32_t key1, uint32_t key2, int32_t threshold, float scale) {
  overRange(count, LANES, size_t{1} << 16, [&](size_t i0, size_t i1) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), phi = _mm256_set1_epi32(static_cast<int>(PHI));
    const __m256i k1 = _mm256_set1_epi32(static_cast<int>(key1)), k2 = _mm256_set1_epi32(static_cast<int>(key2));
    const __m256i below = _mm256_set1_epi32(threshold - 1);
    const __m256 s = _mm256_set1_ps(scale);
    size_t i = i0;
    for (; i + LANES <= i1; i += LANES) {
      const __m256i index = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(i))), lane);
      const __m256i h = lowbias32(_mm256_xor_si256(lowbias32(_mm256_add_epi32(_mm256_mullo_epi32(index, phi), k1)), k2));
      const __m256i keep = _mm256_cmpgt_epi32(_mm256_srli_epi32(h, 8), below);  // both sides < 2^24: a signed compare is exact
      _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_and_ps(_mm256_castsi256_ps(keep), s)));
    }
    for (; i < i1; i++) {
      const uint32_t u = lowbias32(lowbias32(static_cast<uint32_t>(i) * PHI + key1) ^ key2) >> 8;
      y[i] = x[i] * (static_cast<int32_t>(u) >= threshold ? scale : 0.0f);
    }
  });
}

/* ---- the N-API binding ---------------------------------------------------------------------------------- */

napi_value SiluGate(napi_env env, napi_callback_info info) {
  const char* usage = "siluGate: expected (a: Float32Array, b: Float32Array | null, out: Float32Array)";
  napi_value argv[3];
  float *a, *b, *out;
  size_t na, nb, no;
  if (!native::arguments(env, info, 3, argv) || !native::floats(env, argv[0], &a, &na) || !native::optionalFloats(env, argv[1], &b, &nb) ||
      !native::floats(env, argv[2], &out, &no)) {
    return fail(env, usage);
  }
  if ((b != nullptr && nb != na) || no != na) return fail(env, "siluGate: a, b and out must have the same length");
  siluGate(a, b, out, na);
  return nullptr;
}

napi_value SiluGateBackward(napi_env env, napi_callback_info info) {
  const char* usage = "siluGateBackward: expected (a, b | null, g, da, db | null), Float32Arrays";
  napi_value argv[5];
  float *a, *b, *g, *da, *db;
  size_t na, nb, ng, nda, ndb;
  if (!native::arguments(env, info, 5, argv) || !native::floats(env, argv[0], &a, &na) || !native::optionalFloats(env, argv[1], &b, &nb) ||
      !native::floats(env, argv[2], &g, &ng) || !native::floats(env, argv[3], &da, &nda) || !native::optionalFloats(env, argv[4], &db, &ndb)) {
    return fail(env, usage);
  }
  if ((b == nullptr) != (db == nullptr)) return fail(env, "siluGateBackward: b and db are given together or not at all");
  if ((b != nullptr && (nb != na || ndb != na)) || ng != na || nda != na) return fail(env, "siluGateBackward: the arrays must have the same length");
  siluGateBackward(a, b, g, da, db, na);
  return nullptr;
}

/* Reads (rows, V) from argv[first..first+1] and checks the [rows, V] and [rows] arrays' lengths. */
bool readRows(napi_env env, const napi_value* argv, int first, size_t logits, size_t targets, int64_t* rows, int64_t* V) {
  int64_t dims[2];
  if (!native::integers(env, argv, first, 2, dims) || dims[0] < 0 || dims[1] < 1 || dims[1] > (int64_t{1} << 30)) return false;
  *rows = dims[0], *V = dims[1];
  return static_cast<int64_t>(logits) >= dims[0] * dims[1] && static_cast<int64_t>(targets) >= dims[0];
}

napi_value SoftmaxNll(napi_env env, napi_callback_info info) {
  const char* usage = "softmaxNll: expected (logits [rows·V], targets Int32Array [rows], nll [rows], lse [rows], rows, V) with lengths that fit";
  napi_value argv[6];
  float *logits, *nll, *lse;
  int32_t* targets;
  size_t nl, nt, nn, ns;
  int64_t rows, V;
  if (!native::arguments(env, info, 6, argv) || !native::floats(env, argv[0], &logits, &nl) || !native::int32s(env, argv[1], &targets, &nt) ||
      !native::floats(env, argv[2], &nll, &nn) || !native::floats(env, argv[3], &lse, &ns) || !readRows(env, argv, 4, nl, nt, &rows, &V) ||
      static_cast<int64_t>(nn) < rows || static_cast<int64_t>(ns) < rows) {
    return fail(env, usage);
  }
  int64_t bad[2] = {-1, -1};
  overRange(static_cast<size_t>(rows), 1, static_cast<size_t>((int64_t{1} << 17) / V + 1), [&](size_t r0, size_t r1) {
    bad[r0 == 0 ? 0 : 1] = softmaxNllRows(logits, targets, nll, lse, static_cast<int>(V), r0, r1);
  });
  napi_value result;
  napi_create_int64(env, bad[0] >= 0 ? bad[0] : bad[1], &result);
  return result;
}

napi_value SoftmaxNllBackward(napi_env env, napi_callback_info info) {
  const char* usage = "softmaxNllBackward: expected (logits, targets, lse, g, dlogits, rows, V) with lengths that fit";
  napi_value argv[7];
  float *logits, *lse, *g, *dl;
  int32_t* targets;
  size_t nl, nt, ns, ng, nd;
  int64_t rows, V;
  if (!native::arguments(env, info, 7, argv) || !native::floats(env, argv[0], &logits, &nl) || !native::int32s(env, argv[1], &targets, &nt) ||
      !native::floats(env, argv[2], &lse, &ns) || !native::floats(env, argv[3], &g, &ng) || !native::floats(env, argv[4], &dl, &nd) ||
      !readRows(env, argv, 5, nl, nt, &rows, &V) || static_cast<int64_t>(ns) < rows || static_cast<int64_t>(ng) < rows ||
      static_cast<int64_t>(nd) < rows * V) {
    return fail(env, usage);
  }
  for (int64_t r = 0; r < rows; r++) {
    if (targets[r] < 0 || targets[r] >= V) return fail(env, "softmaxNllBackward: a target is outside [0, V)");
  }
  overRange(static_cast<size_t>(rows), 1, static_cast<size_t>((int64_t{1} << 17) / V + 1), [&](size_t r0, size_t r1) {
    softmaxNllBackwardRows(logits, targets, lse, g, dl, static_cast<int>(V), r0, r1);
  });
  return nullptr;
}

napi_value SoftmaxRows(napi_env env, napi_callback_info info) {
  const char* usage = "softmaxRows: expected (s [rows·cols], mask [maskRows·cols] | null, p [rows·cols], rows, cols, maskRows, scale) with lengths that fit";
  napi_value argv[7];
  float *sc, *mask, *p;
  size_t ns, nm, np;
  int64_t dims[3];
  double scale;
  if (!native::arguments(env, info, 7, argv) || !native::floats(env, argv[0], &sc, &ns) || !native::optionalFloats(env, argv[1], &mask, &nm) ||
      !native::floats(env, argv[2], &p, &np) || !native::integers(env, argv, 3, 3, dims) || napi_get_value_double(env, argv[6], &scale) != napi_ok) {
    return fail(env, usage);
  }
  const int64_t rows = dims[0], cols = dims[1], maskRows = dims[2];
  if (rows < 0 || cols < 1 || cols > (int64_t{1} << 30) || static_cast<int64_t>(ns) < rows * cols || static_cast<int64_t>(np) < rows * cols ||
      (mask != nullptr && (maskRows < 1 || static_cast<int64_t>(nm) < maskRows * cols))) {
    return fail(env, usage);
  }
  overRange(static_cast<size_t>(rows), 1, static_cast<size_t>((int64_t{1} << 16) / cols + 1), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; r++) {
      const float* m = mask == nullptr ? nullptr : mask + (r % maskRows) * cols;
      softmaxRow(sc + r * cols, m, p + r * cols, static_cast<int>(cols), static_cast<float>(scale));
    }
  });
  return nullptr;
}

napi_value SoftmaxRowsBackward(napi_env env, napi_callback_info info) {
  const char* usage = "softmaxRowsBackward: expected (p, dp, ds [rows·cols], rows, cols, scale) with lengths that fit";
  napi_value argv[6];
  float* a[3];  // p, dp, ds
  size_t len[3];
  int64_t dims[2];
  double scale;
  if (!native::arguments(env, info, 6, argv) || !native::floatArrays(env, argv, 3, a, len) || !native::integers(env, argv, 3, 2, dims) ||
      napi_get_value_double(env, argv[5], &scale) != napi_ok) {
    return fail(env, usage);
  }
  const int64_t rows = dims[0], cols = dims[1];
  if (rows < 0 || cols < 1 || cols > (int64_t{1} << 30)) return fail(env, usage);
  for (size_t l : len) {
    if (static_cast<int64_t>(l) < rows * cols) return fail(env, usage);
  }
  overRange(static_cast<size_t>(rows), 1, static_cast<size_t>((int64_t{1} << 16) / cols + 1), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; r++) softmaxRowBackward(a[0] + r * cols, a[1] + r * cols, a[2] + r * cols, static_cast<int>(cols), static_cast<float>(scale));
  });
  return nullptr;
}

napi_value AdamWStep(napi_env env, napi_callback_info info) {
  const char* usage = "adamw: expected (p, g, m, v, pOut, mOut, vOut: Float32Arrays of one length, lr, beta1, beta2, c1, c2, eps, decay)";
  napi_value argv[14];
  float* a[7];
  size_t len[7];
  double h[7];
  if (!native::arguments(env, info, 14, argv) || !native::floatArrays(env, argv, 7, a, len)) return fail(env, usage);
  for (int i = 0; i < 7; i++) {
    if (napi_get_value_double(env, argv[7 + i], &h[i]) != napi_ok) return fail(env, usage);
    if (len[i] != len[0]) return fail(env, "adamw: p, g, m, v and the outputs must have the same length");
  }
  const float* in[4] = {a[0], a[1], a[2], a[3]};
  float* out[3] = {a[4], a[5], a[6]};
  auto f = [](double x) { return static_cast<float>(x); };
  const AdamW hyper{f(h[0]), f(h[1]), f(1 - h[1]), f(h[2]), f(1 - h[2]), f(h[3]), f(h[4]), f(h[5]), f(h[6])};
  adamw(in, out, len[0], hyper);
  return nullptr;
}

napi_value Dropout(napi_env env, napi_callback_info info) {
  const char* usage = "dropout: expected (x: Float32Array, y: Float32Array, key1, key2 (uint32), threshold (0 … 2^24), scale)";
  napi_value argv[6];
  float *x, *y;
  size_t nx, ny;
  int64_t ints[3];
  double scale;
  if (!native::arguments(env, info, 6, argv) || !native::floats(env, argv[0], &x, &nx) || !native::floats(env, argv[1], &y, &ny) ||
      !native::integers(env, argv, 2, 3, ints) || napi_get_value_double(env, argv[5], &scale) != napi_ok) {
    return fail(env, usage);
  }
  if (ints[0] < 0 || ints[0] > 0xFFFFFFFFll || ints[1] < 0 || ints[1] > 0xFFFFFFFFll || ints[2] < 0 || ints[2] > (1 << 24)) return fail(env, usage);
  if (ny != nx) return fail(env, "dropout: x and y must have the same length");
  if (nx > 0xFFFFFFFFull) return fail(env, "dropout: more than 2^32 elements");
  dropout(x, y, nx, static_cast<uint32_t>(ints[0]), static_cast<uint32_t>(ints[1]), static_cast<int32_t>(ints[2]), static_cast<float>(scale));
  return nullptr;
}

}  // namespace

void native::registerPointwise(napi_env env, napi_value exports) {
  const std::pair<const char*, napi_callback> functions[] = {
      {"siluGate", SiluGate}, {"siluGateBackward", SiluGateBackward}, {"softmaxNll", SoftmaxNll}, {"softmaxNllBackward", SoftmaxNllBackward},
      {"softmaxRows", SoftmaxRows}, {"softmaxRowsBackward", SoftmaxRowsBackward}, {"adamw", AdamWStep}, {"dropout", Dropout}};
  native::exportFunctions(env, exports, functions);
}
