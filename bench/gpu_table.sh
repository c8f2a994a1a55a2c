#!/usr/bin/env bash
# The training-step table of performance.md §3.3 (B = 64, 8 layers, V = 41, C = 1601) for our build: one
# `selectiv bench` line per model and shape, median of 10 steps after 3 warm-up steps.
#   bench/gpu_table.sh [--precision P] [--profile N] [MODEL ...]      (default: the six models of the anchor table)
# SHAPES="256:400 1024:1300" overrides the shapes (d:T pairs). SELECTIV points at the binary.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
selectiv=${SELECTIV:-$here/build/pipelines/selectiv}
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --precision|--profile) extra+=("$1" "$2"); shift 2 ;;
    *) break ;;
  esac
done
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(gated_delta_net gla delta_net gated_delta_product mamba2 transformer)
for shape in ${SHAPES:-256:400 256:1300 1024:400 1024:1300}; do
  for m in "${models[@]}"; do
    "$selectiv" bench --model "$m" --d "${shape%%:*}" --T "${shape##*:}" --batch 64 --layers 8 "${extra[@]}" ||
      echo "$m d ${shape%%:*} T ${shape##*:}: failed (exit $?)"
  done
done
