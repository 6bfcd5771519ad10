"""GLUE results in aggregate: per-seed result records -> ``summary.json``'s variants block, and its text form."""

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import Manifest, git_sha, write_json
from hf_shrunk.config import to_dict
from hf_shrunk.glue.data import AGGREGATE_DEFINITION
from hf_shrunk.glue.model_vocab import summary_fields


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


def write_summary(
    cfg: Any, ref: Any, folder: Path, vocab: Any, tiers: dict, notes: list[str], results: list[dict]
) -> dict[str, Any]:
    """Write ``summary.json`` and, last, the manifest of a GLUE results ``folder``; returns the summary. ``cfg`` is
    the ``GlueConfig``, ``ref`` the scored ``ModelRef``, ``vocab`` the filtered condition's vocabulary (or None)."""
    summary = {
        "model": ref.display,
        "run": ref.run,
        "revision": ref.revision,
        "checkpoint": ref.checkpoint,
        "baseline_init": ref.baseline.init if ref.baseline else None,
        "perplexity": ref.perplexity,
        "aggregate_definition": AGGREGATE_DEFINITION,
        **summary_fields(cfg, vocab),  # vocabulary, vocab {spec, fingerprint, matches_model, ...}, head
        "data_tiers": tiers,
        "notes": notes,
        "variants": summarize(results),
        "git_sha": git_sha(),
    }
    write_json(folder / "summary.json", summary)
    Manifest(
        "glue",
        folder.name,
        to_dict(
            cfg, exclude=("root", "overwrite", "num_workers", "worker", "num_threads")
        ),  # not what scores depend on
        [{"kind": "model", "path": ref.location, "revision": ref.revision}],
    ).write(folder)
    return summary
