"""The report of benchmarks/gpu_check.sh: one JSON with what a GPU-hour buys.

    python benchmarks/gpu_report.py OUT_DIR --runs magic-bee-26 honest-fog-13

Reads OUT_DIR/throughput.json (benchmarks/pretrain_throughput.py), OUT_DIR/timings.jsonl and the pretrain and GLUE
artifacts under OUT_DIR/root; writes OUT_DIR/gpu_check.json and prints it. MFU = model FLOPs per second (the
corrected convention of docs/paper.md#flops, forward + backward = 3 x forward) over the device's dense bf16 peak.
The grid estimate charges each of the paper's 42 runs its one epoch (9,081,490 sequences) at the throughput the
hf_shrunk path reached on the benchmark size nearest in FLOPs per token: an estimate, not a measurement.
"""

import argparse
import json
import math
import sys
from pathlib import Path

# Dense bf16 peak of the cards a run may land on (vendor data sheets, SXM parts), in FLOP/s.
BF16_PEAK = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12}
PAPER_SEQUENCES = 9_081_490  # sequences in one epoch of the paper's corpus (docs/paper.md#pretraining-recipe)


def device_peak(name: str) -> float | None:
    return next((peak for key, peak in BF16_PEAK.items() if key in name), None)


def benchmark_rows(throughput: dict) -> list[dict]:
    """Each benchmark size with its FLOPs per token, tokens/s of both paths, ratio, memory and MFU."""
    from hf_shrunk.models import Size, flops_per_sequence

    rows = []
    for size in dict.fromkeys(r["size"] for r in throughput["rows"]):
        stock, ours = (next(r for r in throughput["rows"] if r["size"] == size and r["path"] == p) for p in
                       ("stock", "hf_shrunk"))  # fmt: skip
        hidden, layers = (int(x) for x in size.split("x"))
        model = Size("roberta", hidden, hidden, 4 * hidden, max(1, hidden // 32), layers)
        per_token = flops_per_sequence(model, throughput["vocab"])["corrected"] / throughput["seq_len"]
        peak = device_peak(ours.get("device", ""))
        rows.append({
            "size": size, "flops_per_token": per_token, "device": ours.get("device"),
            "stock_tokens_per_second": stock["tokens_per_second"],
            "hf_shrunk_tokens_per_second": ours["tokens_per_second"],
            "ratio_vs_stock": ours["tokens_per_second"] / stock["tokens_per_second"],
            "stock_peak_memory_mb": stock["peak_memory_mb"], "hf_shrunk_peak_memory_mb": ours["peak_memory_mb"],
            "mfu": per_token * ours["tokens_per_second"] / peak if peak else None,
        })  # fmt: skip
    return rows


def grid_estimate(rows: list[dict]) -> dict:
    """Hours for the paper's 42 one-epoch runs at the measured FLOP/s of the nearest benchmark size."""
    from hf_shrunk.models import flops_per_sequence, load_grid

    total_seconds, runs = 0.0, []
    for size in load_grid("paper").sizes:
        per_sequence = flops_per_sequence(size)["corrected"]
        per_token = per_sequence / 128
        nearest = min(rows, key=lambda r: abs(math.log(r["flops_per_token"] / per_token)))
        seconds = (
            per_sequence * PAPER_SEQUENCES / (nearest["flops_per_token"] * nearest["hf_shrunk_tokens_per_second"])
        )
        total_seconds += seconds
        runs.append({"run": size.run, "slug": size.slug, "hours": seconds / 3600, "rate_from": nearest["size"]})
    return {"hours": total_seconds / 3600, "runs": runs}


def shared_device(out: Path) -> dict[str, float]:
    """Aggregate tokens/s of k tiny runs sharing the device, per k (files shared_<k>_<i>.json)."""
    totals: dict[str, float] = {}
    for path in sorted(out.glob("shared_*_*.json")):
        k = path.stem.split("_")[1]
        totals[k] = totals.get(k, 0.0) + json.loads(path.read_text())["tokens_per_second"]
    return totals


def pretrain_runs(root: Path, names: list[str]) -> list[dict]:
    out = []
    for name in names:
        metrics = json.loads((root / "pretrain" / name / "metrics.json").read_text())
        final, runtime = metrics["final"], metrics.get("train_runtime")
        out.append({
            "run": name, "updates": final["step"], "eval_loss": final["eval_loss"], "train_seconds": runtime,
            "token_positions_per_second": final["token_positions"] / runtime if runtime else None,
        })  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the folder benchmarks/gpu_check.sh wrote")
    parser.add_argument("--runs", nargs="+", required=True, help="the pretrain runs of step (b)")
    args = parser.parse_args()
    rows = benchmark_rows(json.loads((args.out / "throughput.json").read_text()))
    glue = json.loads((args.out / "root" / "glue" / args.runs[0] / "summary.json").read_text())
    report = {
        "benchmark": rows,
        "pretrain": pretrain_runs(args.out / "root", args.runs),
        "glue_sst2": {
            v: {c: b["aggregate"]["mean"] for c, b in conds.items()} for v, conds in glue["variants"].items()
        },
        "grid_estimate": grid_estimate(rows),
        "shared_device_tokens_per_second": shared_device(args.out),
        "timings": [json.loads(line) for line in (args.out / "timings.jsonl").read_text().splitlines() if line],
        "targets": {"ratio_vs_stock_min": 4.0, "grid_hours_max": 4.0},
    }
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    shown = ("benchmark", "pretrain", "glue_sst2", "shared_device_tokens_per_second", "timings")
    print(json.dumps({k: report[k] for k in shown}, indent=2))
    print(f"grid estimate: {report['grid_estimate']['hours']:.2f} hours -> {args.out / 'gpu_check.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
