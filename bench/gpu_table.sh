#!/usr/bin/env bash
# The training-step table of performance.md §3.3 (B = 64, 8 layers, V = 41, C = 1601) for our build: one
# `selectiv bench` line per model and shape, median of 10 steps after 3 warm-up steps.
#   bench/gpu_table.sh [--precision P] [--profile N] [MODEL ...]      (default: the six models of the anchor table)
# P is fp32, tf32, bf16 or reference: each model in the dtype the reference trains it in (bf16 for the delta family,
# fp32 for the others; performance.md §1). SHAPES="256:400 1024:1300" overrides the shapes (d:T pairs). SELECTIV
# points at the binary.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
selectiv=${SELECTIV:-$here/build/pipelines/selectiv}
extra=()
precision=fp32
while [ $# -gt 0 ]; do
  case $1 in
    --precision) precision=$2; shift 2 ;;
    --profile) extra+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
case $precision in
  fp32|tf32|bf16|reference) ;;
  *) echo "gpu_table.sh: --precision $precision: not one of fp32, tf32, bf16, reference" >&2; exit 2 ;;
esac
# The dtype the reference trains model $1 in.
reference_precision() {
  case $1 in delta_net|gated_delta_net|gated_delta_product) echo bf16 ;; *) echo fp32 ;; esac
}
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(gated_delta_net gla delta_net gated_delta_product mamba2 transformer)
for shape in ${SHAPES:-256:400 256:1300 1024:400 1024:1300}; do
  for m in "${models[@]}"; do
    p=$precision
    [ "$p" != reference ] || p=$(reference_precision "$m")
    "$selectiv" bench --model "$m" --d "${shape%%:*}" --T "${shape##*:}" --batch 64 --layers 8 --precision "$p" \
      ${extra[@]+"${extra[@]}"} ||
      echo "$m d ${shape%%:*} T ${shape##*:}: failed (exit $?)"
  done
done
