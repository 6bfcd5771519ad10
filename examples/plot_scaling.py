"""Redraw the loss-vs-compute plot (the paper's Figure 1) from pretrain runs or a CSV of published points.

    python examples/plot_scaling.py                                   # the demo's runs (run `hf-shrunk demo` first)
    python examples/plot_scaling.py --root ~/.cache/hf_shrunk         # the runs of another artifact root
    python examples/plot_scaling.py --csv COMPUTE_OPTIMAL_RESULTS.csv --break_at 2.2e15
Writes fit.json, points.csv, frontier.csv and loss_vs_compute.{png,svg} under <root>/fit/<name>/.
"""

import argparse
import sys
from pathlib import Path

from demo_paths import demo_root

from hf_shrunk.artifacts import stage_dir
from hf_shrunk.scaling import FitConfig, run_fit, summary_lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--root", default=None, help="artifact root with pretrain/<run>/metrics.json (default: the demo's)"
    )
    parser.add_argument("--csv", default=None, help="CSV of (run, step, flops, loss) points instead of runs")
    parser.add_argument("--break_at", default="auto", help="'auto' (found from the data), 'none' or a value")
    parser.add_argument("--name", default="example", help="output folder name under <root>/fit/")
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples for confidence intervals (0: none)")
    args = parser.parse_args()
    root = args.root or str(demo_root())
    runs = Path(root).expanduser() / "pretrain"
    if not args.csv and not list(runs.glob("*/metrics.json")):
        sys.exit(f"no finished pretrain runs under {runs}: run `hf-shrunk demo` first, or pass --root or --csv")

    options = {"points_csv": args.csv, "break_at": args.break_at, "bootstrap": args.bootstrap}
    cfg = FitConfig(root=root, name=args.name, overwrite=True, **options)
    fit = run_fit(cfg)
    print("\n".join(summary_lines(fit)))
    print("plot:", stage_dir("fit", args.name, root) / "loss_vs_compute.png")


if __name__ == "__main__":
    main()
