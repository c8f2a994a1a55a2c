// SPDX-License-Identifier: BSD-3-Clause
// Host reference twins of the dense ops: serial loops in double, straight from the formulas in each header.
#include "kernels/nn/reference_dense.hpp"

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace selectiv::nn {
namespace {

void require_size(const char* op, const char* name, const HostTensor& v, std::size_t expected) {
  if (v.size() != expected) {
    throw std::invalid_argument(std::string("selectiv::nn::") + op + ": " + name + " has " + std::to_string(v.size()) +
                                " elements, expected " + std::to_string(expected));
  }
}

std::size_t count(int a, int b) { return static_cast<std::size_t>(a) * static_cast<std::size_t>(b); }

double sigmoid_d(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double silu_d(double x) { return x * sigmoid_d(x); }
// sigmoid(-x) written out instead of 1 - sigmoid(x): the subtraction would lose the tail's digits
double silu_grad_d(double x) { return sigmoid_d(x) * (1.0 + x * sigmoid_d(-x)); }

}  // namespace

// --- linear ----------------------------------------------------------------------------------------------------
void linear_reference_fwd(HostTensor& y, const HostTensor& x, const HostTensor& w, const HostTensor& b, int rows,
                          int in, int out) {
  require_size("linear_reference_fwd", "x", x, count(rows, in));
  require_size("linear_reference_fwd", "w", w, count(out, in));
  if (!b.empty()) require_size("linear_reference_fwd", "b", b, static_cast<std::size_t>(out));
  y.assign(count(rows, out), 0.0);
  for (int r = 0; r < rows; ++r) {
    for (int o = 0; o < out; ++o) {
      double acc = b.empty() ? 0.0 : b[o];
      for (int i = 0; i < in; ++i) acc += x[count(r, in) + i] * w[count(o, in) + i];
      y[count(r, out) + o] = acc;
    }
  }
}

void linear_reference_bwd(HostTensor& dx, HostTensor& dw, HostTensor& db, const HostTensor& dy, const HostTensor& x,
                          const HostTensor& w, int rows, int in, int out) {
  require_size("linear_reference_bwd", "dy", dy, count(rows, out));
  require_size("linear_reference_bwd", "x", x, count(rows, in));
  require_size("linear_reference_bwd", "w", w, count(out, in));
  require_size("linear_reference_bwd", "dw", dw, count(out, in));
  if (!db.empty()) require_size("linear_reference_bwd", "db", db, static_cast<std::size_t>(out));
  dx.assign(count(rows, in), 0.0);
  for (int r = 0; r < rows; ++r) {
    for (int o = 0; o < out; ++o) {
      const double g = dy[count(r, out) + o];
      for (int i = 0; i < in; ++i) {
        dx[count(r, in) + i] += g * w[count(o, in) + i];
        dw[count(o, in) + i] += g * x[count(r, in) + i];
      }
      if (!db.empty()) db[o] += g;
    }
  }
}

// --- layer_norm --------------------------------------------------------------------------------------------------
void layer_norm_reference_fwd(HostTensor& y, HostTensor& mean, HostTensor& rstd, const HostTensor& x,
                              const HostTensor& w, const HostTensor& b, int rows, int dim, double eps) {
  require_size("layer_norm_reference_fwd", "x", x, count(rows, dim));
  require_size("layer_norm_reference_fwd", "w", w, static_cast<std::size_t>(dim));
  require_size("layer_norm_reference_fwd", "b", b, static_cast<std::size_t>(dim));
  y.assign(count(rows, dim), 0.0);
  mean.assign(static_cast<std::size_t>(rows), 0.0);
  rstd.assign(static_cast<std::size_t>(rows), 0.0);
  for (int r = 0; r < rows; ++r) {
    const double* xr = &x[count(r, dim)];
    double mu = 0.0;
    for (int j = 0; j < dim; ++j) mu += xr[j];
    mu /= dim;
    double var = 0.0;
    for (int j = 0; j < dim; ++j) var += (xr[j] - mu) * (xr[j] - mu);
    var /= dim;
    const double rs = 1.0 / std::sqrt(var + eps);
    for (int j = 0; j < dim; ++j) y[count(r, dim) + j] = (xr[j] - mu) * rs * w[j] + b[j];
    mean[r] = mu;
    rstd[r] = rs;
  }
}

void layer_norm_reference_bwd(HostTensor& dx, HostTensor& dw, HostTensor& db, const HostTensor& dy, const HostTensor& x,
                              const HostTensor& w, int rows, int dim, double eps) {
  require_size("layer_norm_reference_bwd", "dy", dy, count(rows, dim));
  require_size("layer_norm_reference_bwd", "x", x, count(rows, dim));
  require_size("layer_norm_reference_bwd", "w", w, static_cast<std::size_t>(dim));
  require_size("layer_norm_reference_bwd", "dw", dw, static_cast<std::size_t>(dim));
  require_size("layer_norm_reference_bwd", "db", db, static_cast<std::size_t>(dim));
  dx.assign(count(rows, dim), 0.0);
  std::vector<double> xhat(static_cast<std::size_t>(dim)), g(static_cast<std::size_t>(dim));
  for (int r = 0; r < rows; ++r) {
    const double* xr = &x[count(r, dim)];
    const double* dyr = &dy[count(r, dim)];
    double mu = 0.0;
    for (int j = 0; j < dim; ++j) mu += xr[j];
    mu /= dim;
    double var = 0.0;
    for (int j = 0; j < dim; ++j) var += (xr[j] - mu) * (xr[j] - mu);
    var /= dim;
    const double rs = 1.0 / std::sqrt(var + eps);
    // chain rule through xhat = (x - mu) rs:  dvar = sum g (x - mu) * (-1/2) rs^3,  dmu = -sum g rs + dvar * (-2/D) sum
    // (x - mu)
    double dvar = 0.0, dmu = 0.0, centred_sum = 0.0;
    for (int j = 0; j < dim; ++j) {
      xhat[j] = (xr[j] - mu) * rs;
      g[j] = dyr[j] * w[j];
      dw[j] += dyr[j] * xhat[j];
      db[j] += dyr[j];
      dvar += g[j] * (xr[j] - mu) * -0.5 * rs * rs * rs;
      dmu -= g[j] * rs;
      centred_sum += xr[j] - mu;
    }
    dmu += dvar * -2.0 * centred_sum / dim;
    for (int j = 0; j < dim; ++j) dx[count(r, dim) + j] = g[j] * rs + dvar * 2.0 * (xr[j] - mu) / dim + dmu / dim;
  }
}

// --- rms_norm ----------------------------------------------------------------------------------------------------
namespace {

struct RmsGroupStats {
  double ms;      // mean of v^2
  double r;       // the factor: y = v r w (gate aside)
  double dr_dms;  // d r / d ms
};

RmsGroupStats rms_stats(const double* v, int group, const RmsNormSpec& spec) {
  double ms = 0.0;
  for (int j = 0; j < group; ++j) ms += v[j] * v[j];
  ms /= group;
  const double eps = spec.eps;
  if (spec.eps_placement == RmsEps::inside_sqrt) {
    const double r = 1.0 / std::sqrt(ms + eps);
    return {ms, r, -0.5 * r * r * r};
  }
  const double s = std::sqrt(ms);
  const double r = 1.0 / (s + eps);
  return {ms, r, s > 0.0 ? -r * r / (2.0 * s) : 0.0};
}

void rms_check(const char* op, const HostTensor& x, const HostTensor& gate, const HostTensor& w, int rows, int dim,
               const RmsNormSpec& spec) {
  if (spec.group_size <= 0 || dim % spec.group_size != 0) {
    throw std::invalid_argument(std::string("selectiv::nn::") + op + ": dim must be a positive multiple of group_size");
  }
  require_size(op, "x", x, count(rows, dim));
  if (!gate.empty()) require_size(op, "gate", gate, count(rows, dim));
  require_size(op, "w", w, static_cast<std::size_t>(spec.group_size));
}

}  // namespace

void rms_norm_reference_fwd(HostTensor& y, HostTensor& rstd, const HostTensor& x, const HostTensor& gate,
                            const HostTensor& w, int rows, int dim, const RmsNormSpec& spec, GateOrder order) {
  rms_check("rms_norm_reference_fwd", x, gate, w, rows, dim, spec);
  const int group = spec.group_size, groups = dim / group;
  const bool gate_first = !gate.empty() && order == GateOrder::gate_then_norm;
  const bool gate_after = !gate.empty() && order == GateOrder::norm_then_gate;
  y.assign(count(rows, dim), 0.0);
  rstd.assign(count(rows, groups), 0.0);
  std::vector<double> v(static_cast<std::size_t>(group));
  for (int r = 0; r < rows; ++r) {
    for (int gi = 0; gi < groups; ++gi) {
      const std::size_t base = count(r, dim) + count(gi, group);
      for (int j = 0; j < group; ++j) v[j] = gate_first ? x[base + j] * silu_d(gate[base + j]) : x[base + j];
      const RmsGroupStats st = rms_stats(v.data(), group, spec);
      for (int j = 0; j < group; ++j) {
        y[base + j] = v[j] * st.r * w[j] * (gate_after ? silu_d(gate[base + j]) : 1.0);
      }
      rstd[count(r, groups) + gi] = st.r;
    }
  }
}

void rms_norm_reference_bwd(HostTensor& dx, HostTensor& dgate, HostTensor& dw, const HostTensor& dy,
                            const HostTensor& x, const HostTensor& gate, const HostTensor& w, int rows, int dim,
                            const RmsNormSpec& spec, GateOrder order) {
  rms_check("rms_norm_reference_bwd", x, gate, w, rows, dim, spec);
  require_size("rms_norm_reference_bwd", "dy", dy, count(rows, dim));
  require_size("rms_norm_reference_bwd", "dw", dw, static_cast<std::size_t>(spec.group_size));
  const int group = spec.group_size, groups = dim / group;
  const bool gate_first = !gate.empty() && order == GateOrder::gate_then_norm;
  const bool gate_after = !gate.empty() && order == GateOrder::norm_then_gate;
  dx.assign(count(rows, dim), 0.0);
  if (gate.empty()) {
    dgate.clear();
  } else {
    dgate.assign(count(rows, dim), 0.0);
  }
  std::vector<double> v(static_cast<std::size_t>(group)), dyv(static_cast<std::size_t>(group));
  for (int r = 0; r < rows; ++r) {
    for (int gi = 0; gi < groups; ++gi) {
      const std::size_t base = count(r, dim) + count(gi, group);
      for (int j = 0; j < group; ++j) v[j] = gate_first ? x[base + j] * silu_d(gate[base + j]) : x[base + j];
      const RmsGroupStats st = rms_stats(v.data(), group, spec);
      // y_j = v_j r w_j a_j with a_j = silu(g_j) (gate after) or 1.  dL/d(v_j r) = dy_j w_j a_j =: u_j.
      double dr = 0.0;
      for (int j = 0; j < group; ++j) {
        const double a = gate_after ? silu_d(gate[base + j]) : 1.0;
        dyv[j] = dy[base + j] * w[j] * a;
        dr += dyv[j] * v[j];
        dw[j] += dy[base + j] * v[j] * st.r * a;
        if (gate_after) dgate[base + j] = dy[base + j] * v[j] * st.r * w[j] * silu_grad_d(gate[base + j]);
      }
      const double dms = dr * st.dr_dms;
      for (int j = 0; j < group; ++j) {
        const double dv = dyv[j] * st.r + dms * 2.0 * v[j] / group;
        if (gate_first) {
          const double g = gate[base + j];
          dx[base + j] = dv * silu_d(g);
          dgate[base + j] = dv * x[base + j] * silu_grad_d(g);
        } else {
          dx[base + j] = dv;
        }
      }
    }
  }
}

// --- l2_norm -----------------------------------------------------------------------------------------------------
void l2_norm_reference_fwd(HostTensor& y, HostTensor& rstd, const HostTensor& x, int rows, int dim, int group,
                           double eps) {
  if (group <= 0 || dim % group != 0) {
    throw std::invalid_argument("selectiv::nn::l2_norm_reference_fwd: dim must be a positive multiple of group");
  }
  require_size("l2_norm_reference_fwd", "x", x, count(rows, dim));
  const int groups = dim / group;
  y.assign(count(rows, dim), 0.0);
  rstd.assign(count(rows, groups), 0.0);
  for (int r = 0; r < rows; ++r) {
    for (int gi = 0; gi < groups; ++gi) {
      const std::size_t base = count(r, dim) + count(gi, group);
      double sq = 0.0;
      for (int j = 0; j < group; ++j) sq += x[base + j] * x[base + j];
      const double norm = std::sqrt(sq + eps);
      for (int j = 0; j < group; ++j) y[base + j] = x[base + j] / norm;
      rstd[count(r, groups) + gi] = 1.0 / norm;
    }
  }
}

void l2_norm_reference_bwd(HostTensor& dx, const HostTensor& dy, const HostTensor& x, int rows, int dim, int group,
                           double eps) {
  if (group <= 0 || dim % group != 0) {
    throw std::invalid_argument("selectiv::nn::l2_norm_reference_bwd: dim must be a positive multiple of group");
  }
  require_size("l2_norm_reference_bwd", "x", x, count(rows, dim));
  require_size("l2_norm_reference_bwd", "dy", dy, count(rows, dim));
  const int groups = dim / group;
  dx.assign(count(rows, dim), 0.0);
  for (int r = 0; r < rows; ++r) {
    for (int gi = 0; gi < groups; ++gi) {
      const std::size_t base = count(r, dim) + count(gi, group);
      double sq = 0.0, dot = 0.0;
      for (int j = 0; j < group; ++j) {
        sq += x[base + j] * x[base + j];
        dot += dy[base + j] * x[base + j];
      }
      const double norm = std::sqrt(sq + eps);
      // y_i = x_i / n,  d n / d x_j = x_j / n:  dx_j = dy_j / n - x_j (sum_i dy_i x_i) / n^3
      for (int j = 0; j < group; ++j) dx[base + j] = dy[base + j] / norm - x[base + j] * dot / (norm * norm * norm);
    }
  }
}

// --- short_conv --------------------------------------------------------------------------------------------------
namespace {

void conv_check(const char* op, const HostTensor& x, const HostTensor& w, const HostTensor& bias, int batch, int steps,
                int channels, int width) {
  if (width <= 0) throw std::invalid_argument(std::string("selectiv::nn::") + op + ": width must be positive");
  require_size(op, "x", x, count(batch, steps) * static_cast<std::size_t>(channels));
  require_size(op, "w", w, count(channels, width));
  if (!bias.empty()) require_size(op, "bias", bias, static_cast<std::size_t>(channels));
}

// pre[b, t, c] = bias[c] + sum_i w[c, i] x[b, t - W + 1 + i, c], x = 0 before t = 0
HostTensor conv_pre_activation(const HostTensor& x, const HostTensor& w, const HostTensor& bias, int batch, int steps,
                               int channels, int width) {
  HostTensor pre(count(batch, steps) * static_cast<std::size_t>(channels), 0.0);
  for (int b = 0; b < batch; ++b) {
    for (int t = 0; t < steps; ++t) {
      for (int c = 0; c < channels; ++c) {
        double acc = bias.empty() ? 0.0 : bias[c];
        for (int i = 0; i < width; ++i) {
          const int tau = t - width + 1 + i;
          if (tau >= 0) acc += w[count(c, width) + i] * x[(count(b, steps) + tau) * channels + c];
        }
        pre[(count(b, steps) + t) * channels + c] = acc;
      }
    }
  }
  return pre;
}

}  // namespace

void short_conv_reference_fwd(HostTensor& y, const HostTensor& x, const HostTensor& w, const HostTensor& bias,
                              int batch, int steps, int channels, int width, bool apply_silu) {
  conv_check("short_conv_reference_fwd", x, w, bias, batch, steps, channels, width);
  y = conv_pre_activation(x, w, bias, batch, steps, channels, width);
  if (apply_silu) {
    for (double& v : y) v = silu_d(v);
  }
}

void short_conv_reference_bwd(HostTensor& dx, HostTensor& dw, HostTensor& dbias, const HostTensor& dy,
                              const HostTensor& x, const HostTensor& w, const HostTensor& bias, int batch, int steps,
                              int channels, int width, bool apply_silu) {
  conv_check("short_conv_reference_bwd", x, w, bias, batch, steps, channels, width);
  require_size("short_conv_reference_bwd", "dy", dy, x.size());
  require_size("short_conv_reference_bwd", "dw", dw, w.size());
  if (!dbias.empty()) require_size("short_conv_reference_bwd", "dbias", dbias, static_cast<std::size_t>(channels));
  const HostTensor pre = conv_pre_activation(x, w, bias, batch, steps, channels, width);
  dx.assign(x.size(), 0.0);
  // scatter each output's gradient back onto the inputs and weights that produced it
  for (int b = 0; b < batch; ++b) {
    for (int t = 0; t < steps; ++t) {
      for (int c = 0; c < channels; ++c) {
        const std::size_t at = (count(b, steps) + t) * channels + c;
        const double dpre = apply_silu ? dy[at] * silu_grad_d(pre[at]) : dy[at];
        if (!dbias.empty()) dbias[c] += dpre;
        for (int i = 0; i < width; ++i) {
          const int tau = t - width + 1 + i;
          if (tau < 0) continue;
          const std::size_t from = (count(b, steps) + tau) * channels + c;
          dx[from] += dpre * w[count(c, width) + i];
          dw[count(c, width) + i] += dpre * x[from];
        }
      }
    }
  }
}

// --- activations -------------------------------------------------------------------------------------------------
namespace {

template <class Fn>
void map_reference(HostTensor& y, const HostTensor& x, Fn f) {
  y.resize(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = f(x[i]);
}

template <class Grad>
void map_reference_grad(const char* op, HostTensor& dx, const HostTensor& dy, const HostTensor& x, Grad g) {
  require_size(op, "dy", dy, x.size());
  dx.resize(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) dx[i] = dy[i] * g(x[i]);
}

double softplus_d(double x) { return x > 20.0 ? x : std::log1p(std::exp(x)); }
// log sigmoid(x) = -log(1 + e^-x), written per sign so that e^t never overflows
double logsigmoid_d(double x) { return x >= 0.0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }

}  // namespace

void sigmoid_reference_fwd(HostTensor& y, const HostTensor& x) { map_reference(y, x, sigmoid_d); }
void sigmoid_reference_bwd(HostTensor& dx, const HostTensor& dy, const HostTensor& x) {
  map_reference_grad("sigmoid_reference_bwd", dx, dy, x, [](double v) { return sigmoid_d(v) * sigmoid_d(-v); });
}
void silu_reference_fwd(HostTensor& y, const HostTensor& x) { map_reference(y, x, silu_d); }
void silu_reference_bwd(HostTensor& dx, const HostTensor& dy, const HostTensor& x) {
  map_reference_grad("silu_reference_bwd", dx, dy, x, silu_grad_d);
}
void softplus_reference_fwd(HostTensor& y, const HostTensor& x) { map_reference(y, x, softplus_d); }
void softplus_reference_bwd(HostTensor& dx, const HostTensor& dy, const HostTensor& x) {
  map_reference_grad("softplus_reference_bwd", dx, dy, x, [](double v) { return v > 20.0 ? 1.0 : sigmoid_d(v); });
}
void logsigmoid_reference_fwd(HostTensor& y, const HostTensor& x) { map_reference(y, x, logsigmoid_d); }
void logsigmoid_reference_bwd(HostTensor& dx, const HostTensor& dy, const HostTensor& x) {
  map_reference_grad("logsigmoid_reference_bwd", dx, dy, x, [](double v) { return sigmoid_d(-v); });
}

}  // namespace selectiv::nn
