"""GLUE results in aggregate: per-seed result records -> ``summary.json``'s variants block, and its text form."""

import statistics
from collections.abc import Sequence
from typing import Any


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """``{variant: {condition: {"tasks": {...}, "aggregate": {...}}}}`` from per-seed result records."""
    out: dict[str, Any] = {}
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["variant"], r["condition"], r["task"]), []).append(r)
    for (variant, condition, task), runs in sorted(groups.items()):
        runs.sort(key=lambda r: r["seed"])
        entry = {
            "score": _mean_std([r["score"] for r in runs])
            | {"seeds": [r["seed"] for r in runs], "values": [r["score"] for r in runs]},
            "splits": {
                split: {name: _mean_std([r["splits"][split][name] for r in runs]) for name in runs[0]["splits"][split]}
                for split in runs[0]["splits"]
            },
            "n_train": runs[0]["n_train"],
            "n_eval": runs[0]["n_eval"],
        }
        out.setdefault(variant, {}).setdefault(condition, {"tasks": {}})["tasks"][task] = entry
    for conditions in out.values():
        for block in conditions.values():
            tasks = sorted(block["tasks"])
            seeds = sorted(set.intersection(*(set(block["tasks"][t]["score"]["seeds"]) for t in tasks)))
            per_seed = [
                statistics.fmean(
                    block["tasks"][t]["score"]["values"][block["tasks"][t]["score"]["seeds"].index(s)] for t in tasks
                )
                for s in seeds
            ]
            block["aggregate"] = _mean_std(per_seed) | {"tasks": tasks, "seeds": seeds}
    return out


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as text: one line per variant and condition (GLUE score and per-task scores), then the notes.

    Args:
        summary (`dict[str, Any]`): what :func:`~hf_shrunk.glue.run_glue` returns (or ``summary.json``).

    Returns:
        `str`: the lines, joined by newlines.
    """
    lines = [f"GLUE for {summary['model']} (mean ± std over seeds; {summary['aggregate_definition'].split(';')[0]})"]
    for variant, conditions in summary["variants"].items():
        for condition, block in conditions.items():
            tasks = "  ".join(
                f"{t} {v['score']['mean']:.3f}±{v['score']['std']:.3f}" for t, v in block["tasks"].items()
            )
            agg = block["aggregate"]
            lines.append(f"  {variant:>11} {condition:>8}: GLUE {agg['mean']:.3f}±{agg['std']:.3f} | {tasks}")
    lines += [f"  note: {n}" for n in summary["notes"]]
    return "\n".join(lines)
