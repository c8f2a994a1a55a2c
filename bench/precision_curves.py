#!/usr/bin/env python3
"""Reduced-precision versus fp32 training curves from a store filled by `selectiv run pipelines/precision.yaml --store STORE`.

For every model and every precision other than fp32 in the store (tf32, bf16): the largest test-loss gap between its
runs and the fp32 runs of the same seed over all evaluation points, against the largest gap between the two fp32
seeds (the noise floor of training itself), and the same for the test accuracy. A precision passes for a model when
both of its gaps are at or below the fp32 seed-to-seed gaps. (The accuracy gaps were once taken at the final
evaluation only; two fp32 seeds can end on exactly the same accuracy, which made any difference at all a failure.) Exit status 0 when every precision passes for every
model, 1 otherwise, 2 on bad usage or a store without two fp32 seeds per model.
    bench/precision_curves.py STORE
"""
import glob
import json
import sys


def main(store):
    runs = {}
    for path in glob.glob(f"{store}/train/*/metrics.json"):
        with open(path) as f:
            m = json.load(f)
        c = m["config"]
        runs[(c["model"], c["precision"], c["seed"])] = m
    models = sorted({k[0] for k in runs})
    precisions = sorted({k[1] for k in runs} - {"fp32"})
    seeds = sorted({k[2] for k in runs})
    if len(seeds) < 2 or not models or not precisions:
        print(f"{store}: need fp32 and at least one other precision, two seeds each, per model", file=sys.stderr)
        return 2
    print("| model | precision | test loss: max gap to fp32 | fp32 seed spread | test acc: max gap to fp32 "
          "| fp32 seed spread | final acc fp32 / precision (seed 1) | within |")
    print("|---|---|---:|---:|---:|---:|---|---|")
    passed = {p: True for p in precisions}
    for model in models:
        def curve(p, s, key="test_loss"):
            return [h[key] for h in runs[(model, p, s)]["history"]]

        def max_gap(a, b, key):
            return max(abs(x - y) for x, y in zip(curve(a[0], a[1], key), curve(b[0], b[1], key)))

        def final(p, s):
            return runs[(model, p, s)]["final_test_accuracy"]

        spread = {key: max_gap(("fp32", seeds[0]), ("fp32", seeds[1]), key) for key in ("test_loss", "test_accuracy")}
        loss_spread, acc_spread = spread["test_loss"], spread["test_accuracy"]
        for p in precisions:
            loss_gap = max(max_gap((p, s), ("fp32", s), "test_loss") for s in seeds)
            acc_gap = max(max_gap((p, s), ("fp32", s), "test_accuracy") for s in seeds)
            ok = loss_gap <= loss_spread and acc_gap <= acc_spread
            passed[p] &= ok
            print(f"| {model} | {p} | {loss_gap:.4f} | {loss_spread:.4f} | {acc_gap:.5f} | {acc_spread:.5f} | "
                  f"{final('fp32', seeds[0]):.4f} / {final(p, seeds[0]):.4f} | {'yes' if ok else 'no'} |")
    print()
    for p in precisions:
        print(f"{p} within the fp32 seed spread for every model: {'yes' if passed[p] else 'no'}")
    return 0 if all(passed.values()) else 1


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) == 2 else 2)
    sys.exit(main(sys.argv[1]))
