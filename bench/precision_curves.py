#!/usr/bin/env python3
"""fp32 versus tf32 training curves from a store filled by `selectiv run pipelines/precision.yaml --store STORE`.

For every model: the largest test-loss gap between tf32 and fp32 runs of the same seed over all evaluation points,
against the largest gap between the two fp32 seeds (the noise floor of training itself), and the same for the final
test accuracy. tf32 passes for a model when both of its gaps are at or below the fp32 seed-to-seed gaps.
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
    seeds = sorted({k[2] for k in runs})
    if len(seeds) < 2:
        sys.exit("need two seeds per model and precision")
    print("| model | tf32 vs fp32 test loss (max gap) | fp32 seed spread | tf32 vs fp32 final acc | fp32 seed spread "
          "| final acc fp32 / tf32 (seed 1) | within |")
    print("|---|---:|---:|---:|---:|---|---|")
    all_ok = True
    for model in models:
        def curve(p, s):
            return [h["test_loss"] for h in runs[(model, p, s)]["history"]]

        def final(p, s):
            return runs[(model, p, s)]["final_test_accuracy"]

        loss_gap = max(max(abs(a - b) for a, b in zip(curve("tf32", s), curve("fp32", s))) for s in seeds)
        loss_spread = max(abs(a - b) for a, b in zip(curve("fp32", seeds[0]), curve("fp32", seeds[1])))
        acc_gap = max(abs(final("tf32", s) - final("fp32", s)) for s in seeds)
        acc_spread = abs(final("fp32", seeds[0]) - final("fp32", seeds[1]))
        ok = loss_gap <= loss_spread and acc_gap <= acc_spread
        all_ok &= ok
        print(f"| {model} | {loss_gap:.4f} | {loss_spread:.4f} | {acc_gap:.4f} | {acc_spread:.4f} | "
              f"{final('fp32', seeds[0]):.4f} / {final('tf32', seeds[0]):.4f} | {'yes' if ok else 'no'} |")
    print(f"\ntf32 within the fp32 seed spread for every model: {'yes' if all_ok else 'no'}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) == 2 else 2)
    sys.exit(main(sys.argv[1]))
