// grokkit's fused CPU kernels (built by grokkit/kernels.py on first use; see its docstring).
//
// Each kernel does in one pass over memory what the plain step does in several torch
// operations, for the same result up to float rounding (tests/test_fast_step.py):
//
//   hidden_forward   act = GELU(table[a] + table[b]) and slope = GELU'(same), per example
//                    (embedding_bag + gelu, with the slope the backward needs kept)
//   hidden_backward  dtable[a] += dact * slope, dtable[b] += dact * slope, per example
//                    (gelu_backward + two index_add_)
//   cross_entropy    each run's mean cross-entropy and dz = (softmax(z) - onehot(y)) / M
//                    (log_softmax + gather + _log_softmax_backward_data)
//   adamw_           one AdamW update of one parameter for every run of a batch, with the
//                    runs' own learning rates and weight decays (about ten torch operations)
//   sq_norms         each run's sum of squares in float64, for the clamp (no float64 copy)
//
// and, for the attention models' and the encoder's hand-written steps (models.py), on chunks of
// "pieces" (fixed parts of a run's examples), in float32 or float64:
//
//   attn_forward     the attention model's per-example attention from its token tables (softmax
//                    over a, b, '='; the values through W_O summed over heads), the residual and
//                    the LayerNorm of the MLP's input (a dozen gathers, products and sums)
//   attn_backward    its backward: the LayerNorm's, the softmax's, and the scatter of the
//                    gradients into the tables (index_add_ and friends)
//   enc_forward      the same for the encoder (the query of b on the key of a, the residual with
//                    its bias, the affine LayerNorm), and enc_backward
//   ln2f_forward     the encoder's second and final affine LayerNorms in one pass, and
//                    ln2f_backward (with their gains' and biases' gradients)
//   gelu_slope_      GELU and its slope in one pass (float32), gelu_grad_ the slope times the
//                    incoming gradient, with the bias gradient's column sums
//   col_sums         column sums (bias gradients)
//   loss_sum         a piece's summed cross-entropy or squared error and its gradient
//
// Vectorized with ATen's at::vec, compiled for the CPU capability torch itself uses here.

#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>

#include <cmath>
#include <limits>

using at::vec::Vectorized;

namespace {

void check(const at::Tensor& t, const char* name, at::ScalarType dtype) {
  TORCH_CHECK(t.device().is_cpu(), name, ": must be a CPU tensor");
  TORCH_CHECK(t.scalar_type() == dtype, name, ": must be ", dtype, ", got ", t.scalar_type());
  TORCH_CHECK(t.is_contiguous(), name, ": must be contiguous");
}

// GELU(x) = x * Phi(x) and GELU'(x) = Phi(x) + x * phi(x) for one row of H numbers, x = a + b
// (kTwo) or x = a (act may then be a itself).
// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, the formula of ATen's vectorized erf),
// whose exp(-x^2 / 2) is also the normal density's: one exp per number gives both.
template <bool kTwo>
void gelu_rows(const float* a, const float* b, float* act, float* slope, int64_t H) {
  using V = Vectorized<float>;
  const V zero(0.f), half(0.5f), one(1.f), rsqrt2(float(M_SQRT1_2)), mhalf(-0.5f);
  const V density(float(M_2_SQRTPI * M_SQRT1_2 * 0.5));  // 1 / sqrt(2 pi)
  const V q(0.3275911f), c1(0.254829592f), c2(-0.284496736f), c3(1.421413741f), c4(-1.453152027f),
      c5(1.061405429f);
  int64_t j = 0;
  for (; j + V::size() <= H; j += V::size()) {
    const V x = kTwo ? V::loadu(a + j) + V::loadu(b + j) : V::loadu(a + j);
    const V t = one / at::vec::fmadd(q, (x * rsqrt2).abs(), one);
    const V poly = at::vec::fmadd(at::vec::fmadd(at::vec::fmadd(at::vec::fmadd(c5, t, c4), t, c3), t, c2), t, c1);
    const V e = (x * x * mhalf).exp_u20();
    const V erf_abs = one - poly * t * e;
    const V cdf = half * (one + V::blendv(erf_abs, zero - erf_abs, x < zero));
    (x * cdf).store(act + j);
    at::vec::fmadd(x, density * e, cdf).store(slope + j);
  }
  for (; j < H; ++j) {
    const float x = kTwo ? a[j] + b[j] : a[j];
    const float cdf = 0.5f * (1.f + std::erf(x * float(M_SQRT1_2)));
    act[j] = x * cdf;
    slope[j] = cdf + x * float(M_2_SQRTPI * M_SQRT1_2 * 0.5) * std::exp(-0.5f * x * x);
  }
}

void gelu_row(const float* a, const float* b, float* act, float* slope, int64_t H) { gelu_rows<true>(a, b, act, slope, H); }

}  // namespace

// table [R, H]; bags [E, 2] (int64 rows of table); act, slope [E, H]
void hidden_forward(const at::Tensor& table, const at::Tensor& bags, at::Tensor& act, at::Tensor& slope) {
  check(table, "table", at::kFloat), check(bags, "bags", at::kLong);
  check(act, "act", at::kFloat), check(slope, "slope", at::kFloat);
  const int64_t E = bags.size(0), H = table.size(1);
  TORCH_CHECK(act.numel() == E * H && slope.numel() == E * H, "act, slope: must hold E x H numbers");
  const float* tb = table.data_ptr<float>();
  const int64_t* bg = bags.data_ptr<int64_t>();
  float* ac = act.data_ptr<float>();
  float* sl = slope.data_ptr<float>();
  at::parallel_for(0, E, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t e = lo; e < hi; ++e)
      gelu_row(tb + bg[2 * e] * H, tb + bg[2 * e + 1] * H, ac + e * H, sl + e * H, H);
  });
}

// dact, slope [E, H]; bags [E, 2]; dtable [R, H] (accumulated into). The examples come in
// runs of m, and a run's examples touch only its own rows, so runs run in parallel.
void hidden_backward(const at::Tensor& dact, const at::Tensor& slope, const at::Tensor& bags, at::Tensor& dtable,
                     int64_t m) {
  check(dact, "dact", at::kFloat), check(slope, "slope", at::kFloat);
  check(bags, "bags", at::kLong), check(dtable, "dtable", at::kFloat);
  const int64_t E = bags.size(0), H = dtable.size(1);
  TORCH_CHECK(m > 0 && E % m == 0, "m: must divide the number of examples");
  using V = Vectorized<float>;
  const float* g = dact.data_ptr<float>();
  const float* s = slope.data_ptr<float>();
  const int64_t* bg = bags.data_ptr<int64_t>();
  float* dt = dtable.data_ptr<float>();
  at::parallel_for(0, E / m, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t e = r0 * m; e < r1 * m; ++e) {
      float* ra = dt + bg[2 * e] * H;
      float* rb = dt + bg[2 * e + 1] * H;
      const float* ge = g + e * H;
      const float* se = s + e * H;
      int64_t j = 0;
      for (; j + V::size() <= H; j += V::size()) {
        const V d = V::loadu(ge + j) * V::loadu(se + j);
        (V::loadu(ra + j) + d).store(ra + j);
        (V::loadu(rb + j) + d).store(rb + j);
      }
      for (; j < H; ++j) {
        const float d = ge[j] * se[j];
        ra[j] += d;
        rb[j] += d;
      }
    }
  });
}

// z [K, M, W] logits (the first C columns count; W a whole number of vectors, at least C);
// y [K, M] classes; loss [K] gets each run's mean cross-entropy, dz [K, M, C] its gradient
// (softmax(z) - onehot(y)) / M.
void cross_entropy(const at::Tensor& z, int64_t C, const at::Tensor& y, at::Tensor& loss, at::Tensor& dz) {
  check(z, "z", at::kFloat), check(y, "y", at::kLong), check(loss, "loss", at::kFloat), check(dz, "dz", at::kFloat);
  using V = Vectorized<float>;
  const int64_t K = z.size(0), M = z.size(1), W = z.size(2), L = V::size(), chunks = (C + L - 1) / L;
  TORCH_CHECK(C > 0 && chunks * L <= W, "z: needs at least ", chunks * L, " columns for C = ", C, ", has ", W);
  TORCH_CHECK(y.numel() == K * M && loss.numel() == K && dz.numel() == K * M * C, "y, loss, dz: wrong sizes");
  TORCH_CHECK(chunks <= 16, "C: at most ", 16 * L, " classes");
  const float* zp = z.data_ptr<float>();
  const int64_t* yp = y.data_ptr<int64_t>();
  float* lp = loss.data_ptr<float>();
  float* dp = dz.data_ptr<float>();
  const float inv_m = 1.f / float(M);
  float lanes[64];
  for (int64_t l = 0; l < L; ++l) lanes[l] = float(l);
  const V last = V::loadu(lanes) < V(float(C - (chunks - 1) * L));  // the last vector's lanes that count
  const V low(-std::numeric_limits<float>::infinity());
  at::parallel_for(0, K, 1, [&](int64_t k0, int64_t k1) {
    V e[16];
    for (int64_t k = k0; k < k1; ++k) {
      double total = 0;
      for (int64_t i = 0; i < M; ++i) {
        const float* zr = zp + (k * M + i) * W;
        float* dr = dp + (k * M + i) * C;
        V top = V::blendv(low, V::loadu(zr + (chunks - 1) * L), last);
        for (int64_t c = 0; c + 1 < chunks; ++c) top = at::vec::maximum(top, V::loadu(zr + c * L));
        const float mx = at::vec::vec_reduce_all<float>([](const V& a, const V& b) { return at::vec::maximum(a, b); },
                                                        top);
        V acc(0.f);
        for (int64_t c = 0; c < chunks; ++c) {
          e[c] = (V::loadu(zr + c * L) - V(mx)).exp_u20();
          if (c + 1 == chunks) e[c] = V::blendv(V(0.f), e[c], last);
          acc = acc + e[c];
        }
        const float sum = at::vec::vec_reduce_all<float>([](const V& a, const V& b) { return a + b; }, acc);
        const int64_t target = yp[k * M + i];
        TORCH_CHECK(target >= 0 && target < C, "y: class ", target, " outside 0..", C - 1);
        total += double(mx + std::log(sum) - zr[target]);
        const V scale(inv_m / sum);
        for (int64_t c = 0; c < chunks; ++c) (e[c] * scale).store(dr + c * L, std::min(L, C - c * L));
        dr[target] -= inv_m;
      }
      lp[k] = float(total / double(M));
    }
  });
}

// One AdamW update of w [N, ...] from its gradient g and moments m, v (all alike), for N runs
// with learning rates lr [N] and weight decays wd [N] (decay: "none", "before" or "after").
// The same formula as grokkit.engine.optim.AdamW: with decay "before", w <- w (1 - lr wd) first;
// m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2; w <- w - lr / bc1 * m / (sqrt(v / bc2) + eps);
// with decay "after", w <- w - lr wd w last.
void adamw_(at::Tensor& w, const at::Tensor& g, at::Tensor& m, at::Tensor& v, const at::Tensor& lr,
            const at::Tensor& wd, const std::string& decay, double beta1, double beta2, double eps, double bc1,
            double bc2) {
  const auto dtype = w.scalar_type();
  check(w, "w", dtype), check(g, "g", dtype), check(m, "m", dtype), check(v, "v", dtype);
  check(lr, "lr", dtype), check(wd, "wd", dtype);
  TORCH_CHECK(decay == "none" || decay == "before" || decay == "after", "decay: unknown ", decay);
  const int64_t N = w.size(0), D = N ? w.numel() / N : 0;
  TORCH_CHECK(g.numel() == w.numel() && m.numel() == w.numel() && v.numel() == w.numel(), "g, m, v: wrong sizes");
  TORCH_CHECK(lr.numel() == N && wd.numel() == N, "lr, wd: must hold one value per run");
  const bool before = decay == "before", after = decay == "after";
  AT_DISPATCH_FLOATING_TYPES(dtype, "adamw_", [&] {
    using T = scalar_t;
    using V = Vectorized<T>;
    T* wp = w.data_ptr<T>();
    const T* gp = g.data_ptr<T>();
    T* mp = m.data_ptr<T>();
    T* vp = v.data_ptr<T>();
    const T *lrp = lr.data_ptr<T>(), *wdp = wd.data_ptr<T>();
    const T b1 = T(beta1), b2 = T(beta2), a1 = T(1 - beta1), a2 = T(1 - beta2), e = T(eps), c2 = T(bc2);
    // in parallel over runs, never within one: a run's numbers are split into vectors and a
    // scalar tail the same way whatever batch it is in, so its rounding does not depend on that
    at::parallel_for(0, N, std::max<int64_t>(1, 4096 / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t j0 = r * D, j1 = (r + 1) * D;
        const T step = lrp[r] / T(bc1), shrink = T(1) - lrp[r] * wdp[r], late = lrp[r] * wdp[r];
        const V vb1(b1), va1(a1), vb2(b2), va2(a2), vc2(c2), ve(e), vstep(step), vshrink(shrink), vlate(late);
        int64_t j = j0;
        for (; j + V::size() <= j1; j += V::size()) {
          V wv = V::loadu(wp + j), gv = V::loadu(gp + j);
          if (before) wv = wv * vshrink;
          const V mv = V::loadu(mp + j) * vb1 + va1 * gv;
          const V vv = V::loadu(vp + j) * vb2 + va2 * gv * gv;
          wv = wv - vstep * mv / ((vv / vc2).sqrt() + ve);
          if (after) wv = wv - vlate * wv;
          wv.store(wp + j), mv.store(mp + j), vv.store(vp + j);
        }
        for (; j < j1; ++j) {
          T wv = wp[j];
          const T gv = gp[j];
          if (before) wv = wv * shrink;
          mp[j] = mp[j] * b1 + a1 * gv;
          vp[j] = vp[j] * b2 + a2 * gv * gv;
          wv = wv - step * mp[j] / (std::sqrt(vp[j] / c2) + e);
          if (after) wv = wv - late * wv;
          wp[j] = wv;
        }
      }
    });
  });
}

// Each run's sum of squares of w [N, ...] (float32 or float64), accumulated in float64 without
// a float64 copy of w (the clamp's norm: torch.linalg.vector_norm(..., dtype=float64) copies).
at::Tensor sq_norms(const at::Tensor& w) {
  const auto dtype = w.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble, "w: must be float32 or float64, got ", dtype);
  check(w, "w", dtype);
  const int64_t N = w.size(0), D = N ? w.numel() / N : 0;
  at::Tensor out = at::empty({N}, w.options().dtype(at::kDouble));
  double* op = out.data_ptr<double>();
  using VD = Vectorized<double>;
  constexpr int64_t L = VD::size();
  at::parallel_for(0, N, std::max<int64_t>(1, 65536 / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
    double lanes[L];
    for (int64_t r = r0; r < r1; ++r) {
      VD acc(0.0);
      int64_t j = 0;
      if (dtype == at::kFloat) {
        const float* x = w.data_ptr<float>() + r * D;
        for (; j + L <= D; j += L) {
          for (int64_t l = 0; l < L; ++l) lanes[l] = double(x[j + l]);
          const VD v = VD::loadu(lanes);
          acc = at::vec::fmadd(v, v, acc);
        }
        double total = at::vec::vec_reduce_all<double>([](const VD& a, const VD& b) { return a + b; }, acc);
        for (; j < D; ++j) total += double(x[j]) * double(x[j]);
        op[r] = total;
      } else {
        const double* x = w.data_ptr<double>() + r * D;
        for (; j + L <= D; j += L) {
          const VD v = VD::loadu(x + j);
          acc = at::vec::fmadd(v, v, acc);
        }
        double total = at::vec::vec_reduce_all<double>([](const VD& a, const VD& b) { return a + b; }, acc);
        for (; j < D; ++j) total += x[j] * x[j];
        op[r] = total;
      }
    }
  });
  return out;
}

// ---------------------------------------------------------------- the attention models' and the encoder's step
//
// These act on a "chunk" of K pieces: a piece is a fixed part of one run's examples (models.py), and
// the k-th piece of a chunk belongs to the k-th run of the tables passed with it. Every kernel works
// piece by piece (in parallel over pieces, never within one), and every sum over a piece's examples
// runs in example order, so a piece rounds the same in any chunk, batch or thread. float32 or float64.

namespace {

template <typename T>
inline T row_sum(const T* x, int64_t n) {
  using V = Vectorized<T>;
  V acc(T(0));
  int64_t j = 0;
  for (; j + V::size() <= n; j += V::size()) acc = acc + V::loadu(x + j);
  T s = at::vec::vec_reduce_all<T>([](const V& a, const V& b) { return a + b; }, acc);
  for (; j < n; ++j) s += x[j];
  return s;
}

template <typename T>
inline T row_dot(const T* a, const T* b, int64_t n) {
  using V = Vectorized<T>;
  V acc(T(0));
  int64_t j = 0;
  for (; j + V::size() <= n; j += V::size()) acc = at::vec::fmadd(V::loadu(a + j), V::loadu(b + j), acc);
  T s = at::vec::vec_reduce_all<T>([](const V& x, const V& y) { return x + y; }, acc);
  for (; j < n; ++j) s += a[j] * b[j];
  return s;
}

// y += alpha * x
template <typename T>
inline void row_axpy(T alpha, const T* x, T* y, int64_t n) {
  using V = Vectorized<T>;
  const V va(alpha);
  int64_t j = 0;
  for (; j + V::size() <= n; j += V::size()) at::vec::fmadd(va, V::loadu(x + j), V::loadu(y + j)).store(y + j);
  for (; j < n; ++j) y[j] += alpha * x[j];
}

// y += x
template <typename T>
inline void row_add(const T* x, T* y, int64_t n) {
  using V = Vectorized<T>;
  int64_t j = 0;
  for (; j + V::size() <= n; j += V::size()) (V::loadu(y + j) + V::loadu(x + j)).store(y + j);
  for (; j < n; ++j) y[j] += x[j];
}

// s += x * y (elementwise)
template <typename T>
inline void row_addmul(const T* x, const T* y, T* s, int64_t n) {
  using V = Vectorized<T>;
  int64_t j = 0;
  for (; j + V::size() <= n; j += V::size()) at::vec::fmadd(V::loadu(x + j), V::loadu(y + j), V::loadu(s + j)).store(s + j);
  for (; j < n; ++j) s[j] += x[j] * y[j];
}

// xhat = (x - mean) * rstd over n numbers (biased variance, eps 1e-5, two passes); returns rstd
template <typename T>
inline T ln_row(const T* x, T* xhat, int64_t n) {
  using V = Vectorized<T>;
  const T mean = row_sum(x, n) / T(n);
  const V vm(mean);
  V acc(T(0));
  int64_t j = 0;
  for (; j + V::size() <= n; j += V::size()) {
    const V d = V::loadu(x + j) - vm;
    acc = at::vec::fmadd(d, d, acc);
  }
  T var = at::vec::vec_reduce_all<T>([](const V& a, const V& b) { return a + b; }, acc);
  for (; j < n; ++j) var += (x[j] - mean) * (x[j] - mean);
  const T rstd = T(1) / std::sqrt(var / T(n) + T(1e-5));
  const V vr(rstd);
  j = 0;
  for (; j + V::size() <= n; j += V::size()) ((V::loadu(x + j) - vm) * vr).store(xhat + j);
  for (; j < n; ++j) xhat[j] = (x[j] - mean) * rstd;
  return rstd;
}

// LayerNorm's backward without the affine part: dx = rstd (g - mean(g) - xhat mean(g xhat)),
// where g is the gradient of xhat; written to dx, or added to it with add
template <typename T>
inline void ln_back_row(const T* g, const T* xhat, T rstd, T* dx, int64_t n, bool add) {
  using V = Vectorized<T>;
  const T mg = row_sum(g, n) / T(n), mgx = row_dot(g, xhat, n) / T(n);
  const V vr(rstd), vmg(mg), vmgx(mgx);
  int64_t j = 0;
  for (; j + V::size() <= n; j += V::size()) {
    V v = vr * (V::loadu(g + j) - vmg - V::loadu(xhat + j) * vmgx);
    if (add) v = v + V::loadu(dx + j);
    v.store(dx + j);
  }
  for (; j < n; ++j) {
    const T v = rstd * (g[j] - mg - xhat[j] * mgx);
    dx[j] = add ? dx[j] + v : v;
  }
}

// out = x * g + h
template <typename T>
inline void affine_row(const T* x, const T* g, const T* h, T* out, int64_t n) {
  using V = Vectorized<T>;
  int64_t j = 0;
  for (; j + V::size() <= n; j += V::size())
    at::vec::fmadd(V::loadu(x + j), V::loadu(g + j), V::loadu(h + j)).store(out + j);
  for (; j < n; ++j) out[j] = x[j] * g[j] + h[j];
}

// out = x * y
template <typename T>
inline void mul_row(const T* x, const T* y, T* out, int64_t n) {
  using V = Vectorized<T>;
  int64_t j = 0;
  for (; j + V::size() <= n; j += V::size()) (V::loadu(x + j) * V::loadu(y + j)).store(out + j);
  for (; j < n; ++j) out[j] = x[j] * y[j];
}

// x[i] <- exp(x[i]) for n numbers, a vector at a time (the softmax weights of all heads at once)
template <typename T>
inline void exp_inplace(T* x, int64_t n) {
  using V = Vectorized<T>;
  for (int64_t i = 0; i < n; i += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), n - i);
    V::loadu(x + i, c).exp().store(x + i, c);
  }
}

void check_any(const at::Tensor& t, const char* name, at::ScalarType dtype) {
  TORCH_CHECK(t.device().is_cpu(), name, ": must be a CPU tensor");
  TORCH_CHECK(t.scalar_type() == dtype, name, ": must be ", dtype, ", got ", t.scalar_type());
  TORCH_CHECK(t.is_contiguous(), name, ": must be contiguous");
}

void check_all(std::initializer_list<const at::Tensor*> ts, const char* name, at::ScalarType dtype) {
  for (const at::Tensor* t : ts) check_any(*t, name, dtype);
}

void check_numel(const at::Tensor& t, const char* name, int64_t n) {
  TORCH_CHECK(t.numel() == n, name, ": must hold ", n, " numbers, holds ", t.numel());
}

}  // namespace

// Paper 1's attention model, forward from the attention on, for a chunk of K pieces of Mh examples.
// S [K, R, H]: each token row's attention score per head (rows: operand a's tokens, operand b's
// tokens, and last the '=' row); VO [K, H, R, D]: each row's value through W_O per head; eq [K, D]:
// the '=' position's input; rows [K, Mh, 2]: each example's rows of a and b. Writes
// resid = eq + sum_h sum_j w_hj VO[h, row_j] [K, Mh, D] and the weights w [K, Mh, H, 3] (softmax
// over a, b, '=' of the scores); with layernorm, also n1 = LN(resid) and its rstd [K, Mh].
void attn_forward(const at::Tensor& S, const at::Tensor& VO, const at::Tensor& eq, const at::Tensor& rows,
                  bool layernorm, at::Tensor& resid, at::Tensor& w, at::Tensor& n1, at::Tensor& rstd) {
  const auto dt = S.scalar_type();
  check_any(S, "S", dt), check_any(VO, "VO", dt), check_any(eq, "eq", dt), check_any(rows, "rows", at::kLong);
  check_any(resid, "resid", dt), check_any(w, "w", dt);
  const int64_t K = rows.size(0), Mh = rows.size(1), R = S.size(1), H = S.size(2), D = eq.size(1);
  check_numel(S, "S", K * R * H), check_numel(VO, "VO", K * H * R * D), check_numel(eq, "eq", K * D);
  check_numel(rows, "rows", K * Mh * 2), check_numel(resid, "resid", K * Mh * D), check_numel(w, "w", K * Mh * H * 3);
  if (layernorm) {
    check_any(n1, "n1", dt), check_any(rstd, "rstd", dt);
    check_numel(n1, "n1", K * Mh * D), check_numel(rstd, "rstd", K * Mh);
  }
  AT_DISPATCH_FLOATING_TYPES(dt, "attn_forward", [&] {
    using T = scalar_t;
    const T *sp = S.data_ptr<T>(), *vp = VO.data_ptr<T>(), *ep = eq.data_ptr<T>();
    const int64_t* rp = rows.data_ptr<int64_t>();
    T *op = resid.data_ptr<T>(), *wp = w.data_ptr<T>();
    T* np_ = layernorm ? n1.data_ptr<T>() : nullptr;
    T* rs = layernorm ? rstd.data_ptr<T>() : nullptr;
    at::parallel_for(0, K, 1, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        const T* s = sp + k * R * H;
        const T* vo = vp + k * H * R * D;
        for (int64_t m = 0; m < Mh; ++m) {
          const int64_t e = k * Mh + m;
          const int64_t r[3] = {rp[2 * e], rp[2 * e + 1], R - 1};
          TORCH_CHECK(r[0] >= 0 && r[0] < R && r[1] >= 0 && r[1] < R, "rows: outside the table");
          T* out = op + e * D;
          std::copy(ep + k * D, ep + (k + 1) * D, out);
          T* we = wp + e * H * 3;  // the scores less their head's max, then their exps, then the weights
          for (int64_t h = 0; h < H; ++h) {
            const T a = s[r[0] * H + h], b = s[r[1] * H + h], c = s[r[2] * H + h];
            const T mx = std::max(a, std::max(b, c));
            we[3 * h] = a - mx, we[3 * h + 1] = b - mx, we[3 * h + 2] = c - mx;
          }
          exp_inplace(we, 3 * H);
          for (int64_t h = 0; h < H; ++h) {
            const T sum = we[3 * h] + we[3 * h + 1] + we[3 * h + 2];
            for (int j = 0; j < 3; ++j) {
              we[3 * h + j] /= sum;
              row_axpy(we[3 * h + j], vo + (h * R + r[j]) * D, out, D);
            }
          }
          if (layernorm) rs[e] = ln_row(out, np_ + e * D, D);
        }
      }
    });
  });
}

// Its backward. dr2 [K, Mh, D]: the gradient of the residual stream after the MLP block (which
// reaches resid directly); dn1: the gradient of the MLP block's input (n1 with layernorm, else resid
// itself). Writes each piece's partial sums (zeroed first): deq [K, D] (sum over examples of
// d resid), dS [K, R, H] (of the scores) and dVO [K, H, R, D].
void attn_backward(const at::Tensor& dr2, const at::Tensor& dn1, const at::Tensor& n1, const at::Tensor& rstd,
                   const at::Tensor& w, const at::Tensor& rows, const at::Tensor& VO, bool layernorm, at::Tensor& deq,
                   at::Tensor& dS, at::Tensor& dVO) {
  const auto dt = dr2.scalar_type();
  check_any(dr2, "dr2", dt), check_any(dn1, "dn1", dt), check_any(w, "w", dt), check_any(rows, "rows", at::kLong);
  check_any(VO, "VO", dt), check_any(deq, "deq", dt), check_any(dS, "dS", dt), check_any(dVO, "dVO", dt);
  const int64_t K = rows.size(0), Mh = rows.size(1), H = VO.size(1), R = VO.size(2), D = VO.size(3);
  check_numel(dr2, "dr2", K * Mh * D), check_numel(dn1, "dn1", K * Mh * D), check_numel(w, "w", K * Mh * H * 3);
  check_numel(VO, "VO", K * H * R * D), check_numel(deq, "deq", K * D), check_numel(dS, "dS", K * R * H);
  check_numel(dVO, "dVO", K * H * R * D);
  if (layernorm) {
    check_any(n1, "n1", dt), check_any(rstd, "rstd", dt);
    check_numel(n1, "n1", K * Mh * D), check_numel(rstd, "rstd", K * Mh);
  }
  AT_DISPATCH_FLOATING_TYPES(dt, "attn_backward", [&] {
    using T = scalar_t;
    const T *gp = dr2.data_ptr<T>(), *gn = dn1.data_ptr<T>(), *wp = w.data_ptr<T>(), *vp = VO.data_ptr<T>();
    const T* np_ = layernorm ? n1.data_ptr<T>() : nullptr;
    const T* rs = layernorm ? rstd.data_ptr<T>() : nullptr;
    const int64_t* rp = rows.data_ptr<int64_t>();
    T *dq = deq.data_ptr<T>(), *ds = dS.data_ptr<T>(), *dv = dVO.data_ptr<T>();
    at::parallel_for(0, K, 1, [&](int64_t k0, int64_t k1) {
      std::vector<T> g(D);
      for (int64_t k = k0; k < k1; ++k) {
        const T* vo = vp + k * H * R * D;
        T* dqk = dq + k * D;
        T* dsk = ds + k * R * H;
        T* dvk = dv + k * H * R * D;
        std::fill(dqk, dqk + D, T(0));
        std::fill(dsk, dsk + R * H, T(0));
        std::fill(dvk, dvk + H * R * D, T(0));
        for (int64_t m = 0; m < Mh; ++m) {
          const int64_t e = k * Mh + m;
          const int64_t r[3] = {rp[2 * e], rp[2 * e + 1], R - 1};
          std::copy(gp + e * D, gp + (e + 1) * D, g.data());
          if (layernorm)
            ln_back_row(gn + e * D, np_ + e * D, rs[e], g.data(), D, true);
          else
            row_add(gn + e * D, g.data(), D);
          row_add(g.data(), dqk, D);
          for (int64_t h = 0; h < H; ++h) {
            const T* we = wp + (e * H + h) * 3;
            T dw[3];
            for (int j = 0; j < 3; ++j) dw[j] = row_dot(g.data(), vo + (h * R + r[j]) * D, D);
            const T mean = we[0] * dw[0] + we[1] * dw[1] + we[2] * dw[2];
            for (int j = 0; j < 3; ++j) {
              dsk[r[j] * H + h] += we[j] * (dw[j] - mean);
              row_axpy(we[j], g.data(), dvk + (h * R + r[j]) * D, D);
            }
          }
        }
      }
    });
  });
}

// Paper 3's encoder, forward from the attention to the first LayerNorm, for a chunk of K pieces of
// Mh examples. Q [K, P, D]: queries of operand b's tokens; Kt [K, 2P, D]: keys (a's tokens, then
// b's); s11 [K, P, H]: each b token's score on its own key; VO [K, H, 2P, D]: values through W_O;
// X [K, 2P, D]: the inputs (a's tokens, then b's); bo, g1, h1 [K, D]; ab [K, Mh, 2]: each example's
// tokens a and b (0..P-1); scale: sqrt(head dim). Writes y = LN(X[P + b] + bo + attention) g1 + h1,
// its normalized yhat and rstd, and the weights w [K, Mh, H, 2].
void enc_forward(const at::Tensor& Q, const at::Tensor& Kt, const at::Tensor& s11, const at::Tensor& VO,
                 const at::Tensor& X, const at::Tensor& bo, const at::Tensor& g1, const at::Tensor& h1,
                 const at::Tensor& ab, double scale, at::Tensor& y, at::Tensor& yhat, at::Tensor& rstd, at::Tensor& w) {
  const auto dt = Q.scalar_type();
  check_all({&Q, &Kt, &s11, &VO, &X, &bo, &g1, &h1}, "tables", dt);
  check_any(ab, "ab", at::kLong), check_any(y, "y", dt), check_any(yhat, "yhat", dt), check_any(rstd, "rstd", dt);
  check_any(w, "w", dt);
  const int64_t K = ab.size(0), Mh = ab.size(1), P = Q.size(1), D = Q.size(2), H = s11.size(2), dh = D / H;
  check_numel(Q, "Q", K * P * D), check_numel(Kt, "Kt", K * 2 * P * D), check_numel(s11, "s11", K * P * H);
  check_numel(VO, "VO", K * H * 2 * P * D), check_numel(X, "X", K * 2 * P * D), check_numel(bo, "bo", K * D);
  check_numel(g1, "g1", K * D), check_numel(h1, "h1", K * D), check_numel(y, "y", K * Mh * D);
  check_numel(yhat, "yhat", K * Mh * D), check_numel(rstd, "rstd", K * Mh), check_numel(w, "w", K * Mh * H * 2);
  TORCH_CHECK(dh * H == D, "heads: must divide the width");
  AT_DISPATCH_FLOATING_TYPES(dt, "enc_forward", [&] {
    using T = scalar_t;
    const T *qp = Q.data_ptr<T>(), *kp = Kt.data_ptr<T>(), *sp = s11.data_ptr<T>(), *vp = VO.data_ptr<T>();
    const T *xp = X.data_ptr<T>(), *bp = bo.data_ptr<T>(), *gp = g1.data_ptr<T>(), *hp = h1.data_ptr<T>();
    const int64_t* ip = ab.data_ptr<int64_t>();
    T *yp = y.data_ptr<T>(), *yh = yhat.data_ptr<T>(), *rs = rstd.data_ptr<T>(), *wp = w.data_ptr<T>();
    const T sc = T(scale);
    at::parallel_for(0, K, 1, [&](int64_t k0, int64_t k1) {
      std::vector<T> row(D);
      for (int64_t k = k0; k < k1; ++k) {
        for (int64_t m = 0; m < Mh; ++m) {
          const int64_t e = k * Mh + m, a = ip[2 * e], b = ip[2 * e + 1];
          TORCH_CHECK(a >= 0 && a < P && b >= 0 && b < P, "ab: token outside 0..", P - 1);
          const T* xb = xp + (k * 2 * P + P + b) * D;
          const T* bk = bp + k * D;
          for (int64_t j = 0; j < D; ++j) row[j] = xb[j] + bk[j];
          const T* q = qp + (k * P + b) * D;
          const T* ka = kp + (k * 2 * P + a) * D;
          T* we = wp + e * H * 2;  // the scores less their head's max, then their exps, then the weights
          for (int64_t h = 0; h < H; ++h) {
            const T s0 = row_dot(q + h * dh, ka + h * dh, dh) / sc, s1 = sp[(k * P + b) * H + h];
            const T mx = std::max(s0, s1);
            we[2 * h] = s0 - mx, we[2 * h + 1] = s1 - mx;
          }
          exp_inplace(we, 2 * H);
          for (int64_t h = 0; h < H; ++h) {
            const T sum = we[2 * h] + we[2 * h + 1];
            we[2 * h] /= sum, we[2 * h + 1] /= sum;
            const T* vo = vp + ((k * H + h) * 2 * P) * D;
            row_axpy(we[2 * h], vo + a * D, row.data(), D);
            row_axpy(we[2 * h + 1], vo + (P + b) * D, row.data(), D);
          }
          rs[e] = ln_row(row.data(), yh + e * D, D);
          affine_row(yh + e * D, gp + k * D, hp + k * D, yp + e * D, D);
        }
      }
    });
  });
}

// Its backward, from dy [K, Mh, D] (the gradient of y). Writes each piece's partial sums (zeroed
// first): dg1, dh1, dbo [K, D]; dx1 [K, P, D] (of X's b rows, through the residual); dQ [K, P, D];
// dKt [K, 2P, D]; ds11 [K, P, H]; dVO [K, H, 2P, D].
void enc_backward(const at::Tensor& dy, const at::Tensor& yhat, const at::Tensor& rstd, const at::Tensor& w,
                  const at::Tensor& ab, const at::Tensor& Q, const at::Tensor& Kt, const at::Tensor& VO,
                  const at::Tensor& g1, double scale, at::Tensor& dg1, at::Tensor& dh1, at::Tensor& dbo,
                  at::Tensor& dx1, at::Tensor& dQ, at::Tensor& dKt, at::Tensor& ds11, at::Tensor& dVO) {
  const auto dt = dy.scalar_type();
  check_all({&dy, &yhat, &rstd, &w, &Q, &Kt, &VO, &g1, &dg1, &dh1, &dbo, &dx1, &dQ, &dKt, &ds11, &dVO},
            "enc_backward tensors", dt);
  check_any(ab, "ab", at::kLong);
  const int64_t K = ab.size(0), Mh = ab.size(1), P = Q.size(1), D = Q.size(2), H = VO.size(1), dh = D / H;
  check_numel(dy, "dy", K * Mh * D), check_numel(yhat, "yhat", K * Mh * D), check_numel(rstd, "rstd", K * Mh);
  check_numel(w, "w", K * Mh * H * 2), check_numel(Q, "Q", K * P * D), check_numel(Kt, "Kt", K * 2 * P * D);
  check_numel(VO, "VO", K * H * 2 * P * D), check_numel(g1, "g1", K * D);
  check_numel(dg1, "dg1", K * D), check_numel(dh1, "dh1", K * D), check_numel(dbo, "dbo", K * D);
  check_numel(dx1, "dx1", K * P * D), check_numel(dQ, "dQ", K * P * D), check_numel(dKt, "dKt", K * 2 * P * D);
  check_numel(ds11, "ds11", K * P * H), check_numel(dVO, "dVO", K * H * 2 * P * D);
  AT_DISPATCH_FLOATING_TYPES(dt, "enc_backward", [&] {
    using T = scalar_t;
    const T *gp = dy.data_ptr<T>(), *yh = yhat.data_ptr<T>(), *rs = rstd.data_ptr<T>(), *wp = w.data_ptr<T>();
    const T *qp = Q.data_ptr<T>(), *kp = Kt.data_ptr<T>(), *vp = VO.data_ptr<T>(), *g1p = g1.data_ptr<T>();
    const int64_t* ip = ab.data_ptr<int64_t>();
    T *dgp = dg1.data_ptr<T>(), *dhp = dh1.data_ptr<T>(), *dbp = dbo.data_ptr<T>(), *dxp = dx1.data_ptr<T>();
    T *dqp = dQ.data_ptr<T>(), *dkp = dKt.data_ptr<T>(), *dsp = ds11.data_ptr<T>(), *dvp = dVO.data_ptr<T>();
    const T sc = T(scale);
    at::parallel_for(0, K, 1, [&](int64_t k0, int64_t k1) {
      std::vector<T> g(D), dr(D);
      for (int64_t k = k0; k < k1; ++k) {
        T *dgk = dgp + k * D, *dhk = dhp + k * D, *dbk = dbp + k * D, *dxk = dxp + k * P * D;
        T *dqk = dqp + k * P * D, *dkk = dkp + k * 2 * P * D, *dsk = dsp + k * P * H, *dvk = dvp + k * H * 2 * P * D;
        for (T* t : {dgk, dhk, dbk}) std::fill(t, t + D, T(0));
        std::fill(dxk, dxk + P * D, T(0)), std::fill(dqk, dqk + P * D, T(0)), std::fill(dkk, dkk + 2 * P * D, T(0));
        std::fill(dsk, dsk + P * H, T(0)), std::fill(dvk, dvk + H * 2 * P * D, T(0));
        const T* q0 = qp + k * P * D;
        const T* k0p = kp + k * 2 * P * D;
        const T* vo0 = vp + k * H * 2 * P * D;
        for (int64_t m = 0; m < Mh; ++m) {
          const int64_t e = k * Mh + m, a = ip[2 * e], b = ip[2 * e + 1];
          const T* gy = gp + e * D;
          const T* xh = yh + e * D;
          row_addmul(gy, xh, dgk, D);
          row_add(gy, dhk, D);
          mul_row(gy, g1p + k * D, g.data(), D);
          ln_back_row(g.data(), xh, rs[e], dr.data(), D, false);
          row_add(dr.data(), dbk, D);
          row_add(dr.data(), dxk + b * D, D);
          for (int64_t h = 0; h < H; ++h) {
            const T* we = wp + (e * H + h) * 2;
            const T* va = vo0 + (h * 2 * P + a) * D;
            const T* vb = vo0 + (h * 2 * P + P + b) * D;
            const T dw0 = row_dot(dr.data(), va, D), dw1 = row_dot(dr.data(), vb, D);
            const T mean = we[0] * dw0 + we[1] * dw1;
            const T ds0 = we[0] * (dw0 - mean) / sc;
            dsk[b * H + h] += we[1] * (dw1 - mean);
            row_axpy(we[0], dr.data(), dvk + (h * 2 * P + a) * D, D);
            row_axpy(we[1], dr.data(), dvk + (h * 2 * P + P + b) * D, D);
            row_axpy(ds0, k0p + a * D + h * dh, dqk + b * D + h * dh, dh);
            row_axpy(ds0, q0 + b * D + h * dh, dkk + a * D + h * dh, dh);
          }
        }
      }
    });
  });
}

// The encoder's second and final LayerNorms: from r2 [K, Mh, D] (y + the FFN's output, without its
// bias c2), with c2, g2, h2, gf, hf [K, D]: z2 = LN(r2 + c2) g2 + h2 and zf = LN(z2) gf + hf. Writes
// the normalized z2hat, zfhat, their rstd2, rstdf [K, Mh] and zf.
void ln2f_forward(const at::Tensor& r2, const at::Tensor& c2, const at::Tensor& g2, const at::Tensor& h2,
                  const at::Tensor& gf, const at::Tensor& hf, at::Tensor& z2hat, at::Tensor& rstd2, at::Tensor& zfhat,
                  at::Tensor& rstdf, at::Tensor& zf) {
  const auto dt = r2.scalar_type();
  check_all({&r2, &c2, &g2, &h2, &gf, &hf, &z2hat, &rstd2, &zfhat, &rstdf, &zf}, "ln2f tensors", dt);
  const int64_t K = c2.size(0), D = c2.size(1), Mh = K ? r2.numel() / (K * D) : 0;
  check_numel(r2, "r2", K * Mh * D), check_numel(z2hat, "z2hat", K * Mh * D), check_numel(zfhat, "zfhat", K * Mh * D);
  check_numel(zf, "zf", K * Mh * D), check_numel(rstd2, "rstd2", K * Mh), check_numel(rstdf, "rstdf", K * Mh);
  for (const at::Tensor* t : std::initializer_list<const at::Tensor*>{&g2, &h2, &gf, &hf}) check_numel(*t, "gains", K * D);
  AT_DISPATCH_FLOATING_TYPES(dt, "ln2f_forward", [&] {
    using T = scalar_t;
    const T *rp = r2.data_ptr<T>(), *cp = c2.data_ptr<T>(), *g2p = g2.data_ptr<T>(), *h2p = h2.data_ptr<T>();
    const T *gfp = gf.data_ptr<T>(), *hfp = hf.data_ptr<T>();
    T *z2p = z2hat.data_ptr<T>(), *r2s = rstd2.data_ptr<T>(), *zfp = zfhat.data_ptr<T>(), *rfs = rstdf.data_ptr<T>();
    T* op = zf.data_ptr<T>();
    at::parallel_for(0, K, 1, [&](int64_t k0, int64_t k1) {
      std::vector<T> t(D);
      for (int64_t k = k0; k < k1; ++k)
        for (int64_t m = 0; m < Mh; ++m) {
          const int64_t e = k * Mh + m;
          for (int64_t j = 0; j < D; ++j) t[j] = rp[e * D + j] + cp[k * D + j];
          r2s[e] = ln_row(t.data(), z2p + e * D, D);
          affine_row(z2p + e * D, g2p + k * D, h2p + k * D, t.data(), D);
          rfs[e] = ln_row(t.data(), zfp + e * D, D);
          affine_row(zfp + e * D, gfp + k * D, hfp + k * D, op + e * D, D);
        }
    });
  });
}

// Its backward from dzf [K, Mh, D]: writes dr2 [K, Mh, D] and each piece's partial sums (zeroed
// first) dgf, dhf, dg2, dh2 and dc2 [K, D].
void ln2f_backward(const at::Tensor& dzf, const at::Tensor& z2hat, const at::Tensor& rstd2, const at::Tensor& zfhat,
                   const at::Tensor& rstdf, const at::Tensor& g2, const at::Tensor& gf, at::Tensor& dr2, at::Tensor& dgf,
                   at::Tensor& dhf, at::Tensor& dg2, at::Tensor& dh2, at::Tensor& dc2) {
  const auto dt = dzf.scalar_type();
  check_all({&dzf, &z2hat, &rstd2, &zfhat, &rstdf, &g2, &gf, &dr2, &dgf, &dhf, &dg2, &dh2, &dc2},
            "ln2f_backward tensors", dt);
  const int64_t K = g2.size(0), D = g2.size(1), Mh = K ? dzf.numel() / (K * D) : 0;
  check_numel(dzf, "dzf", K * Mh * D), check_numel(z2hat, "z2hat", K * Mh * D), check_numel(zfhat, "zfhat", K * Mh * D);
  check_numel(dr2, "dr2", K * Mh * D), check_numel(rstd2, "rstd2", K * Mh), check_numel(rstdf, "rstdf", K * Mh);
  for (const at::Tensor* t : std::initializer_list<const at::Tensor*>{&gf, &dgf, &dhf, &dg2, &dh2, &dc2}) check_numel(*t, "sums", K * D);
  AT_DISPATCH_FLOATING_TYPES(dt, "ln2f_backward", [&] {
    using T = scalar_t;
    const T *gp = dzf.data_ptr<T>(), *z2p = z2hat.data_ptr<T>(), *r2s = rstd2.data_ptr<T>(), *zfp = zfhat.data_ptr<T>();
    const T *rfs = rstdf.data_ptr<T>(), *g2p = g2.data_ptr<T>(), *gfp = gf.data_ptr<T>();
    T *op = dr2.data_ptr<T>(), *dgfp = dgf.data_ptr<T>(), *dhfp = dhf.data_ptr<T>(), *dg2p = dg2.data_ptr<T>();
    T *dh2p = dh2.data_ptr<T>(), *dc2p = dc2.data_ptr<T>();
    at::parallel_for(0, K, 1, [&](int64_t k0, int64_t k1) {
      std::vector<T> g(D), dz2(D);
      for (int64_t k = k0; k < k1; ++k) {
        for (T* t : {dgfp, dhfp, dg2p, dh2p, dc2p}) std::fill(t + k * D, t + (k + 1) * D, T(0));
        for (int64_t m = 0; m < Mh; ++m) {
          const int64_t e = k * Mh + m;
          const T* gz = gp + e * D;
          row_addmul(gz, zfp + e * D, dgfp + k * D, D);
          row_add(gz, dhfp + k * D, D);
          mul_row(gz, gfp + k * D, g.data(), D);
          ln_back_row(g.data(), zfp + e * D, rfs[e], dz2.data(), D, false);
          row_addmul(dz2.data(), z2p + e * D, dg2p + k * D, D);
          row_add(dz2.data(), dh2p + k * D, D);
          mul_row(dz2.data(), g2p + k * D, g.data(), D);
          ln_back_row(g.data(), z2p + e * D, r2s[e], op + e * D, D, false);
          row_add(op + e * D, dc2p + k * D, D);
        }
      }
    });
  });
}

// x <- GELU(x), slope <- GELU'(x), for x [E, H] float32 (the MLP's formulas, one operand)
void gelu_slope_(at::Tensor& x, at::Tensor& slope) {
  check(x, "x", at::kFloat), check(slope, "slope", at::kFloat);
  TORCH_CHECK(x.dim() >= 1 && slope.numel() == x.numel(), "slope: must be x's size");
  const int64_t H = x.size(-1), E = H ? x.numel() / H : 0;
  float* xp = x.data_ptr<float>();
  float* sp = slope.data_ptr<float>();
  at::parallel_for(0, E, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t e = lo; e < hi; ++e) gelu_rows<false>(xp + e * H, nullptr, xp + e * H, sp + e * H, H);
  });
}

// dact [K, Mh, H] <- dact * slope (float32), and, with sums, each piece's column sums of the result
// sums [K, H] (example order)
void gelu_grad_(at::Tensor& dact, const at::Tensor& slope, at::Tensor& sums, bool with_sums) {
  check(dact, "dact", at::kFloat), check(slope, "slope", at::kFloat);
  TORCH_CHECK(dact.dim() == 3 && slope.numel() == dact.numel(), "dact [K, Mh, H], slope alike");
  const int64_t K = dact.size(0), Mh = dact.size(1), H = dact.size(2);
  if (with_sums) check(sums, "sums", at::kFloat), check_numel(sums, "sums", K * H);
  float* gp = dact.data_ptr<float>();
  const float* sp = slope.data_ptr<float>();
  float* op = with_sums ? sums.data_ptr<float>() : nullptr;
  at::parallel_for(0, K, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      if (with_sums) std::fill(op + k * H, op + (k + 1) * H, 0.f);
      for (int64_t m = 0; m < Mh; ++m) {
        const int64_t e = k * Mh + m;
        mul_row(gp + e * H, sp + e * H, gp + e * H, H);
        if (with_sums) row_add(gp + e * H, op + k * H, H);
      }
    }
  });
}

// Each piece's column sums of x [K, Mh, C] into sums [K, C] (example order)
void col_sums(const at::Tensor& x, at::Tensor& sums) {
  const auto dt = x.scalar_type();
  check_any(x, "x", dt), check_any(sums, "sums", dt);
  TORCH_CHECK(x.dim() == 3, "x: [K, Mh, C]");
  const int64_t K = x.size(0), Mh = x.size(1), C = x.size(2);
  check_numel(sums, "sums", K * C);
  AT_DISPATCH_FLOATING_TYPES(dt, "col_sums", [&] {
    using T = scalar_t;
    const T* xp = x.data_ptr<T>();
    T* op = sums.data_ptr<T>();
    at::parallel_for(0, K, 1, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        std::fill(op + k * C, op + (k + 1) * C, T(0));
        for (int64_t m = 0; m < Mh; ++m) row_add(xp + (k * Mh + m) * C, op + k * C, C);
      }
    });
  });
}

// Each piece's loss and its gradient, for z [K, Mh, W] logits (the first C columns count), classes
// y [K, Mh]: with mse false, the cross-entropy: loss [K] = scale * sum over examples of
// (logsumexp(z) - z[y]) and dz = scale (softmax(z) - onehot(y)); with mse, the squared error summed
// over classes: loss = scale * sum |z - onehot(y)|^2 and dz = 2 scale (z - onehot(y)). dz is
// [K, Mh, Wd] with Wd >= C: its columns past C are set to 0 (an aligned width keeps every piece's
// rows at the same alignment in any chunk: MKL's products may round by alignment). The loss is
// accumulated in float64.
void loss_sum(const at::Tensor& z, int64_t C, const at::Tensor& y, double scale, bool mse, at::Tensor& loss,
              at::Tensor& dz) {
  const auto dt = z.scalar_type();
  check_any(z, "z", dt), check_any(y, "y", at::kLong), check_any(loss, "loss", dt), check_any(dz, "dz", dt);
  TORCH_CHECK(z.dim() == 3 && C > 0 && C <= z.size(2), "z: [K, Mh, W] with at least C columns");
  const int64_t K = z.size(0), Mh = z.size(1), W = z.size(2), Wd = dz.dim() == 3 ? dz.size(2) : 0;
  TORCH_CHECK(dz.dim() == 3 && dz.size(0) == K && dz.size(1) == Mh && Wd >= C, "dz: [K, Mh, Wd], Wd >= C");
  check_numel(y, "y", K * Mh), check_numel(loss, "loss", K);
  AT_DISPATCH_FLOATING_TYPES(dt, "loss_sum", [&] {
    using T = scalar_t;
    using V = Vectorized<T>;
    const T* zp = z.data_ptr<T>();
    const int64_t* yp = y.data_ptr<int64_t>();
    T *lp = loss.data_ptr<T>(), *dp = dz.data_ptr<T>();
    const T sc = T(scale);
    const int64_t L = V::size(), full = C / L * L, rem = C - full;
    T lanes[64];
    for (int64_t l = 0; l < L; ++l) lanes[l] = T(l);
    const V tail = V::loadu(lanes) < V(T(rem));  // the lanes of the last, partial vector that count
    const T low = -std::numeric_limits<T>::infinity();
    at::parallel_for(0, K, 1, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        double total = 0;
        for (int64_t i = 0; i < Mh; ++i) {
          const T* zr = zp + (k * Mh + i) * W;
          T* dr = dp + (k * Mh + i) * Wd;
          std::fill(dr + C, dr + Wd, T(0));
          const int64_t target = yp[k * Mh + i];
          TORCH_CHECK(target >= 0 && target < C, "y: class ", target, " outside 0..", C - 1);
          if (mse) {
            double row = 0;
            for (int64_t c = 0; c < C; ++c) {
              const T d = zr[c] - (c == target ? T(1) : T(0));
              row += double(d) * double(d);
              dr[c] = T(2) * sc * d;
            }
            total += row;
            continue;
          }
          // the softmax, vectorized; the last vector's lanes past C masked (-inf for the max, 0 after exp)
          V top(low);
          for (int64_t c = 0; c < full; c += L) top = at::vec::maximum(top, V::loadu(zr + c));
          if (rem) top = at::vec::maximum(top, V::blendv(V(low), V::loadu(zr + full, rem), tail));
          const T mx = at::vec::vec_reduce_all<T>([](const V& a, const V& b) { return at::vec::maximum(a, b); }, top);
          const V vmx(mx);
          V acc(T(0));
          for (int64_t c = 0; c < full; c += L) {
            const V e = (V::loadu(zr + c) - vmx).exp();
            e.store(dr + c);
            acc = acc + e;
          }
          if (rem) {
            const V e = V::blendv(V(T(0)), (V::loadu(zr + full, rem) - vmx).exp(), tail);
            e.store(dr + full, rem);
            acc = acc + e;
          }
          const T sum = at::vec::vec_reduce_all<T>([](const V& a, const V& b) { return a + b; }, acc);
          total += double(mx) + std::log(double(sum)) - double(zr[target]);
          const V vs(sc / sum);
          for (int64_t c = 0; c < full; c += L) (V::loadu(dr + c) * vs).store(dr + c);
          if (rem) (V::loadu(dr + full, rem) * vs).store(dr + full, rem);
          dr[target] -= sc;
        }
        lp[k] = T(total * scale);
      }
    });
  });
}

// Each kernel lets go of Python's GIL while it runs: a batch's run shards train in threads.
PYBIND11_MODULE(TORCH_EXTENSION_NAME, mod) {
  mod.def("hidden_forward", &hidden_forward, py::call_guard<py::gil_scoped_release>(), "act, slope = GELU and GELU' of table[a] + table[b]");
  mod.def("hidden_backward", &hidden_backward, py::call_guard<py::gil_scoped_release>(), "dtable[a], dtable[b] += dact * slope");
  mod.def("cross_entropy", &cross_entropy, py::call_guard<py::gil_scoped_release>(), "each run's mean cross-entropy and its gradient dz");
  mod.def("sq_norms", &sq_norms, py::call_guard<py::gil_scoped_release>(), "each run's sum of squares, in float64");
  mod.def("adamw_", &adamw_, py::call_guard<py::gil_scoped_release>(), "one AdamW update of one parameter for every run of a batch");
  mod.def("attn_forward", &attn_forward, py::call_guard<py::gil_scoped_release>(), "the attention model's attention, residual and LN, per example");
  mod.def("attn_backward", &attn_backward, py::call_guard<py::gil_scoped_release>(), "its backward, into per-piece table gradients");
  mod.def("enc_forward", &enc_forward, py::call_guard<py::gil_scoped_release>(), "the encoder's attention, residual and first LN, per example");
  mod.def("enc_backward", &enc_backward, py::call_guard<py::gil_scoped_release>(), "its backward, into per-piece table gradients");
  mod.def("ln2f_forward", &ln2f_forward, py::call_guard<py::gil_scoped_release>(), "the encoder's second and final LayerNorms");
  mod.def("ln2f_backward", &ln2f_backward, py::call_guard<py::gil_scoped_release>(), "their backward, with per-piece sums");
  mod.def("gelu_slope_", &gelu_slope_, py::call_guard<py::gil_scoped_release>(), "x = GELU(x), slope = GELU'(x), in one pass");
  mod.def("gelu_grad_", &gelu_grad_, py::call_guard<py::gil_scoped_release>(), "dact *= slope, with per-piece column sums");
  mod.def("col_sums", &col_sums, py::call_guard<py::gil_scoped_release>(), "per-piece column sums, in example order");
  mod.def("loss_sum", &loss_sum, py::call_guard<py::gil_scoped_release>(), "per-piece summed cross-entropy or squared error, and dz");
}
