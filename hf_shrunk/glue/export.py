"""The vocabulary-filtered GLUE dev sets as data: written next to the results so that ``hf-shrunk publish`` can
upload them as their own dataset repo (``<org>/glue-vocab-filtered``) and point the model cards' filtered results
at it. Without a dataset of their own, filtered and full results would share (task, ``nyu-mll/glue``, config, split)
and a round trip through huggingface_hub's model-index would merge them.

Layout, as the Hub's ``nyu-mll/glue`` (one config per task)::

    <glue results>/filtered_dev/<task>/<split>-00000-of-00001.parquet
    <glue results>/filtered_dev/<task>/counts.json   {"task", "vocab": {...}, "splits": {split: {"kept", "total"}}}
"""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import read_json, write_json

FOLDER = "filtered_dev"
COUNTS = "counts.json"


def parquet_name(split: str) -> str:
    """The file name of one split, as the Hub's nyu-mll/glue names it."""
    return f"{split}-00000-of-00001.parquet"


def export_filtered_dev(results_dir: Path, tasks: Sequence[str], vocab: Any, data_dir: str | None = None) -> None:
    """Write each task's vocabulary-filtered evaluation splits (raw text, the nyu-mll/glue schema) and their
    kept/total counts under ``results_dir/filtered_dev/<task>/``, once per vocabulary (``vocab``: the filtered
    condition's ``GlueVocab``; ``None``, no filtered condition: nothing to do). A task the source lacks is left out
    here; the scoring loop says so."""
    from hf_shrunk.glue.data import TASKS
    from hf_shrunk.sources import MissingDataError, load_glue_task

    for name in tasks if vocab is not None else ():
        folder = Path(results_dir) / FOLDER / name
        counts_file = folder / COUNTS
        done = read_json(counts_file) if counts_file.is_file() else {}
        if (done.get("vocab") or {}).get("fingerprint") == vocab.fingerprint:
            continue
        task = TASKS[name]
        try:
            splits, _ = load_glue_task(name, data_dir, tuple(task.eval_splits))
        except MissingDataError:
            continue
        write_json(counts_file, _export_task(folder, task, splits, vocab))  # written last: the task is complete


def _export_task(folder: Path, task: Any, splits: Any, vocab: Any) -> dict[str, Any]:
    """Write one task's filtered evaluation splits; returns its ``counts.json``."""
    import datasets

    from hf_shrunk.glue.data import filter_condition

    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split in task.eval_splits:
        kept = filter_condition(datasets.DatasetDict({split: splits[split]}), task, "filtered", vocab)[split]
        target = folder / parquet_name(split)
        tmp = target.with_name(target.name + ".tmp")
        kept.to_parquet(str(tmp))
        os.replace(tmp, target)
        counts[split] = {"kept": len(kept), "total": len(splits[split])}
    return {"task": task.name, "vocab": vocab.record, "splits": counts}


def exported_tasks(results_dir: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """``{task: (folder, counts.json)}`` of the filtered dev sets a GLUE results folder holds (complete ones only)."""
    base = Path(results_dir) / FOLDER
    if not base.is_dir():
        return {}
    return {p.name: (p, read_json(p / COUNTS)) for p in sorted(base.iterdir()) if (p / COUNTS).is_file()}
