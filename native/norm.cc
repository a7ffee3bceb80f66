/*
 * toeplitz-lab's native normalisation kernels on AVX2 + FMA: SimpleRMSNorm, RMSNorm and LayerNorm over the last
 * axis, forward and backward, a row of d values at a time, its few passes while it is in L1 (called by the wasm
 * backend's kernels, src/backend/kernels.ts, in place on the wasm heap; src/ops/norm.ts defines the op and its
 * tfjs fallback).
 *
 * A row x ∈ R^d has a centre μ, a root ρ and an inverse scale ŝ, by kind:
 *   simple-rms   μ = 0,          ρ = √(mean(x²)),               ŝ = 1 / (ρ + ε)    no gain, no bias (ε = 1e−8)
 *   rms          μ = 0,          ρ = √(mean(x²) + ε),           ŝ = 1 / ρ          gain g (ε = 2^−23)
 *   layer        μ = mean(x),    ρ = √(mean((x − μ)²) + ε),     ŝ = 1 / ρ          gain g and bias b (ε = 1e−5)
 *   normRows(x, g, b, y, stats, rows, d, kind, ε)                x, y [rows, d], g, b [d] or null, stats [rows, 2]
 *       x̂ = (x − μ) ŝ,   y = x̂ ⊙ g + b,   stats[r] = (μ, ρ)
 *   normRowsBackward(x, g, stats, dy, dx, dg, db, rows, d, kind, ε)       dg, db [d] or null (as g, b)
 *       with ĝ = dy ⊙ g (dy without a gain):
 *       dx = ŝ (ĝ − [layer] mean(ĝ) − κ x̂ mean(ĝ ⊙ x̂)),   dg = Σ_rows dy ⊙ x̂,   db = Σ_rows dy,
 *       κ = 1 where ε is inside the root; for simple-rms κ = (ρ + ε) / ρ (from ∂ρ/∂x = x / (d ρ)), and the
 *       term is 0 where ρ = 0 (x = 0 there).
 *
 * The sums of a row (μ, ρ², mean(ĝ), mean(ĝ ⊙ x̂)) run in 8 float lanes widened to double; the ragged end of a
 * row is read with a lane mask (0 past d) and written with one. dg and db are sums over rows: each chunk of
 * CHUNK rows sums into its own double partials and the partials are added in chunk order, and 2 threads split
 * the rows at a multiple of CHUNK, so every output is the same on 1 or 2 threads, bit for bit.
 */
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "common.h"

#pragma GCC target("avx2,fma")

namespace {

using native::fail;

constexpr int LANES = 8;

/* Rows per partial sum of dg and db: the unit of the split between threads. */
constexpr size_t CHUNK = 64;

enum class Kind { SimpleRms, Rms, Layer };

/* The lanes of the 8 elements at j of a row of d that lie inside it. */
inline __m256i inside(int j, int d) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(d - j), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }

/* The 8 values of row p at j, 0 past d (p null: 1, the absent gain). */
inline __m256 load8(const float* p, int j, int d) {
  if (p == nullptr) return _mm256_set1_ps(1.0f);
  return j + LANES <= d ? _mm256_loadu_ps(p + j) : _mm256_maskload_ps(p + j, inside(j, d));
}

inline void store8(float* p, int j, int d, __m256 v) {
  if (j + LANES <= d) {
    _mm256_storeu_ps(p + j, v);
  } else {
    _mm256_maskstore_ps(p + j, inside(j, d), v);
  }
}

/* x − μ for the 8 values of row x at j, 0 past d. */
inline __m256 centred8(const float* x, int j, int d, float mu) {
  const __m256 c = _mm256_sub_ps(load8(x, j, d), _mm256_set1_ps(mu));
  return j + LANES <= d ? c : _mm256_and_ps(c, _mm256_castsi256_ps(inside(j, d)));
}

/* A sum of 8-lane float values in 2 × 4 double lanes. */
struct Sum {
  __m256d lo, hi;
  Sum() : lo(_mm256_setzero_pd()), hi(_mm256_setzero_pd()) {}
  void add(__m256 v) {
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  }
  double total() const {
    alignas(32) double p[4];
    _mm256_store_pd(p, _mm256_add_pd(lo, hi));
    return (p[0] + p[1]) + (p[2] + p[3]);
  }
};

/* part[j..j+8) += v in double. */
inline void accumulate(double* part, int j, __m256 v) {
  _mm256_storeu_pd(part + j, _mm256_add_pd(_mm256_loadu_pd(part + j), _mm256_cvtps_pd(_mm256_castps256_ps128(v))));
  _mm256_storeu_pd(part + j + 4, _mm256_add_pd(_mm256_loadu_pd(part + j + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))));
}

/* ŝ from ρ (see the header): the one formula the forward and the backward pass share. */
inline float inverseScale(float root, Kind kind, float eps) { return kind == Kind::SimpleRms ? 1.0f / (root + eps) : 1.0f / root; }

/* y and (μ, ρ) of one row x of d values (g, b null: none). */
void normRow(const float* x, const float* g, const float* b, float* y, float* stats, int d, Kind kind, double eps) {
  float mu = 0;
  if (kind == Kind::Layer) {
    Sum s;
    for (int j = 0; j < d; j += LANES) s.add(load8(x, j, d));
    mu = static_cast<float>(s.total() / d);
  }
  Sum squares;
  for (int j = 0; j < d; j += LANES) {
    const __m256 c = centred8(x, j, d, mu);
    squares.add(_mm256_mul_ps(c, c));
  }
  const double meanSquare = squares.total() / d;
  const float root = static_cast<float>(std::sqrt(kind == Kind::SimpleRms ? meanSquare : meanSquare + eps));
  const __m256 scale = _mm256_set1_ps(inverseScale(root, kind, static_cast<float>(eps)));
  for (int j = 0; j < d; j += LANES) {
    const __m256 xh = _mm256_mul_ps(centred8(x, j, d, mu), scale);
    store8(y, j, d, b == nullptr ? _mm256_mul_ps(xh, load8(g, j, d)) : _mm256_fmadd_ps(xh, load8(g, j, d), load8(b, j, d)));
  }
  stats[0] = mu;
  stats[1] = root;
}

/* dx of one row, and dy ⊙ x̂ and dy added to the partials dgPart and dbPart ([d] rounded up to 8; null: none). */
void normRowBackward(const float* x, const float* g, const float* stats, const float* dy, float* dx, double* dgPart, double* dbPart, int d, Kind kind,
                     double eps) {
  const float mu = stats[0], root = stats[1];
  const __m256 scale = _mm256_set1_ps(inverseScale(root, kind, static_cast<float>(eps)));
  Sum sg, sgx;
  for (int j = 0; j < d; j += LANES) {
    const __m256 xh = _mm256_mul_ps(centred8(x, j, d, mu), scale), dyv = load8(dy, j, d);
    const __m256 gh = _mm256_mul_ps(dyv, load8(g, j, d));
    sg.add(gh);
    sgx.add(_mm256_mul_ps(gh, xh));
    if (dgPart != nullptr) accumulate(dgPart, j, _mm256_mul_ps(dyv, xh));
    if (dbPart != nullptr) accumulate(dbPart, j, dyv);
  }
  double kappa = 1;
  if (kind == Kind::SimpleRms) kappa = root == 0 ? 0 : (static_cast<double>(root) + eps) / root;
  const __m256 a = _mm256_set1_ps(kind == Kind::Layer ? static_cast<float>(sg.total() / d) : 0.0f);
  const __m256 c = _mm256_set1_ps(static_cast<float>(sgx.total() / d * kappa));
  for (int j = 0; j < d; j += LANES) {
    const __m256 xh = _mm256_mul_ps(centred8(x, j, d, mu), scale);
    const __m256 gh = _mm256_mul_ps(load8(dy, j, d), load8(g, j, d));
    store8(dx, j, d, _mm256_mul_ps(scale, _mm256_fnmadd_ps(xh, c, _mm256_sub_ps(gh, a))));
  }
}

/* Rows split between threads when they hold 2^16 values or more (a hand-off costs ~10–50 µs). */
size_t worthIt(int64_t d) { return static_cast<size_t>((int64_t{1} << 16) / d + 1); }

void normRows(const float* x, const float* g, const float* b, float* y, float* stats, size_t rows, int d, Kind kind, double eps) {
  native::overRange(rows, 1, worthIt(d), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; r++) normRow(x + r * d, g, b, y + r * d, stats + 2 * r, d, kind, eps);
  });
}

void normRowsBackward(const float* x, const float* g, const float* stats, const float* dy, float* dx, float* dg, float* db, size_t rows, int d,
                      Kind kind, double eps) {
  const size_t width = (d + LANES - 1) / LANES * LANES, chunks = (rows + CHUNK - 1) / CHUNK;
  const size_t sums = (dg != nullptr) + (db != nullptr);
  std::vector<double> partials(chunks * sums * width);  // [chunks, sums, width]: each chunk's dg, then db
  native::overRange(rows, CHUNK, worthIt(d), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; r++) {
      double* part = partials.data() + r / CHUNK * sums * width;
      normRowBackward(x + r * d, g, stats + 2 * r, dy + r * d, dx + r * d, dg == nullptr ? nullptr : part, db == nullptr ? nullptr : part + (sums - 1) * width,
                      d, kind, eps);
    }
  });
  auto total = [&](float* out, size_t slot) {  // out[j] = Σ over chunks, in chunk order
    for (int j = 0; j < d; j++) {
      double sum = 0;
      for (size_t c = 0; c < chunks; c++) sum += partials[(c * sums + slot) * width + j];
      out[j] = static_cast<float>(sum);
    }
  };
  if (dg != nullptr) total(dg, 0);
  if (db != nullptr) total(db, sums - 1);
}

/* ---- the N-API binding ---------------------------------------------------------------------------------- */

/* The kind the string v names ('simple-rms', 'rms', 'layer'); false for anything else. */
bool readKind(napi_env env, napi_value v, Kind* kind) {
  char name[16];
  size_t length;
  if (napi_get_value_string_utf8(env, v, name, sizeof name, &length) != napi_ok) return false;
  if (std::strcmp(name, "simple-rms") == 0) *kind = Kind::SimpleRms;
  else if (std::strcmp(name, "rms") == 0) *kind = Kind::Rms;
  else if (std::strcmp(name, "layer") == 0) *kind = Kind::Layer;
  else return false;
  return true;
}

/* Reads rows, d, kind and ε from argv[first..first+3]; false unless d ≥ 1, ε ≥ 0 and the kind is known. */
bool readShape(napi_env env, const napi_value* argv, int first, int64_t* rows, int64_t* d, Kind* kind, double* eps) {
  int64_t dims[2];
  if (!native::integers(env, argv, first, 2, dims) || !readKind(env, argv[first + 2], kind) || napi_get_value_double(env, argv[first + 3], eps) != napi_ok) {
    return false;
  }
  *rows = dims[0], *d = dims[1];
  return *rows >= 0 && *d >= 1 && *d <= (int64_t{1} << 30) && *eps >= 0;
}

/* Whether an array of `length` holds `need` values; a null one (nullptr) must be absent exactly when `present` is false. */
bool fits(const float* p, size_t length, int64_t need, bool present) { return (p != nullptr) == present && (p == nullptr || static_cast<int64_t>(length) >= need); }

napi_value NormRows(napi_env env, napi_callback_info info) {
  const char* usage =
      "normRows: expected (x [rows·d], gain [d] | null, bias [d] | null, y [rows·d], stats [rows·2], rows, d, kind, eps) with lengths that fit, "
      "a gain for 'rms' and 'layer' and a bias for 'layer' only";
  napi_value argv[9];
  float *x, *g, *b, *y, *stats;
  size_t nx, ng, nb, ny, ns;
  int64_t rows, d;
  Kind kind;
  double eps;
  if (!native::arguments(env, info, 9, argv) || !native::floats(env, argv[0], &x, &nx) || !native::optionalFloats(env, argv[1], &g, &ng) ||
      !native::optionalFloats(env, argv[2], &b, &nb) || !native::floats(env, argv[3], &y, &ny) || !native::floats(env, argv[4], &stats, &ns) ||
      !readShape(env, argv, 5, &rows, &d, &kind, &eps) || !fits(x, nx, rows * d, true) || !fits(y, ny, rows * d, true) || !fits(stats, ns, 2 * rows, true) ||
      !fits(g, ng, d, kind != Kind::SimpleRms) || !fits(b, nb, d, kind == Kind::Layer)) {
    return fail(env, usage);
  }
  normRows(x, g, b, y, stats, static_cast<size_t>(rows), static_cast<int>(d), kind, eps);
  return nullptr;
}

napi_value NormRowsBackward(napi_env env, napi_callback_info info) {
  const char* usage =
      "normRowsBackward: expected (x, gain | null, stats, dy, dx, dgain | null, dbias | null, rows, d, kind, eps) with lengths that fit, "
      "gain and dgain for 'rms' and 'layer' and dbias for 'layer' only";
  napi_value argv[11];
  float *x, *g, *stats, *dy, *dx, *dg, *db;
  size_t nx, ng, ns, ndy, ndx, ndg, ndb;
  int64_t rows, d;
  Kind kind;
  double eps;
  if (!native::arguments(env, info, 11, argv) || !native::floats(env, argv[0], &x, &nx) || !native::optionalFloats(env, argv[1], &g, &ng) ||
      !native::floats(env, argv[2], &stats, &ns) || !native::floats(env, argv[3], &dy, &ndy) || !native::floats(env, argv[4], &dx, &ndx) ||
      !native::optionalFloats(env, argv[5], &dg, &ndg) || !native::optionalFloats(env, argv[6], &db, &ndb) || !readShape(env, argv, 7, &rows, &d, &kind, &eps) ||
      !fits(x, nx, rows * d, true) || !fits(stats, ns, 2 * rows, true) || !fits(dy, ndy, rows * d, true) || !fits(dx, ndx, rows * d, true) ||
      !fits(g, ng, d, kind != Kind::SimpleRms) || !fits(dg, ndg, d, kind != Kind::SimpleRms) || !fits(db, ndb, d, kind == Kind::Layer)) {
    return fail(env, usage);
  }
  normRowsBackward(x, g, stats, dy, dx, dg, db, static_cast<size_t>(rows), static_cast<int>(d), kind, eps);
  return nullptr;
}

}  // namespace

void native::registerNorm(napi_env env, napi_value exports) {
  const std::pair<const char*, napi_callback> functions[] = {{"normRows", NormRows}, {"normRowsBackward", NormRowsBackward}};
  native::exportFunctions(env, exports, functions);
}
