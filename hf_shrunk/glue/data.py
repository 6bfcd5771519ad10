"""GLUE data for the GLUE stage: one task table, the vocabulary filter, tokenization cached by tokenizer fingerprint.

The task table plays the role of run_glue.py's ``task_to_keys`` plus what each task is scored with. The filtered
condition keeps an example only if every word of its text is in the vocabulary (docs/paper.md#glue-protocol,
implemented in ``hf_shrunk.vocab``). Text is fed lower-cased, as the models were trained (the paper fed it cased).
"""

import hashlib
import os
from collections.abc import Sequence
from typing import Any

from hf_shrunk.artifacts import artifact_root, fingerprint, load_cached_dataset, save_cached_dataset
from hf_shrunk.config import ConfigError, UserError
from hf_shrunk.sources import GLUE_TASKS, GlueTask

# The one task table lives in hf_shrunk.sources.glue (fields, labels, splits, metrics); the GLUE stage scores the
# nine tasks that have a training split (AX is a test-only diagnostic).
TASKS: dict[str, GlueTask] = {name: task for name, task in GLUE_TASKS.items() if "train" in task.split_files}

AGGREGATE_DEFINITION = (
    "GLUE score = mean over the tasks scored of each task's main score; a task with two metrics (MRPC, QQP: "
    "accuracy and F1; STS-B: Pearson and Spearman) uses their mean; MNLI uses the mean of matched and mismatched "
    "accuracy; CoLA uses the Matthews correlation. A correlation left undefined by constant predictions counts as 0. "
    "Reported as mean ± std over fine-tuning seeds."
)


def main_score(task: GlueTask, split_metrics: dict[str, dict[str, float]]) -> float:
    """A task's single number: mean over its evaluation splits of the mean of its metrics."""
    per_split = [sum(m[name] for name in task.metrics) / len(task.metrics) for m in split_metrics.values()]
    return sum(per_split) / len(per_split)


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Hash of everything that decides token ids: the serialized tokenizers pipeline and special tokens."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    text = backend.to_str() if backend is not None else repr(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256((text + repr(tokenizer.all_special_tokens)).encode()).hexdigest()[:16]


def filter_condition(dataset_dict: Any, task: GlueTask, condition: str, vocab: Any, num_proc: int | None = None):
    """The splits of one condition: ``full`` as given, ``filtered`` keeps in-vocabulary examples
    (docs/paper.md#glue-protocol)."""
    if condition == "full":
        return dataset_dict
    from hf_shrunk.vocab import passes_glue_filter

    fields = task.text_fields
    words = vocab.words

    def keep(example: dict[str, Any]) -> bool:
        return passes_glue_filter([example[f] for f in fields], words)

    return dataset_dict.filter(keep, num_proc=num_proc, desc=f"filtering {task.name} to the vocabulary")


def _tokenize(batch: dict[str, list], tokenizer: Any, fields: tuple[str, ...], max_length: int, pad: bool) -> dict:
    texts = [[t.lower() for t in batch[f]] for f in fields]
    encoded = tokenizer(*texts, truncation=True, max_length=max_length, padding="max_length" if pad else False)
    encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
    return encoded


def tokenized_task(
    task: GlueTask,
    condition: str,
    splits: Any,
    tokenizer: Any,
    vocab: Any,
    source_key: str,
    max_length: int = 128,
    pad_to_max_length: bool = False,
    root: str | os.PathLike | None = None,
):
    """Filtered (or full) and tokenized splits of ``task``, built once per tokenizer and reused across seeds, models
    of the same tokenizer and re-runs. Evaluation splits are sorted by length so batches carry little padding."""
    import datasets

    key = fingerprint(
        {
            "task": task.name,
            "condition": condition,
            "tokenizer": tokenizer_fingerprint(tokenizer),
            "vocab": vocab.fingerprint if condition == "filtered" else None,
            "source": source_key,
            "max_length": max_length,
            "pad": pad_to_max_length,
            "v": 1,
        }
    )
    cache = artifact_root(root) / "cache" / "glue" / key
    cached = load_cached_dataset(cache)  # None if missing; a corrupt cache is removed (with a notice) and rebuilt
    if cached is not None:
        return cached
    kept = filter_condition(splits, task, condition, vocab)
    out = {}
    for split, data in kept.items():
        if len(data) == 0:  # reported by the caller ("empty after filtering"), never tokenized
            out[split] = data
            continue
        tokenized = data.map(
            _tokenize,
            batched=True,
            remove_columns=[c for c in data.column_names if c != "label"],
            fn_kwargs={
                "tokenizer": tokenizer,
                "fields": task.text_fields,
                "max_length": max_length,
                "pad": pad_to_max_length,
            },
            desc=f"tokenizing {task.name}/{split} ({condition})",
        )
        if split != "train" and len(tokenized):
            tokenized = tokenized.sort("length")
        out[split] = tokenized
    return save_cached_dataset(datasets.DatasetDict(out), cache)


def selected_tasks(requested: Sequence[str], available: Sequence[str]) -> tuple[list[str], list[str]]:
    """(tasks to run, notes about skipped ones). 'all' runs what the source has; a named missing task is an error."""
    unknown = [t for t in requested if t != "all" and t not in TASKS]
    if unknown:
        raise ConfigError(f"unknown GLUE task(s) {unknown}; choose from {', '.join(TASKS)} or 'all'")
    if "all" in requested and not available:
        from hf_shrunk.sources import MissingDataError

        raise MissingDataError(
            "no GLUE data: no --data_dir, no mirror with glue/ in $HF_SHRUNK_DATA_DIR, and the Hub (nyu-mll/glue) is "
            "unreachable. Provide one: `hf-shrunk data mirror --to DIR` on a machine online, "
            "then HF_SHRUNK_DATA_DIR=DIR."
        )
    if "all" in requested:
        notes = [f"{t}: not in the GLUE source (or no train split); skipped" for t in TASKS if t not in available]
        return [t for t in TASKS if t in available], notes
    missing = [t for t in requested if t not in available]
    if missing:
        raise UserError(
            f"GLUE task(s) {missing} are not available from the GLUE source (train and evaluation splits needed). "
            "Pass --data_dir with <task>/<split>.parquet or the GLUE TSV layout, set HF_SHRUNK_DATA_DIR, or go online "
            "for nyu-mll/glue."
        )
    return list(requested), []


def trainable_tasks(data_dir: str | None) -> list[str]:
    """Tasks whose train and evaluation splits the GLUE source has: the local folder or mirror if there is one,
    else every task when the Hub (``nyu-mll/glue``) is reachable."""
    from hf_shrunk.sources import available_glue_tasks, hub_unavailable

    local = available_glue_tasks(data_dir)
    if not local and not data_dir:
        return [] if hub_unavailable() else list(TASKS)
    return [t for t, splits in local.items() if t in TASKS and {"train", *TASKS[t].eval_splits} <= set(splits)]
