#!/usr/bin/env bash
# Peak resident memory of the longest evaluation of the benchmark: task 4 at test_dur = 10 (T = 20200, C = 1601,
# batch 50) for models of the paper's task-2 size (d = 256, 8 layers). Each checkpoint is trained for 2 updates on
# a 64-sample task-2 set (memory does not depend on the weights), then `selectiv generalize` evaluates N test
# samples (default 1: with the default --max-tokens a micro-batch is one sample, so the peak does not depend on N)
# under /usr/bin/time -v.
#   bench/eval_memory.sh OUT_DIR [MODEL ...]        (default: every model of the list)
set -euo pipefail
out=${1:?usage: bench/eval_memory.sh OUT_DIR [MODEL ...]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
selectiv=${SELECTIV:-$here/build/pipelines/selectiv}
models=("$@")
[ ${#models[@]} -gt 0 ] || mapfile -t models < <(sed -n 's/^SELECTIV_MIXER(\([a-z0-9_]*\),.*/\1/p' "$here/src/models/zoo.def")
mkdir -p "$out"
cd "$out"
for split in train test; do
  [ -f t2/$split.h5 ] || "$selectiv" generate --config "$here/data/specs/task2.yaml" --set splits.train_size=64 \
    --set splits.test_size=2 --split $split --out t2
done
for m in "${models[@]}"; do
  [ -f ck_$m/checkpoint.h5 ] || "$selectiv" train --train t2/train.h5 --test t2/test.h5 --out ck_$m \
    --set model=$m --set d_model=256 --set layers=8 --set steps=2 --set eval_every=2 --set batch_size=2 \
    --set eval_batch_size=2 --set warmup=1
  /usr/bin/time -v "$selectiv" generalize --checkpoint ck_$m/checkpoint.h5 --config "$here/data/specs/task4.yaml" \
    --set splits.test_size="${N:-1}" --test-dur 10 --out curve_$m --batch-size 50 > log_$m.txt 2> err_$m.txt
  echo "$m: $(grep 'Maximum resident' err_$m.txt | awk '{print $NF}') KiB peak resident, $(grep 'Elapsed' err_$m.txt | awk '{print $NF}') wall"
done
