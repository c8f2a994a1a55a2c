// SPDX-License-Identifier: BSD-3-Clause
// Causal softmax attention through blocks of the score matrix (README.md §4). The step numbers in the comments are
// the README's.
#include "kernels/attention/blocked.hpp"

#include <cstdint>
#include <stdexcept>

#include "kernels/attention/shapes.hpp"
#include "kernels/common/batched_gemm.hpp"
#include "kernels/common/compat.hpp"
#include "kernels/common/precision.hpp"
#include "kernels/common/reductions.hpp"
#include "kernels/common/workspace.hpp"

namespace selectiv::attention {
namespace {

using nn::detail::Member;
using nn::detail::vector_item;
using nn::detail::vector_per_item;

// Query rows [q0, q0 + rows) and the keys they see, [0, keys) with keys = q0 + rows.
struct Block {
  int q0, rows, keys;
};

// The rows x keys score matrix of each (b, h) of a block, packed in a workspace: batch indices (b, h).
kc::MatrixBatch score_matrices(float* data, const Block& block, int heads) {
  const std::int64_t size = static_cast<std::int64_t>(block.rows) * block.keys;
  return kc::MatrixBatch(data, block.keys, heads * size, size);
}

// f(block) for the blocks of `rows` query rows that cover [0, T), first to last or last to first.
template <class F>
void for_blocks(int T, int rows, bool last_first, const F& f) {
  const int count = (T + rows - 1) / rows;
  for (int i = 0; i < count; ++i) {
    const int q0 = (last_first ? count - 1 - i : i) * rows, n = T - q0 < rows ? T - q0 : rows;
    f(Block{q0, n, q0 + n});
  }
}

// 2. Scores to probabilities in place, one warp per query row: P_ts = exp(S_ts - m_t) / l_t on the visible keys
// s <= t, 0 on the rest; lse_t = m_t + log l_t.
void probabilities_fwd(const Exec& exec, const kc::MatrixBatch& scores, const View3& lse, const Block& block, int batch,
                       int heads) {
  const int rows = block.rows, keys = block.keys, q0 = block.q0, items = batch * heads * rows;
  Kokkos::parallel_for(
      "selectiv::attention::blocked_fwd::softmax_rows", vector_per_item(exec, items),
      KOKKOS_LAMBDA(const Member& team) {
        const int item = vector_item(team);
        if (item >= items) return;
        const int r = item % rows, b = item / rows / heads, h = item / rows % heads, visible = q0 + r + 1;
        float* row = scores.matrix(b, h, 0) + static_cast<std::int64_t>(r) * keys;
        float row_max = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, visible), [&](int s, float& m) { m = kc::fmax(m, row[s]); },
            Kokkos::Max<float>(row_max));
        float sum = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, visible), [&](int s, float& acc) { acc += kc::exp(row[s] - row_max); },
            sum);
        const float inverse = 1.0f / sum;
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, keys),
                             [&](int s) { row[s] = s < visible ? kc::exp(row[s] - row_max) * inverse : 0.0f; });
        Kokkos::single(Kokkos::PerThread(team), [&]() { lse(b, h, q0 + r) = row_max + kc::log(sum); });
      });
}

// B3. One warp per query row: P_ts = exp(S_ts - lse_t) on the visible keys (0 on the rest) in place of the scores,
// dS_ts = P_ts (dP_ts - D_t) in place of dP.
void score_gradients(const Exec& exec, const kc::MatrixBatch& scores, const kc::MatrixBatch& grads, const CView3& lse,
                     const CView3& delta, const Block& block, int batch, int heads) {
  const int rows = block.rows, keys = block.keys, q0 = block.q0, items = batch * heads * rows;
  Kokkos::parallel_for(
      "selectiv::attention::blocked_bwd::score_grads", vector_per_item(exec, items), KOKKOS_LAMBDA(const Member& team) {
        const int item = vector_item(team);
        if (item >= items) return;
        const int r = item % rows, b = item / rows / heads, h = item / rows % heads, t = q0 + r;
        const std::int64_t offset = static_cast<std::int64_t>(r) * keys;
        float* s_row = scores.matrix(b, h, 0) + offset;
        float* g_row = grads.matrix(b, h, 0) + offset;
        const float lse_t = lse(b, h, t), delta_t = delta(b, h, t);
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, keys), [&](int s) {
          const float p = s <= t ? kc::exp(s_row[s] - lse_t) : 0.0f;
          s_row[s] = p;
          g_row[s] = p * (g_row[s] - delta_t);
        });
      });
}

// Rows row0.. of each (b, h) of a (B, T, H, D) tensor: batch indices (b, h).
template <class ViewType>
kc::MatrixBatchOf<typename ViewType::value_type> head_rows(const ViewType& x, int row0) {
  return kc::head_rows(x, row0, 0);
}

}  // namespace

int attention_blocked_rows(int batch, int heads, int length, int requested_rows) {
  if (requested_rows < 0) throw std::invalid_argument("attention_blocked: requested_rows must be >= 0");
  if (length < 1) return 1;
  if (requested_rows > 0) return requested_rows < length ? requested_rows : length;
  const std::size_t row_bytes = static_cast<std::size_t>(batch) * heads * length * sizeof(float);
  std::size_t rows = row_bytes == 0 ? length : kScoreBlockBytes / row_bytes;
  if (rows >= 16) rows -= rows % 16;
  if (rows < 1) rows = 1;
  return rows < static_cast<std::size_t>(length) ? static_cast<int>(rows) : length;
}

void attention_blocked_fwd(const Exec& exec, View4 o, View3 lse, CView4 q, CView4 k, CView4 v, float scale,
                           int requested_rows) {
  const AttentionShape n = attention_shape(q, k, v, o, lse, "attention_blocked_fwd");
  const int rows = attention_blocked_rows(n.batch, n.heads, n.length, requested_rows);
  if (static_cast<std::int64_t>(n.batch) * n.heads * n.length == 0) return;
  const TileMath math = current_tile_math();
  const kc::BatchCount heads{{n.batch, n.heads, 1}};
  float* scores =
      workspace<View1>("selectiv::attention::blocked::scores", std::size_t(n.batch) * n.heads * rows * n.length).data();
  for_blocks(n.length, rows, false, [&](const Block& block) {
    const kc::MatrixBatch S = score_matrices(scores, block, n.heads);
    // 1. S = scale Q_block K^T over the keys the block sees.
    kc::gemm_batched(exec, "N", "T", block.rows, block.keys, n.head_dim, scale, head_rows(q, block.q0), head_rows(k, 0),
                     0.0f, S, heads, math);
    probabilities_fwd(exec, S, lse, block, n.batch, n.heads);
    // 3. O_block = P V.
    kc::gemm_batched(exec, "N", "N", block.rows, n.head_dim, block.keys, 1.0f, S, head_rows(v, 0), 0.0f,
                     head_rows(o, block.q0), heads, math);
  });
}

void attention_blocked_bwd(const Exec& exec, View4 dq, View4 dk, View4 dv, CView4 do_, CView4 o, CView3 lse, CView4 q,
                           CView4 k, CView4 v, float scale, int requested_rows) {
  const char* op = "attention_blocked_bwd";
  const AttentionShape n = attention_shape(q, k, v, o, lse, op);
  require_shape_of_q(do_, q, op, "do_");
  require_shape_of_q(dq, q, op, "dq");
  require_shape_of_q(dk, q, op, "dk");
  require_shape_of_q(dv, q, op, "dv");
  const int rows = attention_blocked_rows(n.batch, n.heads, n.length, requested_rows);
  if (static_cast<std::int64_t>(n.batch) * n.heads * n.length == 0) return;
  const TileMath math = current_tile_math();
  const kc::BatchCount heads{{n.batch, n.heads, 1}};
  const std::size_t block_floats = std::size_t(n.batch) * n.heads * rows * n.length;
  float* scores = workspace<View1>("selectiv::attention::blocked::scores", block_floats).data();
  float* grads = workspace<View1>("selectiv::attention::blocked_bwd::score_grads", block_floats).data();
  // B1. D_t = dO_t . O_t.
  const View3 delta = output_gradient_dots(exec, "selectiv::attention::row_dot", do_, o);
  // The last block sees every key, so it assigns dk and dv; the earlier blocks add to their first rows.
  bool first = true;
  for_blocks(n.length, rows, true, [&](const Block& block) {
    const kc::MatrixBatch S = score_matrices(scores, block, n.heads), G = score_matrices(grads, block, n.heads);
    // B2. S = scale Q_block K^T (recomputed) and dP = dO_block V^T.
    kc::gemm_batched(exec, "N", "T", block.rows, block.keys, n.head_dim, scale, head_rows(q, block.q0), head_rows(k, 0),
                     0.0f, S, heads, math);
    kc::gemm_batched(exec, "N", "T", block.rows, block.keys, n.head_dim, 1.0f, head_rows(do_, block.q0),
                     head_rows(v, 0), 0.0f, G, heads, math);
    score_gradients(exec, S, G, lse, delta, block, n.batch, n.heads);
    // B4. dV += P^T dO_block, dK += scale dS^T Q_block, dQ_block = scale dS K.
    const float beta = first ? 0.0f : 1.0f;
    kc::gemm_batched(exec, "T", "N", block.keys, n.head_dim, block.rows, 1.0f, S, head_rows(do_, block.q0), beta,
                     head_rows(dv, 0), heads, math);
    kc::gemm_batched(exec, "T", "N", block.keys, n.head_dim, block.rows, scale, G, head_rows(q, block.q0), beta,
                     head_rows(dk, 0), heads, math);
    kc::gemm_batched(exec, "N", "N", block.rows, n.head_dim, block.keys, scale, G, head_rows(k, 0), 0.0f,
                     head_rows(dq, block.q0), heads, math);
    first = false;
  });
}

}  // namespace selectiv::attention
