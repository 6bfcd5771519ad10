"""GLUE data for the GLUE stage: one task table, the vocabulary filter, tokenization cached by tokenizer fingerprint.

The task table plays the role of run_glue.py's ``task_to_keys`` plus what each task is scored with. The filtered
condition keeps an example only if every word of its text is in the vocabulary (docs/paper.md#glue-protocol,
implemented in ``hf_shrunk.vocab``). Text is fed lower-cased, as the models were trained (the paper fed it cased).
"""

import hashlib
import os
from typing import Any

from hf_shrunk.artifacts import artifact_root, fingerprint, load_cached_dataset, save_cached_dataset
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
