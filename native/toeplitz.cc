/*
 * toeplitz-lab's native Toeplitz product: y = T x per channel and its gradients (TNN, Qin et al. 2023, §3.3),
 * by FFT on AVX2 + FMA, called by the wasm backend's Toeplitz kernels (src/backend/kernels.ts) in place on the
 * wasm heap. The same math as src/ops/toeplitz-kernel.ts (which runs PFFFT in WebAssembly), laid out for SIMD:
 *
 *   y[b,i,c] = Σ_j t_c[i−j] · x[b,j,c]                                 (forward)
 *   ∂L/∂x = Tᵀ g = J T J g                                              (J reverses: T is persymmetric)
 *   ∂L/∂t_c[k] = Σ_b Σ_i g[b,i,c] · x[b,i−k,c] = Σ_b (J g ∗ x)[n−1−k]    (a linear convolution, length 2n−1)
 *
 * each a circular convolution of size N ≥ 2n − 1 (`convolutionSize`: the smallest 2,3,5-smooth one).
 *
 * Layout: the transforms run across channels, not along them. A block of 16 channels is one complex signal of
 * 8 lanes, channels c0..c0+7 as the real parts and c0+8..c0+15 as the imaginary parts, so a point of the
 * signal is 16 consecutive floats of a channels-last row (one 64-byte line): moving a block between [batch, n,
 * channels] and the transforms copies rows (`stageIn`, `stageOut`), no transpose, and every butterfly is plain
 * 8-wide arithmetic, no shuffles.
 * Two real signals u, v share one transform Z = FFT(u + i v); their spectra are recovered by symmetry,
 *   U[k] = (Z[k] + conj Z[−k]) / 2,   V[k] = (Z[k] − conj Z[−k]) / 2i,
 * so the channel-by-channel product of two packed signals is one pass over the spectra (`pairProduct`).
 *
 * The FFT: mixed radix 4, 2, 3, 5, decimation in frequency forward (natural order in, digit-reversed out)
 * and its adjoint backward (digit-reversed in, natural out), so spectra are never reordered: products pair
 * position p with `partner[p]`, the position of frequency −k. Depth-first over sub-transforms until they fit
 * in L2 (LOCAL_POINTS), then level by level. Backward transforms are unnormalised; 1/N is folded into the products.
 *
 * Threads: channel blocks are independent; with 2 threads the helper takes the second half of the blocks.
 * Each output element is computed by the same operations either way: results do not depend on the thread
 * count. Compiled for AVX2 + FMA only (the pragma below); JS calls it only where `available` is true.
 *
 * JS: toeplitzForward(x, t, y, batch, n, channels, causal) -> whether x and t were all finite
 *     toeplitzBackward(g, x, t, dx, dt, batch, n, channels, causal)
 *     toeplitzTransforms(n, count)   `count` bare block transforms of the size n uses (the FFT floor)
 *     toeplitzSize(n)                N
 *   x, y, g, dx: Float32Array [batch, n, channels]; t, dt: [L, channels], L = n (causal, lags 0..n−1) or
 *   2n − 1 (lags −(n−1)..n−1 ascending).
 */
#include <immintrin.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "common.h"

#pragma GCC target("avx2,fma")

namespace {

using native::fail;

constexpr int LANES = 8;                // floats per ymm register
constexpr int BLOCK = 2 * LANES;        // channels per transform: 8 real parts, 8 imaginary parts
constexpr ptrdiff_t POINT = 2 * LANES;  // floats per point of a transform
constexpr int LOCAL_POINTS = 4096;      // sub-transforms this small (256 KB) run level by level

/* ---- 8-lane complex arithmetic -------------------------------------------------------------------------- */

struct C8 {
  __m256 re, im;
};
inline C8 load(const float* p) { return {_mm256_load_ps(p), _mm256_load_ps(p + LANES)}; }
inline void store(float* p, C8 v) {
  _mm256_store_ps(p, v.re);
  _mm256_store_ps(p + LANES, v.im);
}
inline C8 add(C8 a, C8 b) { return {_mm256_add_ps(a.re, b.re), _mm256_add_ps(a.im, b.im)}; }
inline C8 sub(C8 a, C8 b) { return {_mm256_sub_ps(a.re, b.re), _mm256_sub_ps(a.im, b.im)}; }
inline C8 scale(C8 a, __m256 s) { return {_mm256_mul_ps(a.re, s), _mm256_mul_ps(a.im, s)}; }
inline __m256 neg(__m256 a) { return _mm256_sub_ps(_mm256_setzero_ps(), a); }
inline C8 conj(C8 a) { return {a.re, neg(a.im)}; }
inline C8 timesI(C8 a) { return {neg(a.im), a.re}; }
/* a · b, lane by lane. */
inline C8 mul(C8 a, C8 b) {
  return {_mm256_fmsub_ps(a.re, b.re, _mm256_mul_ps(a.im, b.im)), _mm256_fmadd_ps(a.re, b.im, _mm256_mul_ps(a.im, b.re))};
}
/* a · (wr + i wi) for one complex number w in every lane. */
inline C8 mulScalar(C8 a, float wr, float wi) {
  const __m256 r = _mm256_set1_ps(wr), i = _mm256_set1_ps(wi);
  return {_mm256_fmsub_ps(a.re, r, _mm256_mul_ps(a.im, i)), _mm256_fmadd_ps(a.re, i, _mm256_mul_ps(a.im, r))};
}
/* −i·a for the forward transform (ω = e^{−2πi/r}), +i·a for the inverse. */
template <bool INV>
inline C8 rot(C8 a) {
  return INV ? C8{neg(a.im), a.re} : C8{a.im, neg(a.re)};
}

/* ---- r-point DFTs in place: a[q] = Σ_k a[k] ω_r^{±kq} ---------------------------------------------------- */

template <int R, bool INV>
struct Dft;

template <bool INV>
struct Dft<2, INV> {
  static void run(C8* a) {
    const C8 t = a[0];
    a[0] = add(t, a[1]);
    a[1] = sub(t, a[1]);
  }
};

template <bool INV>
struct Dft<3, INV> {
  static void run(C8* a) {
    const C8 s = add(a[1], a[2]);
    const C8 t = sub(a[0], scale(s, _mm256_set1_ps(0.5f)));                            // a0 − (a1 + a2)/2
    const C8 u = rot<INV>(scale(sub(a[1], a[2]), _mm256_set1_ps(0.86602540378443865f)));  // ∓i sin(2π/3) (a1 − a2)
    a[0] = add(a[0], s);
    a[1] = add(t, u);
    a[2] = sub(t, u);
  }
};

template <bool INV>
struct Dft<4, INV> {
  static void run(C8* a) {
    const C8 t0 = add(a[0], a[2]), t1 = sub(a[0], a[2]), t2 = add(a[1], a[3]), t3 = rot<INV>(sub(a[1], a[3]));
    a[0] = add(t0, t2);
    a[1] = add(t1, t3);
    a[2] = sub(t0, t2);
    a[3] = sub(t1, t3);
  }
};

template <bool INV>
struct Dft<5, INV> {
  static void run(C8* a) {
    const __m256 c1 = _mm256_set1_ps(0.30901699437494742f), c2 = _mm256_set1_ps(-0.80901699437494742f);  // cos 2π/5, cos 4π/5
    const __m256 s1 = _mm256_set1_ps(0.95105651629515357f), s2 = _mm256_set1_ps(0.58778525229247313f);   // sin 2π/5, sin 4π/5
    const C8 s14 = add(a[1], a[4]), d14 = sub(a[1], a[4]), s23 = add(a[2], a[3]), d23 = sub(a[2], a[3]);
    const C8 r1 = {_mm256_fmadd_ps(c2, s23.re, _mm256_fmadd_ps(c1, s14.re, a[0].re)), _mm256_fmadd_ps(c2, s23.im, _mm256_fmadd_ps(c1, s14.im, a[0].im))};
    const C8 r2 = {_mm256_fmadd_ps(c1, s23.re, _mm256_fmadd_ps(c2, s14.re, a[0].re)), _mm256_fmadd_ps(c1, s23.im, _mm256_fmadd_ps(c2, s14.im, a[0].im))};
    const C8 i1 = rot<INV>({_mm256_fmadd_ps(s2, d23.re, _mm256_mul_ps(s1, d14.re)), _mm256_fmadd_ps(s2, d23.im, _mm256_mul_ps(s1, d14.im))});
    const C8 i2 = rot<INV>({_mm256_fmsub_ps(s2, d14.re, _mm256_mul_ps(s1, d23.re)), _mm256_fmsub_ps(s2, d14.im, _mm256_mul_ps(s1, d23.im))});
    a[0] = add(a[0], add(s14, s23));
    a[1] = add(r1, i1);
    a[4] = sub(r1, i1);
    a[2] = add(r2, i2);
    a[3] = sub(r2, i2);
  }
};

/* ---- plans ---------------------------------------------------------------------------------------------- */

/* The smallest N ≥ 2n − 1 with no prime factor but 2, 3 and 5. */
int convolutionSize(int n) {
  for (int size = 2 * n - 1 > 1 ? 2 * n - 1 : 1;; size++) {
    int m = size;
    for (int p : {2, 3, 5}) {
      while (m % p == 0) m /= p;
    }
    if (m == 1) return size;
  }
}

/*
 * One transform size: level l splits each sub-transform of length[l] points into radix[l] of length[l] /
 * radix[l]. twiddles[l][(j·(r−1) + q − 1)·2 + {0, 1}] = cos, −sin of 2π j q / length[l] for j < length[l]/r,
 * 1 ≤ q < r. partner[p] is the position of frequency −k for the frequency k at position p.
 */
struct Plan {
  int size;
  std::vector<int> radix, length;
  std::vector<std::vector<float>> twiddles;
  std::vector<int> partner;
};

Plan makePlan(int size) {
  Plan plan{size, {}, {}, {}, {}};
  int rest = size;
  while (rest % 4 == 0) rest /= 4, plan.radix.push_back(4);
  while (rest % 2 == 0) rest /= 2, plan.radix.push_back(2);
  while (rest % 3 == 0) rest /= 3, plan.radix.push_back(3);
  while (rest % 5 == 0) rest /= 5, plan.radix.push_back(5);
  int len = size;
  for (int r : plan.radix) {
    plan.length.push_back(len);
    const int m = len / r;
    std::vector<float> w(static_cast<size_t>(m) * (r - 1) * 2);
    for (int j = 0; j < m; j++) {
      for (int q = 1; q < r; q++) {
        const double angle = 2 * M_PI * static_cast<double>(j) * q / len;
        w[(static_cast<size_t>(j) * (r - 1) + q - 1) * 2] = static_cast<float>(std::cos(angle));
        w[(static_cast<size_t>(j) * (r - 1) + q - 1) * 2 + 1] = static_cast<float>(-std::sin(angle));
      }
    }
    plan.twiddles.push_back(std::move(w));
    len = m;
  }
  // The frequency at position p: its digits q_l (position p = Σ q_l · length[l+1]) read in reverse order.
  std::vector<int> position(size);
  for (int p = 0; p < size; p++) {
    int rem = p, freq = 0, weight = 1;
    for (size_t l = 0; l < plan.radix.size(); l++) {
      const int m = plan.length[l] / plan.radix[l];
      freq += rem / m * weight;
      rem %= m;
      weight *= plan.radix[l];
    }
    position[freq] = p;
  }
  plan.partner.resize(size);
  for (int k = 0; k < size; k++) plan.partner[position[k]] = position[(size - k) % size];
  return plan;
}

/* The plan for size N, made once per size and shared by all threads (read-only once made). */
const Plan& planFor(int size) {
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<Plan>> plans;
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<Plan>& plan = plans[size];
  if (!plan) plan = std::make_unique<Plan>(makePlan(size));
  return *plan;
}

/* ---- the transforms ------------------------------------------------------------------------------------- */

/*
 * Where level 0 of a transform reads its points and its inverse writes them: points [from, from + count) of
 * the signal are consecutive points of a staged block (`stageIn`), in reverse order when `reverse`; every
 * other point is zero. Up to two such ranges; the inverse writes range 0 only, to `out`. `check` gathers
 * 0·value for every value read: NaN if any was NaN or ±∞.
 */
struct Rows {
  const float* base[2];
  float* out;
  int from[2], count[2], ranges;
  bool reverse;
  __m256 check;

  Rows(const float* base0, int from0, int count0, bool reverse_, float* out_ = nullptr)
      : base{base0, nullptr}, out(out_), from{from0, 0}, count{count0, 0}, ranges(1), reverse(reverse_), check(_mm256_setzero_ps()) {}
  void second(const float* base1, int from1, int count1) {
    base[1] = base1, from[1] = from1, count[1] = count1, ranges = 2;
  }
  /* The offset in floats of point p within range r, or −1 if p is not in it. */
  ptrdiff_t offset(int r, int p) const {
    const int i = p - from[r];
    if (i < 0 || i >= count[r]) return -1;
    return static_cast<ptrdiff_t>(reverse ? count[r] - 1 - i : i) * POINT;
  }
  C8 load(int p) {
    for (int r = 0; r < ranges; r++) {
      const ptrdiff_t at = offset(r, p);
      if (at < 0) continue;
      const C8 v = ::load(base[r] + at);
      const __m256 zero = _mm256_setzero_ps();
      check = _mm256_add_ps(check, _mm256_add_ps(_mm256_mul_ps(v.re, zero), _mm256_mul_ps(v.im, zero)));
      return v;
    }
    return {_mm256_setzero_ps(), _mm256_setzero_ps()};
  }
  void store(int p, C8 v) const {
    const ptrdiff_t at = offset(0, p);
    if (at >= 0) ::store(out + at, v);
  }
  bool finite() const { return _mm256_movemask_ps(_mm256_cmp_ps(check, check, _CMP_UNORD_Q)) == 0; }
};

/*
 * One decimation-in-frequency level on a sub-transform of n points: r-point DFTs, then twiddles. Level 0
 * reads its points from `rows` (a staged block, and the zero padding, in the same pass) when given.
 */
template <int R, bool ROWS>
void forwardLevel(float* data, int n, const float* w, Rows* rows) {
  const int m = n / R;
  for (int j = 0; j < m; j++, w += 2 * (R - 1)) {
    C8 a[R];
    for (int k = 0; k < R; k++) a[k] = ROWS ? rows->load(j + k * m) : load(data + POINT * (j + k * m));
    Dft<R, false>::run(a);
    store(data + POINT * j, a[0]);
    for (int q = 1; q < R; q++) store(data + POINT * (j + q * m), mulScalar(a[q], w[2 * q - 2], w[2 * q - 1]));
  }
}

/* The adjoint of `forwardLevel`: conjugate twiddles, then inverse r-point DFTs; level 0 writes to `rows`. */
template <int R, bool ROWS>
void inverseLevel(float* data, int n, const float* w, Rows* rows) {
  const int m = n / R;
  for (int j = 0; j < m; j++, w += 2 * (R - 1)) {
    C8 a[R];
    a[0] = load(data + POINT * j);
    for (int q = 1; q < R; q++) a[q] = mulScalar(load(data + POINT * (j + q * m)), w[2 * q - 2], -w[2 * q - 1]);
    Dft<R, true>::run(a);
    for (int k = 0; k < R; k++) {
      if (ROWS) {
        rows->store(j + k * m, a[k]);
      } else {
        store(data + POINT * (j + k * m), a[k]);
      }
    }
  }
}

template <bool ROWS>
void levelOf(bool inverse, int r, float* data, int n, const float* w, Rows* rows) {
  switch (r * 2 + inverse) {
    case 4: forwardLevel<2, ROWS>(data, n, w, rows); break;
    case 5: inverseLevel<2, ROWS>(data, n, w, rows); break;
    case 6: forwardLevel<3, ROWS>(data, n, w, rows); break;
    case 7: inverseLevel<3, ROWS>(data, n, w, rows); break;
    case 8: forwardLevel<4, ROWS>(data, n, w, rows); break;
    case 9: inverseLevel<4, ROWS>(data, n, w, rows); break;
    case 10: forwardLevel<5, ROWS>(data, n, w, rows); break;
    default: inverseLevel<5, ROWS>(data, n, w, rows); break;
  }
}

/* One level of radix r, forward or inverse, in place or (level 0) through `rows`. */
void level(bool inverse, int r, float* data, int n, const float* w, Rows* rows) {
  if (rows != nullptr) {
    levelOf<true>(inverse, r, data, n, w, rows);
  } else {
    levelOf<false>(inverse, r, data, n, w, nullptr);
  }
}

/*
 * Forward transform (digit-reversed output) of the sub-transform at level l starting at `data`; at level 0
 * the input comes from `rows` if given, else from `data`.
 */
void forward(const Plan& plan, float* data, Rows* rows = nullptr, size_t l = 0) {
  const size_t levels = plan.radix.size();
  if (levels == 0) {  // N = 1
    if (rows != nullptr) store(data, rows->load(0));
    return;
  }
  const int n = plan.length[l];
  level(false, plan.radix[l], data, n, plan.twiddles[l].data(), rows);
  const int m = n / plan.radix[l];
  if (l + 1 == levels) return;
  if (m <= LOCAL_POINTS) {  // the rest level by level over this sub-transform, in cache
    for (size_t k = l + 1; k < levels; k++) {
      for (int s = 0; s < n; s += plan.length[k]) level(false, plan.radix[k], data + POINT * s, plan.length[k], plan.twiddles[k].data(), nullptr);
    }
    return;
  }
  for (int q = 0; q < plan.radix[l]; q++) forward(plan, data + POINT * q * m, nullptr, l + 1);
}

/* Unnormalised inverse of `forward` (inverse(forward(x)) = N·x), in place or, at level 0, into `rows`. */
void inverse(const Plan& plan, float* data, Rows* rows = nullptr, size_t l = 0) {
  const size_t levels = plan.radix.size();
  if (levels == 0) {
    if (rows != nullptr) rows->store(0, load(data));
    return;
  }
  const int n = plan.length[l];
  const int m = n / plan.radix[l];
  if (l + 1 < levels && m <= LOCAL_POINTS) {
    for (size_t k = levels; k-- > l + 1;) {
      for (int s = 0; s < n; s += plan.length[k]) level(true, plan.radix[k], data + POINT * s, plan.length[k], plan.twiddles[k].data(), nullptr);
    }
  } else if (l + 1 < levels) {
    for (int q = 0; q < plan.radix[l]; q++) inverse(plan, data + POINT * q * m, nullptr, l + 1);
  }
  level(true, plan.radix[l], data, n, plan.twiddles[l].data(), rows);
}

/* ---- blocks: the products of two packed spectra ----------------------------------------------------------- */

/* A 64-byte-aligned float buffer per thread and purpose, grown as needed. */
struct Buffer {
  float* data = nullptr;
  size_t capacity = 0;
  float* get(size_t count) {
    if (count > capacity) {
      std::free(data);
      data = static_cast<float*>(std::aligned_alloc(64, count * sizeof(float)));
      capacity = count;
    }
    return data;
  }
  ~Buffer() { std::free(data); }
};

/*
 * The channel-by-channel product of two packed spectra A = FFT(a_u + i a_v), B = FFT(b_u + i b_v), scaled:
 *   FFT((a_u ∗ b_u) + i (a_v ∗ b_v))[k] = (S_a S_b − i D_a D_b) / 4,   S = Z[k] + conj Z[−k], D = Z[k] − conj Z[−k]
 * (S = 2 Z_u and D = 2i Z_v). At −k, S and D become conj S and −conj D: the pair (p, q = partner[p]) shares
 * both products. Returns the values at p and at q.
 */
inline void pairProduct(C8 ap, C8 aq, C8 bp, C8 bq, __m256 s, C8* atP, C8* atQ) {
  const C8 ss = mul(add(ap, conj(aq)), add(bp, conj(bq)));  // S_a S_b at p
  const C8 dd = mul(sub(ap, conj(aq)), sub(bp, conj(bq)));  // D_a D_b at p
  *atP = scale(sub(ss, timesI(dd)), s);
  *atQ = scale(sub(conj(ss), timesI(conj(dd))), s);
}

struct Shape {
  int batch, n, channels;
  bool causal;
  int lags() const { return causal ? n : 2 * n - 1; }
  int blocks() const { return (channels + BLOCK - 1) / BLOCK; }
};

/*
 * Staging: the rows of a channels-last array are a page or more apart (1536 channels: 6 KB), so reading one
 * block's 64 bytes from each row misses the cache and the TLB on every row, beyond the hardware prefetchers
 * (measured: the whole product 2.8–3.3× its bare transforms this way, 1.4–1.6× on contiguous blocks). So
 * STAGE blocks at a time are copied to block-major order, [block][row][16 lanes] (zero lanes past the last
 * channel), and the transforms read and write there; one row visit then moves STAGE·64 contiguous bytes.
 */
constexpr int STAGE = 4;
constexpr int AHEAD = 8;  // rows between a row's prefetch and its copy

/* Channels [c0, c0 + 16·blocks) of `rows` rows of src (row r at src + r·C) into block-major dst. */
void stageIn(const float* src, ptrdiff_t C, int rows, int c0, int blocks, float* dst) {
  const size_t plane = static_cast<size_t>(rows) * BLOCK;
  for (int r = 0; r < rows; r++) {
    const float* row = src + r * C + c0;
    if (r + AHEAD < rows) {  // the row AHEAD rows on: its page is not where the prefetchers look
      const char* next = reinterpret_cast<const char*>(row + AHEAD * C);
      for (int line = 0; line < blocks; line++) _mm_prefetch(next + 64 * line, _MM_HINT_T0);
    }
    for (int k = 0; k < blocks; k++) {
      float* to = dst + k * plane + static_cast<size_t>(r) * BLOCK;
      const ptrdiff_t width = C - c0 - k * BLOCK < BLOCK ? C - c0 - k * BLOCK : BLOCK;
      if (width == BLOCK) {
        _mm256_store_ps(to, _mm256_loadu_ps(row + k * BLOCK));
        _mm256_store_ps(to + LANES, _mm256_loadu_ps(row + k * BLOCK + LANES));
      } else {
        std::memset(to, 0, BLOCK * sizeof(float));
        std::memcpy(to, row + k * BLOCK, width * sizeof(float));
      }
    }
  }
}

/* The inverse of `stageIn`: block-major src into channels [c0, c0 + 16·blocks) ∩ [0, C) of dst's rows. */
void stageOut(const float* src, int rows, ptrdiff_t C, int c0, int blocks, float* dst) {
  const size_t plane = static_cast<size_t>(rows) * BLOCK;
  for (int r = 0; r < rows; r++) {
    float* row = dst + r * C + c0;
    for (int k = 0; k < blocks; k++) {
      const float* from = src + k * plane + static_cast<size_t>(r) * BLOCK;
      const ptrdiff_t width = C - c0 - k * BLOCK < BLOCK ? C - c0 - k * BLOCK : BLOCK;
      if (width == BLOCK) {
        _mm256_storeu_ps(row + k * BLOCK, _mm256_load_ps(from));
        _mm256_storeu_ps(row + k * BLOCK + LANES, _mm256_load_ps(from + LANES));
      } else {
        std::memcpy(row + k * BLOCK, from, width * sizeof(float));
      }
    }
  }
}

/*
 * K = FFT(a_u + i a_v) of one staged block of coefficients (L rows): lags 0..n−1 at positions 0..n−1, lags
 * −(n−1)..−1 at N−n+1..N−1. Returns false if a coefficient was not finite.
 */
bool coefficientSpectrum(const Plan& plan, const float* t, const Shape& s, float* K) {
  Rows rows(t + static_cast<ptrdiff_t>(s.causal ? 0 : s.n - 1) * POINT, 0, s.n, false);
  if (!s.causal) rows.second(t, plan.size - s.n + 1, s.n - 1);
  forward(plan, K, &rows);
  return rows.finite();
}

thread_local Buffer bufK, bufD, bufX, bufG, stageT, stageX, stageG, stageY, stageDT;

/*
 * The channel blocks [b0, b1), STAGE at a time: coefficient spectra K_k once per block, then per batch
 * element x staged, X = FFT(x_k), X ← K_k ⊙ X, its inverse into the staged y, y written back.
 * Returns false if x or t held a non-finite value.
 */
bool forwardBlocks(const Plan& plan, const Shape& s, const float* x, const float* t, float* y, int b0, int b1) {
  const int N = plan.size, n = s.n, L = s.lags();
  const size_t spectrum = POINT * N, plane = static_cast<size_t>(n) * BLOCK, tPlane = static_cast<size_t>(L) * BLOCK;
  float *K = bufK.get(STAGE * spectrum), *X = bufX.get(spectrum);
  float *ts = stageT.get(STAGE * tPlane), *xs = stageX.get(STAGE * plane), *ys = stageY.get(STAGE * plane);
  const ptrdiff_t C = s.channels;
  const __m256 scaling = _mm256_set1_ps(0.25f / N);
  bool finite = true;
  for (int first = b0; first < b1; first += STAGE) {
    const int blocks = b1 - first < STAGE ? b1 - first : STAGE, c0 = first * BLOCK;
    stageIn(t, C, L, c0, blocks, ts);
    for (int k = 0; k < blocks; k++) finite = coefficientSpectrum(plan, ts + k * tPlane, s, K + k * spectrum) && finite;
    for (int b = 0; b < s.batch; b++) {
      const ptrdiff_t row0 = static_cast<ptrdiff_t>(b) * n * C;
      stageIn(x + row0, C, n, c0, blocks, xs);
      for (int k = 0; k < blocks; k++) {
        Rows in(xs + k * plane, 0, n, false);
        forward(plan, X, &in);
        finite = in.finite() && finite;
        const float* Kk = K + k * spectrum;
        for (int p = 0; p < N; p++) {  // X ← K ⊙ X, channel by channel
          const int q = plan.partner[p];
          if (q < p) continue;
          C8 atP, atQ;
          pairProduct(load(Kk + POINT * p), load(Kk + POINT * q), load(X + POINT * p), load(X + POINT * q), scaling, &atP, &atQ);
          store(X + POINT * q, atQ);
          store(X + POINT * p, atP);
        }
        Rows out(nullptr, 0, n, false, ys + k * plane);
        inverse(plan, X, &out);
      }
      stageOut(ys, n, C, c0, blocks, y + row0);
    }
  }
  return finite;
}

/*
 * dx and dt for channel blocks [b0, b1), STAGE at a time: K_k once per block; per batch element g and x
 * staged, G = FFT(J g_k), X = FFT(x_k), D_k += G ⊙ X, G ← K_k ⊙ G, its inverse (reversed) into the staged dx;
 * at the end each D_k's inverse (the first L points, reversed) into the staged dt.
 */
void backwardBlocks(const Plan& plan, const Shape& s, const float* g, const float* x, const float* t, float* dx, float* dt, int b0, int b1) {
  const int N = plan.size, n = s.n, L = s.lags();
  const size_t spectrum = POINT * N, plane = static_cast<size_t>(n) * BLOCK, tPlane = static_cast<size_t>(L) * BLOCK;
  float *K = bufK.get(STAGE * spectrum), *D = bufD.get(STAGE * spectrum), *X = bufX.get(spectrum), *G = bufG.get(spectrum);
  float *ts = stageT.get(STAGE * tPlane), *xs = stageX.get(STAGE * plane), *gs = stageG.get(STAGE * plane);
  float *dxs = stageY.get(STAGE * plane), *dts = stageDT.get(STAGE * tPlane);
  const ptrdiff_t C = s.channels;
  const __m256 scaling = _mm256_set1_ps(0.25f / N);
  for (int first = b0; first < b1; first += STAGE) {
    const int blocks = b1 - first < STAGE ? b1 - first : STAGE, c0 = first * BLOCK;
    stageIn(t, C, L, c0, blocks, ts);
    for (int k = 0; k < blocks; k++) coefficientSpectrum(plan, ts + k * tPlane, s, K + k * spectrum);
    std::memset(D, 0, sizeof(float) * blocks * spectrum);
    for (int b = 0; b < s.batch; b++) {
      const ptrdiff_t row0 = static_cast<ptrdiff_t>(b) * n * C;
      stageIn(g + row0, C, n, c0, blocks, gs);
      stageIn(x + row0, C, n, c0, blocks, xs);
      for (int k = 0; k < blocks; k++) {
        Rows gIn(gs + k * plane, 0, n, true);  // J g
        Rows xIn(xs + k * plane, 0, n, false);
        forward(plan, G, &gIn);
        forward(plan, X, &xIn);
        const float *Kk = K + k * spectrum;
        float* Dk = D + k * spectrum;
        for (int p = 0; p < N; p++) {  // D_k += G ⊙ X (Σ_b J g ∗ x), G ← K_k ⊙ G (T J g)
          const int q = plan.partner[p];
          if (q < p) continue;
          const C8 gp = load(G + POINT * p), gq = load(G + POINT * q);
          C8 atP, atQ;
          pairProduct(gp, gq, load(X + POINT * p), load(X + POINT * q), scaling, &atP, &atQ);
          if (q != p) store(Dk + POINT * q, add(load(Dk + POINT * q), atQ));
          store(Dk + POINT * p, add(load(Dk + POINT * p), atP));
          pairProduct(load(Kk + POINT * p), load(Kk + POINT * q), gp, gq, scaling, &atP, &atQ);
          store(G + POINT * q, atQ);
          store(G + POINT * p, atP);
        }
        Rows out(nullptr, 0, n, true, dxs + k * plane);  // dx = J T J g
        inverse(plan, G, &out);
      }
      stageOut(dxs, n, C, c0, blocks, dx + row0);
    }
    // dt row r (lag r − (n−1), or r when causal) = (J g ∗ x)[L − 1 − r]: the first L points, reversed.
    for (int k = 0; k < blocks; k++) {
      Rows out(nullptr, 0, L, true, dts + k * tPlane);
      inverse(plan, D + k * spectrum, &out);
    }
    stageOut(dts, L, C, c0, blocks, dt);
  }
}

/* Runs work(b0, b1) over the channel blocks, split in two halves on two threads when asked and worth it. */
template <typename Work>
void overBlocks(const Shape& s, int size, Work work) {
  const int blocks = s.blocks();
  const int64_t cost = static_cast<int64_t>(size) * s.batch * blocks;
  if (native::threads < 2 || blocks < 2 || cost < (int64_t{1} << 15)) {
    work(0, blocks);
    return;
  }
  const int half = blocks / 2;
  native::runOnTwo([&] { work(0, half); }, [&] { work(half, blocks); });
}

/* ---- the N-API binding ---------------------------------------------------------------------------------- */

/* Reads (batch, n, channels, causal) from argv[first..first+3]; false with an exception pending if invalid. */
bool readShape(napi_env env, const napi_value* argv, int first, Shape* s, const char* who) {
  int64_t dims[3];
  bool causal;
  if (!native::integers(env, argv, first, 3, dims) || napi_get_value_bool(env, argv[first + 3], &causal) != napi_ok) {
    fail(env, who);
    return false;
  }
  if (dims[0] < 1 || dims[1] < 1 || dims[2] < 1 || dims[1] > (1 << 24) || dims[0] * dims[1] * dims[2] > (int64_t{1} << 34)) {
    fail(env, "toeplitz: batch, n and channels must be ≥ 1 (and n ≤ 2^24)");
    return false;
  }
  *s = {static_cast<int>(dims[0]), static_cast<int>(dims[1]), static_cast<int>(dims[2]), causal};
  return true;
}

bool longEnough(size_t length, int64_t needed) { return static_cast<int64_t>(length) >= needed; }

napi_value Forward(napi_env env, napi_callback_info info) {
  const char* usage = "toeplitzForward: expected (x, t, y, batch, n, channels, causal)";
  napi_value argv[7];
  float* a[3];  // x, t, y
  size_t len[3];
  if (!native::arguments(env, info, 7, argv) || !native::floatArrays(env, argv, 3, a, len)) return fail(env, usage);
  Shape s;
  if (!readShape(env, argv, 3, &s, usage)) return nullptr;
  const int64_t values = static_cast<int64_t>(s.batch) * s.n * s.channels;
  if (!longEnough(len[0], values) || !longEnough(len[2], values) || !longEnough(len[1], static_cast<int64_t>(s.lags()) * s.channels)) {
    return fail(env, "toeplitzForward: an array is shorter than its shape says");
  }
  const Plan& plan = planFor(convolutionSize(s.n));
  bool finite[2] = {true, true};
  overBlocks(s, plan.size, [&](int b0, int b1) { finite[b0 == 0 ? 0 : 1] = forwardBlocks(plan, s, a[0], a[1], a[2], b0, b1); });
  napi_value result;
  napi_get_boolean(env, finite[0] && finite[1], &result);
  return result;
}

napi_value Backward(napi_env env, napi_callback_info info) {
  const char* usage = "toeplitzBackward: expected (g, x, t, dx, dt, batch, n, channels, causal)";
  napi_value argv[9];
  float* a[5];  // g, x, t, dx, dt
  size_t len[5];
  if (!native::arguments(env, info, 9, argv) || !native::floatArrays(env, argv, 5, a, len)) return fail(env, usage);
  Shape s;
  if (!readShape(env, argv, 5, &s, usage)) return nullptr;
  const int64_t values = static_cast<int64_t>(s.batch) * s.n * s.channels, coefficients = static_cast<int64_t>(s.lags()) * s.channels;
  if (!longEnough(len[0], values) || !longEnough(len[1], values) || !longEnough(len[3], values) || !longEnough(len[2], coefficients) ||
      !longEnough(len[4], coefficients)) {
    return fail(env, "toeplitzBackward: an array is shorter than its shape says");
  }
  const Plan& plan = planFor(convolutionSize(s.n));
  overBlocks(s, plan.size, [&](int b0, int b1) { backwardBlocks(plan, s, a[0], a[1], a[2], a[3], a[4], b0, b1); });
  return nullptr;
}

napi_value Transforms(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t args[2];
  if (!native::arguments(env, info, 2, argv) || !native::integers(env, argv, 0, 2, args) || args[0] < 1 || args[0] > (1 << 24) || args[1] < 0) {
    return fail(env, "toeplitzTransforms: expected (n ≥ 1, count ≥ 0)");
  }
  const Plan& plan = planFor(convolutionSize(static_cast<int>(args[0])));
  const int64_t count = args[1];
  auto run = [&plan](int64_t times) {
    float* data = bufX.get(POINT * plan.size);
    std::memset(data, 0, sizeof(float) * POINT * plan.size);
    for (int64_t i = 0; i < times; i++) forward(plan, data);
  };
  if (native::threads < 2 || count < 2) {
    run(count);
  } else {
    native::runOnTwo([&] { run(count / 2); }, [&] { run(count - count / 2); });
  }
  return nullptr;
}

napi_value Size(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t n;
  if (!native::arguments(env, info, 1, argv) || !native::integers(env, argv, 0, 1, &n) || n < 1 || n > (1 << 24)) return fail(env, "toeplitzSize: expected n ≥ 1");
  napi_value result;
  napi_create_int32(env, convolutionSize(static_cast<int>(n)), &result);
  return result;
}

}  // namespace

void native::registerToeplitz(napi_env env, napi_value exports) {
  const std::pair<const char*, napi_callback> functions[] = {
      {"toeplitzForward", Forward}, {"toeplitzBackward", Backward}, {"toeplitzTransforms", Transforms}, {"toeplitzSize", Size}};
  native::exportFunctions(env, exports, functions);
}
