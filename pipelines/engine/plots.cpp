// SPDX-License-Identifier: BSD-3-Clause
// The report's plots: a small matplotlib script (written next to the tables, so it can be rerun or edited) drawn
// with /usr/bin/python3 when it and matplotlib exist. Each plot appears only when the grid varies its x axis:
//   accuracy_vs_complexity.png  mean accuracy (+- std over seeds) against the number of ambiguous symbols
//   accuracy_vs_size.png        against the parameter count
//   accuracy_vs_gap.png         against the evaluation's test gap
#include <fmt/format.h>

#include <cstdlib>

#include "core/log.hpp"
#include "pipelines/engine/report.hpp"
#include "pipelines/engine/store.hpp"

namespace selectiv::engine {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

constexpr const char* kPlotScript = R"python(# Written by `selectiv run` (pipelines/engine/plots.cpp): plots of summary.csv.
import csv, os, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "summary.csv")) as f:
    rows = [r for r in csv.DictReader(f) if r["accuracy_mean"] != ""]

def num(r, k):
    return float(r[k]) if r[k] != "" else float("nan")

def distinct(key):
    return sorted({num(r, key) for r in rows})

def draw(x_key, panel_keys, name, x_label, log_x=False):
    panels = {}
    for r in rows:
        panels.setdefault(tuple((k, r[k]) for k in panel_keys), []).append(r)
    keys = sorted(panels, key=lambda p: [float(v) if v.replace(".", "", 1).isdigit() else v for _, v in p])
    cols = min(3, len(keys))
    nrows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4.5 * cols, 3.5 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        models = sorted({r["model"] for r in panels[key]})
        for model in models:
            pts = sorted((num(r, x_key), num(r, "accuracy_mean"), num(r, "accuracy_std"))
                         for r in panels[key] if r["model"] == model)
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts],
                        marker="o", capsize=2, label=model)
        ax.set_title(", ".join(f"{k}={v}" for k, v in key) or "all runs", fontsize=9)
        ax.set_xlabel(x_label)
        ax.set_ylabel("accuracy (best lr/warmup, mean over seeds)")
        if log_x:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(here, name), dpi=120)
    plt.close(fig)

if len(distinct("ambiguities")) > 1:
    draw("ambiguities", ["set", "d_model"], "accuracy_vs_complexity.png", "ambiguous symbols (grammar complexity)")
if len(distinct("d_model")) > 1:
    draw("parameters", ["set", "ambiguities"], "accuracy_vs_size.png", "parameters", log_x=True)
if len(distinct("test_gap")) > 1:
    draw("test_gap", ["ambiguities", "d_model"], "accuracy_vs_gap.png", "test gap (s; 0.1 s per step)")
)python";

}  // namespace

bool draw_plots(const std::string& dir) {
  write_file_atomically(dir + "/plots.py", kPlotScript);
  if (!file_exists(kPython)) {
    log::warn("no {}: tables written, plots skipped", kPython);
    return false;
  }
  const std::string command = fmt::format("{} -c 'import matplotlib' >/dev/null 2>&1", kPython);
  if (std::system(command.c_str()) != 0) {
    log::warn("{} has no matplotlib: tables written, plots skipped (apt install python3-matplotlib)", kPython);
    return false;
  }
  const std::string run = fmt::format("{} '{}/plots.py' >'{}/plots.log' 2>&1", kPython, dir, dir);
  if (std::system(run.c_str()) != 0) {
    log::warn("{}/plots.py failed (see {}/plots.log): tables written, plots skipped", dir, dir);
    return false;
  }
  return true;
}

}  // namespace selectiv::engine
