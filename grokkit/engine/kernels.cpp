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

// GELU(x) = x * Phi(x) and GELU'(x) = Phi(x) + x * phi(x) for one row of H numbers, x = a + b.
// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, the formula of ATen's vectorized erf),
// whose exp(-x^2 / 2) is also the normal density's: one exp per number gives both.
void gelu_row(const float* a, const float* b, float* act, float* slope, int64_t H) {
  using V = Vectorized<float>;
  const V zero(0.f), half(0.5f), one(1.f), rsqrt2(float(M_SQRT1_2)), mhalf(-0.5f);
  const V density(float(M_2_SQRTPI * M_SQRT1_2 * 0.5));  // 1 / sqrt(2 pi)
  const V q(0.3275911f), c1(0.254829592f), c2(-0.284496736f), c3(1.421413741f), c4(-1.453152027f),
      c5(1.061405429f);
  int64_t j = 0;
  for (; j + V::size() <= H; j += V::size()) {
    const V x = V::loadu(a + j) + V::loadu(b + j);
    const V t = one / at::vec::fmadd(q, (x * rsqrt2).abs(), one);
    const V poly = at::vec::fmadd(at::vec::fmadd(at::vec::fmadd(at::vec::fmadd(c5, t, c4), t, c3), t, c2), t, c1);
    const V e = (x * x * mhalf).exp_u20();
    const V erf_abs = one - poly * t * e;
    const V cdf = half * (one + V::blendv(erf_abs, zero - erf_abs, x < zero));
    (x * cdf).store(act + j);
    at::vec::fmadd(x, density * e, cdf).store(slope + j);
  }
  for (; j < H; ++j) {
    const float x = a[j] + b[j];
    const float cdf = 0.5f * (1.f + std::erf(x * float(M_SQRT1_2)));
    act[j] = x * cdf;
    slope[j] = cdf + x * float(M_2_SQRTPI * M_SQRT1_2 * 0.5) * std::exp(-0.5f * x * x);
  }
}

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

// Each kernel lets go of Python's GIL while it runs: a batch's run shards train in threads.
PYBIND11_MODULE(TORCH_EXTENSION_NAME, mod) {
  mod.def("hidden_forward", &hidden_forward, py::call_guard<py::gil_scoped_release>(), "act, slope = GELU and GELU' of table[a] + table[b]");
  mod.def("hidden_backward", &hidden_backward, py::call_guard<py::gil_scoped_release>(), "dtable[a], dtable[b] += dact * slope");
  mod.def("cross_entropy", &cross_entropy, py::call_guard<py::gil_scoped_release>(), "each run's mean cross-entropy and its gradient dz");
  mod.def("sq_norms", &sq_norms, py::call_guard<py::gil_scoped_release>(), "each run's sum of squares, in float64");
  mod.def("adamw_", &adamw_, py::call_guard<py::gil_scoped_release>(), "one AdamW update of one parameter for every run of a batch");
}
