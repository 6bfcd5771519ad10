"""GLUE results for the model cards: the Markdown tables and the ``model-index`` entries, from a GLUE ``summary.json``.

The summary (written by ``hf-shrunk glue``) holds, per variant (``pretrained``, ``random-init``) and condition
(``filtered`` = vocabulary-filtered dev sets, ``full``), per task: the main ``score`` over seeds and every metric of
every split as ``{"mean", "std"}``. Any task, condition or variant may be absent; the tables show what is there.
"""

from __future__ import annotations

from typing import Any

from hf_shrunk.sources import GLUE_REPO, GLUE_TASKS

CONDITIONS = {"filtered": "vocabulary-filtered", "full": "full"}
VARIANTS = {"pretrained": "pretrained", "random-init": "random init"}
SPLIT_SUFFIX = {"validation_matched": "-m", "validation_mismatched": "-mm"}
# summary metric key -> (Hub metric id, display name); evaluate's glue module calls Pearson "pearson".
METRICS = {
    "accuracy": ("accuracy", "Accuracy"),
    "f1": ("f1", "F1"),
    "matthews_correlation": ("matthews_correlation", "Matthews correlation"),
    "pearson": ("pearsonr", "Pearson r"),
    "spearmanr": ("spearmanr", "Spearman ρ"),
}


def _condition(summary: dict[str, Any], variant: str, condition: str) -> dict[str, Any]:
    return ((summary.get("variants") or {}).get(variant) or {}).get(condition) or {}


def _tasks_in_order(names) -> list[str]:
    names = set(names)
    return [t for t in GLUE_TASKS if t in names] + sorted(names - set(GLUE_TASKS))


def display_name(task: str, split: str | None = None) -> str:
    """``("mnli", "validation_matched")`` -> ``"MNLI-m"``."""
    name = GLUE_TASKS[task].display_name if task in GLUE_TASKS else task.upper()
    return name + SPLIT_SUFFIX.get(split or "", "")


def score_description(task: str) -> str:
    """How a task's main score is formed (docs/paper.md#glue-protocol): ``"mean of accuracy and F1"``,
    ``"Matthews corr."``, ..."""
    info = GLUE_TASKS.get(task)
    if info is None:
        return "score"
    labels = [
        {"Accuracy": "accuracy", "Matthews correlation": "Matthews corr."}.get(label, label)
        for label in (METRICS.get(m, (m, m))[1] for m in info.metrics)
    ]
    if len(info.eval_splits) > 1:
        return f"mean of matched and mismatched {labels[0]}"
    return f"mean of {labels[0]} and {labels[1]}" if len(labels) > 1 else labels[0]


def score_cell(stats: dict[str, Any] | None) -> str:
    """``{"mean": 0.8, "std": 0.01}`` -> ``"80.0 ± 1.0"`` (GLUE points, x100); ``"–"`` when absent."""
    if not stats or stats.get("mean") is None:
        return "–"
    text = f"{100 * stats['mean']:.1f}"
    return text if stats.get("std") is None else f"{text} ± {100 * stats['std']:.1f}"


def glue_tables(summary: dict[str, Any]) -> dict[str, Any]:
    """Rows and columns of the card's GLUE tables (main score per task, aggregate, every metric of every split)."""
    columns = [(cond, var) for cond in CONDITIONS for var in VARIANTS if _condition(summary, var, cond).get("tasks")]
    tasks = _tasks_in_order(t for cond, var in columns for t in _condition(summary, var, cond)["tasks"])
    rows = []
    for task in tasks:
        cells = [score_cell((_condition(summary, v, c)["tasks"].get(task) or {}).get("score")) for c, v in columns]
        n_eval = [_n_eval(summary, cond, task) for cond in CONDITIONS]
        score = score_description(task)
        rows.append({"task": display_name(task), "score": score, "cells": cells, "n_eval": n_eval})
    aggregates = [_condition(summary, v, c).get("aggregate") or {} for c, v in columns]
    task_sets = {tuple(a.get("tasks") or ()) for a in aggregates}
    aggregate = [
        score_cell(a) + (f" ({len(a.get('tasks') or [])} tasks)" if len(task_sets) > 1 else "") for a in aggregates
    ]
    details = []
    for cond in CONDITIONS:
        for task, entry in _ordered(_condition(summary, "pretrained", cond).get("tasks") or {}):
            for split, metrics in (entry.get("splits") or {}).items():
                for metric, stats in metrics.items():
                    label = METRICS.get(metric, (metric, metric))[1]
                    details.append((CONDITIONS[cond], display_name(task, split), label, score_cell(stats)))
    seeds = {s for c, v in columns for e in _condition(summary, v, c)["tasks"].values() for s in _seeds(e)}
    return {
        "columns": [f"{CONDITIONS[c]}, {VARIANTS[v]}" for c, v in columns],
        "rows": rows,
        "aggregate": aggregate,
        "details": details,
        "definition": summary.get("aggregate_definition"),
        "seeds": sorted(seeds),
        "has_baseline": any(v == "random-init" for _, v in columns),
        "missing_conditions": [CONDITIONS[c] for c in CONDITIONS if not any(col[0] == c for col in columns)],
        "perplexity": summary.get("perplexity"),
        "baseline_init": summary.get("baseline_init"),  # "step0", "rebuilt:<scheme>" or None (older results)
        "version": summary.get("hf_shrunk_version"),
        "git_sha": summary.get("git_sha"),
    }


def _n_eval(summary: dict[str, Any], cond: str, task: str) -> str:
    """Dev examples scored under ``cond`` (all splits), from whichever variant ran the task."""
    for var in VARIANTS:
        counts = ((_condition(summary, var, cond).get("tasks") or {}).get(task) or {}).get("n_eval")
        if counts:
            return f"{sum(counts.values()):,}"
    return "–"


def _seeds(entry: dict[str, Any]) -> list[int]:
    return (entry.get("score") or {}).get("seeds") or []


def _ordered(tasks: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(t, tasks[t]) for t in _tasks_in_order(tasks)]


def _result_dataset(condition: str, filtered_repo: str | None) -> str | None:
    """The Hub dataset a condition's results were scored on: ``nyu-mll/glue`` (full) or the filtered dev sets' own
    repo, so the two conditions never share a model-index identity (None: not published, leave them out)."""
    return GLUE_REPO if condition == "full" else filtered_repo


def glue_eval_results(summary: dict[str, Any], model_name: str, filtered_repo: str | None = None) -> list:
    """One ``EvalResult`` per (condition, task, split, metric) of the pretrained model: the ``model-index``.

    Full-GLUE results name ``nyu-mll/glue``; vocabulary-filtered ones ``filtered_repo`` (``<org>/glue-vocab-filtered``,
    published beside the models; without it they stay in the card's tables only), with the task as config and the
    dev split. Results are named ``"GLUE SST-2 (vocabulary-filtered)"``; the value is the mean over seeds (the
    card's table gives the spread).
    """
    from huggingface_hub import EvalResult

    results = []
    for cond, label in CONDITIONS.items():
        dataset = _result_dataset(cond, filtered_repo)
        for task, entry in _ordered(_condition(summary, "pretrained", cond).get("tasks") or {}) if dataset else ():
            n_seeds = len(_seeds(entry))
            for split, metrics in (entry.get("splits") or {}).items():
                for metric, stats in metrics.items():
                    if not isinstance(stats, dict) or stats.get("mean") is None:
                        continue
                    metric_id, metric_label = METRICS.get(metric, (metric, metric))
                    results.append(
                        EvalResult(
                            task_type="text-classification",  # the Hub's task for GLUE, STS-B regression included
                            task_name=GLUE_TASKS[task].category if task in GLUE_TASKS else task,
                            dataset_type=dataset,
                            dataset_name=f"GLUE {display_name(task, split)} ({label})",
                            dataset_config=task,
                            dataset_split=split,
                            metric_type=metric_id,
                            metric_value=round(float(stats["mean"]), 4),  # seed means; more digits are noise
                            metric_name=f"{metric_label} (mean of {n_seeds} seeds)" if n_seeds else metric_label,
                        )
                    )
    return results


def glue_eval_result_files(summary: dict[str, Any], filtered_repo: str | None = None) -> dict[str, str]:
    """The Hub's newer ``.eval_results/<name>.yaml`` files (one per condition: each task's main score, mean over
    seeds), when the installed huggingface_hub has ``EvalResultEntry``; ``{}`` otherwise. The model-index stays."""
    try:
        from huggingface_hub import EvalResultEntry, eval_result_entries_to_yaml
    except ImportError:  # huggingface_hub < 1.x: model-index only
        return {}
    import yaml

    files = {}
    for cond in CONDITIONS:
        dataset = _result_dataset(cond, filtered_repo)
        tasks = _ordered(_condition(summary, "pretrained", cond).get("tasks") or {}) if dataset else []
        entries = [
            EvalResultEntry(
                dataset_id=dataset,
                task_id=task,
                value=round(float(entry["score"]["mean"]), 4),
                notes=f"{score_description(task)}, mean of {len(_seeds(entry))} fine-tuning seeds (hf_shrunk)",
            )
            for task, entry in tasks
            if (entry.get("score") or {}).get("mean") is not None
        ]
        if entries:
            name = dataset.split("/")[-1]
            files[f".eval_results/{name}.yaml"] = yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False)
    return files
