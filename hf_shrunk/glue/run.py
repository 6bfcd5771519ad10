"""``hf-shrunk glue MODEL``: fine-tune and score a checkpoint on GLUE, vocabulary-filtered and full
(docs/paper.md#glue-protocol).

MODEL is a pretrain run name (``<root>/pretrain/<run>``), a local model directory, or a Hub repo id with an optional
``@revision`` (``org/shrunk-roberta-h256-i1024-a8-l8@step8000``). Paper hyperparameters are the defaults (lr 2e-4,
batch 32, 5 epochs, max length 128, weight decay 0, otherwise Trainer defaults); seeds 0, 1, 2.
``--baseline random-init`` scores the same architecture from the weights its pretraining started from (step 0) under
the same protocol; ``--checkpoint best|final`` picks a run's checkpoint (see hf_shrunk.glue.weights).

Fast where it costs nothing in fidelity: dynamic padding (each batch padded to its longest example) instead of padding
to 128, evaluation sets sorted by length, tokenization cached across seeds, variants and re-runs. Training batches
stay randomly drawn: length-grouped batches (``--group_by_length``) are faster still, but on SST-2 they left our small
models predicting a single class (two seeds, 20K examples), so they are opt-in.

Results: ``<root>/glue/<name>/results/<variant>/<condition>/<task>/seed<N>.json`` (one per combination; finished
ones are skipped on re-run) and ``summary.json`` (mean ± std over seeds per task and of the GLUE score).
"""

import contextlib
import dataclasses
import math
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import (
    artifact_lock,
    artifact_root,
    describe_differences,
    fingerprint,
    git_sha,
    is_complete,
    output_dir,
    read_json,
    stage_dir,
    write_json,
)
from hf_shrunk.config import ConfigError, UserError, parse_config
from hf_shrunk.glue.config import GlueConfig
from hf_shrunk.glue.data import TASKS, GlueTask, main_score, selected_tasks, tokenized_task, trainable_tasks
from hf_shrunk.glue.export import export_filtered_dev
from hf_shrunk.glue.heads import head_overrides
from hf_shrunk.glue.model_vocab import checked_vocab, glue_options, vocab_fields
from hf_shrunk.glue.summary import format_summary, write_summary
from hf_shrunk.glue.weights import resolve_baseline, run_checkpoint, weights_for, weights_record
from hf_shrunk.glue.workers import claimed, run_in_workers, worker_command
from hf_shrunk.hub import hub_errors

CONDITIONS = ("filtered", "full")
# What a stored result depends on besides (model, revision, variant, condition, task, seed): a re-run with other
# values must not silently reuse it.
RESULT_SETTINGS = (
    "learning_rate", "batch_size", "num_epochs", "max_length", "weight_decay", "dropout", "max_train_samples",
    "max_eval_samples", "pad_to_max_length", "group_by_length", "precision", "vocab", "data_dir", "head",
    "fast_dropout",
)  # fmt: skip
_REPO_ID_RE = re.compile(r"^[\w][\w.-]*/[\w][\w.-]*$")


@dataclasses.dataclass
class ModelRef:
    """Where a model to score comes from."""

    kind: str  # "run", "dir" or "hub"
    location: str  # a local directory or a Hub repo id
    revision: str | None
    display: str
    name: str  # results folder under <root>/glue/
    run: str | None = None
    perplexity: float | None = None
    checkpoint: str | None = None  # a run's "best" or "final"; None for a folder or Hub revision scored as given
    run_dir: str | None = None
    baseline: Any = None  # hf_shrunk.glue.weights.Baseline, once resolved


def resolve_model(
    spec: str, revision: str | None = None, root: str | None = None, checkpoint: str = "best"
) -> ModelRef:
    """A pretrain run name (its ``checkpoint``: best or final), a local directory or ``owner/repo[@revision]`` ->
    :class:`ModelRef`."""
    path = Path(spec).expanduser()
    if not path.exists() and "@" in spec:
        spec, _, at_revision = spec.rpartition("@")
        if revision and revision != at_revision:
            raise ConfigError(f"two revisions given: @{at_revision} and --revision {revision}")
        revision, path = at_revision, Path(spec).expanduser()
    run_dir = stage_dir("pretrain", spec, root) if "/" not in spec else None
    if path.is_dir() and (path / "model" / "config.json").is_file():
        run_dir = path
    if run_dir is not None and is_complete(run_dir) and (run_dir / "model").is_dir():
        folder, name, perplexity = run_checkpoint(run_dir, checkpoint)
        return ModelRef("run", str(folder), None, spec, name, run_dir.name, perplexity, checkpoint, str(run_dir))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path} has no config.json: not a model directory (save one with save_pretrained)")
        return ModelRef("dir", str(path.resolve()), None, str(path), path.resolve().name)
    if _REPO_ID_RE.match(spec):
        name = spec.replace("/", "--") + (f"@{revision}" if revision else "")
        return ModelRef("hub", spec, revision, spec + (f"@{revision}" if revision else ""), name)
    raise ConfigError(
        f"MODEL {spec!r} is neither a finished pretrain run under {artifact_root(root) / 'pretrain'}, a local model "
        "directory, nor a Hub repo id (owner/name[@revision]). Train one with `hf-shrunk pretrain --size SLUG`."
    )


def _collator(tokenizer: Any, pad_to_max_length: bool, max_length: int):
    from transformers import DataCollatorWithPadding

    if pad_to_max_length:  # run_glue.py's --pad_to_max_length, kept for comparisons
        pad = DataCollatorWithPadding(tokenizer, padding="max_length", max_length=max_length)
    else:
        pad = DataCollatorWithPadding(tokenizer, padding=True)

    def collate(features: list[dict[str, Any]]) -> dict[str, Any]:
        return pad([{k: v for k, v in f.items() if k != "length"} for f in features])

    return collate


def training_arguments(cfg: GlueConfig, seed: int, output_dir: str):
    """Paper hyperparameters (docs/paper.md#glue-protocol); otherwise Trainer defaults (linear decay, no warm-up)."""
    import torch
    from transformers import TrainingArguments

    on_gpu = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=output_dir,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size,
        num_train_epochs=cfg.num_epochs,
        weight_decay=cfg.weight_decay,
        seed=seed,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        length_column_name="length",
        remove_unused_columns=False,
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
        bf16=cfg.precision == "bf16",
        use_cpu=not on_gpu,
        dataloader_pin_memory=on_gpu,
    )


def use_speed_levers(model: Any, cfg: GlueConfig) -> None:
    """What the GLUE stage changes in a loaded model for speed: on CPU, ``--fast_dropout`` (models.dropout)."""
    import torch

    from hf_shrunk.models import use_fast_dropout

    if cfg.fast_dropout and not torch.cuda.is_available():
        use_fast_dropout(model)


def finite_metrics(values: dict[str, float]) -> tuple[dict[str, float], list[str]]:
    """Metric values with undefined ones (NaN: a correlation of constant predictions, which tiny models produce)
    counted as 0 — no correlation — and their names, rather than letting NaN spread into every mean."""
    clean = {name: float(v) if math.isfinite(v) else 0.0 for name, v in values.items()}
    return clean, [name for name, v in values.items() if not math.isfinite(v)]


def finetune(
    ref: ModelRef, task: GlueTask, data: Any, seed: int, variant: str, cfg: GlueConfig, tokenizer: Any
) -> dict:
    """Fine-tune one (variant, task, seed) and score every evaluation split with the packaged GLUE metric."""
    from transformers import AutoModelForSequenceClassification, PrinterCallback, Trainer, set_seed
    from transformers.utils import logging as hf_logging

    set_seed(seed)
    labels = {
        "num_labels": task.num_labels,
        "problem_type": "regression" if task.is_regression else "single_label_classification",
        # Fine-tuning dropout is the protocol's, not whatever the checkpoint was pretrained with.
        "hidden_dropout_prob": cfg.dropout,
        "attention_probs_dropout_prob": cfg.dropout,
    } | head_overrides(cfg.head, ref.location, ref.revision, cfg.max_length)  # --head: hf_shrunk.glue.heads
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the new classifier head and the unused MLM head are expected, not news
    try:
        # random-init starts from the run's step-0 weights (hf_shrunk.glue.weights), with a new head as pretrained
        location, revision = weights_for(ref, variant)
        model = AutoModelForSequenceClassification.from_pretrained(location, revision=revision, **labels)
    finally:
        hf_logging.set_verbosity(verbosity)
    use_speed_levers(model, cfg)
    train = data["train"]
    if cfg.max_train_samples and len(train) > cfg.max_train_samples:
        train = train.shuffle(seed=0).select(range(cfg.max_train_samples))  # same subset for every seed and variant
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(
            model=model,
            args=training_arguments(cfg, seed, tmp),
            train_dataset=train,
            data_collator=_collator(tokenizer, cfg.pad_to_max_length, cfg.max_length),
            processing_class=tokenizer,
        )
        trainer.remove_callback(PrinterCallback)  # one line per run is printed by run_glue instead
        trainer.train()
        splits, n_eval, undefined = _score_eval_splits(trainer, task, data, cfg)
    return {
        "splits": splits,
        "undefined_metrics": undefined,
        "score": main_score(task, splits),
        "n_train": len(train),
        "n_eval": n_eval,
        "runtime_seconds": time.perf_counter() - start,
    }


def _score_eval_splits(trainer: Any, task: GlueTask, data: Any, cfg: GlueConfig) -> tuple[dict, dict, list[str]]:
    """(metrics per evaluation split, examples scored per split, undefined metric names) of a fine-tuned model."""
    import numpy as np

    from hf_shrunk.glue.metrics import load_glue_metric

    metric = load_glue_metric(task.name)
    splits, n_eval, undefined = {}, {}, []
    for split in task.eval_splits:
        evaluation = data[split]
        if cfg.max_eval_samples and len(evaluation) > cfg.max_eval_samples:
            evaluation = evaluation.shuffle(seed=0).select(range(cfg.max_eval_samples))
        out = trainer.predict(evaluation)
        logits = out.predictions[0] if isinstance(out.predictions, tuple) else out.predictions
        predictions = logits.squeeze(-1) if task.is_regression else np.argmax(logits, axis=-1)
        values = metric.compute(predictions=predictions, references=evaluation["label"])
        splits[split], missing = finite_metrics(values)
        undefined += [f"{split}/{name}" for name in missing]
        n_eval[split] = len(evaluation)
    return splits, n_eval, undefined


def result_path(folder: Path, variant: str, condition: str, task: str, seed: int) -> Path:
    return folder / "results" / variant / condition / task / f"seed{seed}.json"


def run_glue(cfg: GlueConfig) -> dict[str, Any]:
    """Run (or resume) every combination of ``cfg`` and write ``summary.json``.

    Args:
        cfg (`GlueConfig`): the model, tasks, conditions, variants, seeds and fine-tuning settings.

    Returns:
        `dict[str, Any]`: the summary: mean ± std over seeds per task and of the GLUE score, per variant and condition.
    """
    if not cfg.model:
        raise ConfigError("pass MODEL: a pretrain run name, a model directory or a Hub repo id[@revision]")
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoTokenizer

    from hf_shrunk.models import register_auto_classes

    register_auto_classes()
    ref = resolve_model(cfg.model, cfg.revision, cfg.root, cfg.checkpoint)
    folder = output_dir("glue", cfg.name or ref.name, cfg.root)
    # a second writer of these results is refused; --num_workers' workers write under their parent's lock
    with artifact_lock(folder, enabled=not cfg.worker, overwrite=cfg.overwrite and not cfg.worker):
        if not torch.cuda.is_available():
            torch.set_num_threads(cfg.num_threads or torch.get_num_threads())
        with hub_errors(ref.location, ref.revision, enabled=ref.kind == "hub"):  # a missing repo, or offline
            tokenizer = AutoTokenizer.from_pretrained(ref.location, revision=ref.revision)
        conditions = CONDITIONS if cfg.condition == "both" else (cfg.condition,)
        variants = ["pretrained"] + (["random-init"] if cfg.baseline == "random-init" else [])
        tasks, notes = selected_tasks(cfg.tasks, trainable_tasks(cfg.data_dir))
        if cfg.baseline == "random-init":
            ref.baseline = resolve_baseline(ref, cfg.root)
            notes += [ref.baseline.note] if ref.baseline.note else []
        vocab = glue_options(cfg, ref, conditions)  # checks --head; --vocab model|...: hf_shrunk.glue.model_vocab
        export_filtered_dev(folder, tasks, vocab, cfg.data_dir)  # the filtered dev sets as data, for publish
        jobs = [(t, c, v, int(s)) for t in tasks for c in conditions for v in variants for s in cfg.seeds]
        if cfg.num_workers > 1 and not cfg.worker and not torch.cuda.is_available():
            run_in_workers(cfg, folder)  # every job scored and stored; the loop below reads them back
        bar = tqdm(jobs, desc=f"GLUE {ref.display}", unit="run", file=sys.stdout)
        results, tiers = _run_jobs(cfg, ref, folder, tokenizer, vocab, bar, notes)
        return {} if cfg.worker else write_summary(cfg, ref, folder, vocab, tiers, notes, results)


def _run_jobs(
    cfg: GlueConfig, ref: ModelRef, folder: Path, tokenizer: Any, vocab: Any, bar: Any, notes: list[str]
) -> tuple[list[dict], dict[str, Any]]:
    """Score (or read back) each (task, condition, variant, seed) of ``bar``: (result records, data tier per task).
    Skipped combinations are added to ``notes``."""
    from hf_shrunk.sources import MissingDataError, load_glue_task

    hyperparameters = {k: getattr(cfg, k) for k in RESULT_SETTINGS}
    results, tiers, missing = [], {}, set()
    loaded: dict[str, Any] = {}
    for task_name, condition, variant, seed in bar:
        task = TASKS[task_name]
        path = result_path(folder, variant, condition, task_name, seed)
        weights = weights_record(ref, variant)
        if path.is_file():
            results.append(checked_vocab(_stored_result(path, hyperparameters, weights), vocab, condition, path))
            if results[-1].get("data_tier"):  # read back (re-run or worker): its tier
                tiers.setdefault(task_name, results[-1]["data_tier"])
            continue
        if task_name in missing:
            continue
        with claimed(path) if cfg.worker else contextlib.nullcontext(True) as mine:
            if not mine:
                continue  # another worker is scoring it
            if task_name not in loaded:
                try:
                    splits, tiers[task_name] = load_glue_task(task_name, cfg.data_dir, ("train", *task.eval_splits))
                except MissingDataError as e:  # e.g. a Hub copy without that config: the other tasks still run
                    missing.add(task_name)
                    notes.append(f"{task_name}: {e}")
                    bar.write(notes[-1])
                    continue
                loaded = {task_name: splits}  # one task's raw data in memory at a time
            splits = loaded[task_name]
            source_key = fingerprint({s: getattr(d, "_fingerprint", len(d)) for s, d in splits.items()})
            data = tokenized_task(
                task, condition, splits, tokenizer, vocab, source_key, cfg.max_length, cfg.pad_to_max_length, cfg.root
            )
            empty = [s for s in ("train", *task.eval_splits) if len(data[s]) == 0]
            if empty:
                note = f"{task_name} ({condition}): {', '.join(empty)} empty after filtering; skipped"
                if note not in notes:
                    notes.append(note)
                    bar.write(note)
                continue
            bar.set_postfix_str(f"{variant} {condition} {task_name} seed {seed}")
            extra = {"data_tier": tiers.get(task_name)} | weights | vocab_fields(vocab, condition)
            record = _score_and_store(path, ref, task, data, (condition, variant, seed), cfg, tokenizer, extra)
            results.append(record)
            bar.write(
                f"{variant:>11} {condition:>8} {task_name:>5} seed {seed}: {record['score']:.4f} "
                f"({record['n_train']} train, {sum(record['n_eval'].values())} eval, {record['runtime_seconds']:.1f}s)"
            )
    return results, tiers


def _score_and_store(
    path: Path, ref: ModelRef, task: GlueTask, data: Any, job: tuple, cfg: GlueConfig, tokenizer: Any, extra: dict
) -> dict[str, Any]:
    """Fine-tune and score one (condition, variant, seed) of ``task`` and store its record at ``path``."""
    condition, variant, seed = job
    record = finetune(ref, task, data, seed, variant, cfg, tokenizer)
    record |= dict(model=ref.display, revision=ref.revision, variant=variant, condition=condition, task=task.name)
    record |= {"seed": seed} | extra | {"hyperparameters": {k: getattr(cfg, k) for k in RESULT_SETTINGS}}
    record["git_sha"] = git_sha()
    write_json(path, record)
    return record


def _stored_result(path: Path, hyperparameters: dict[str, Any], weights: dict[str, Any]) -> dict[str, Any]:
    """A finished combination's record, refused if it was scored with other settings or from other weights."""
    record = read_json(path)
    for what, old, new in [
        ("from other weights", {k: record.get(k) for k in weights}, weights),
        ("with other settings", record.get("hyperparameters") or {}, hyperparameters),
    ]:
        if old != new:
            changed = "; ".join(describe_differences(old, new))
            raise UserError(
                f"{path} was scored {what} ({changed}). Pass --overwrite to re-score, or --name to keep both."
            )
    return record


def worker_job(cfg: GlueConfig, config_file: Path) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) of one one-thread worker scoring ``cfg``'s jobs, for a scheduler that starts several at
    any time (the demo's lanes); its settings are written to ``config_file``. ``run_glue(cfg)`` afterwards reads the
    results back and writes the summary."""
    ref = resolve_model(cfg.model, cfg.revision, cfg.root, cfg.checkpoint)
    config_file.parent.mkdir(parents=True, exist_ok=True)
    return worker_command(cfg, output_dir("glue", cfg.name or ref.name, cfg.root), config_file)


def evaluate_model(model: str, revision: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Library entry point: score ``model`` on GLUE; keyword arguments are :class:`GlueConfig` fields."""
    return run_glue(GlueConfig(model=model, revision=revision, **overrides))


def evaluate_pushed(repo: str, revision: str | None = None, **glue_kwargs: Any) -> dict[str, Any]:
    """Fine-tune and score a pushed checkpoint on GLUE; returns its summary.

    Args:
        repo (`str`): a repo id, ``repo@revision``, or anything :func:`hf_shrunk.hub.repo_id` accepts.
        revision (`str`, *optional*): branch, tag or commit (``"step8000"``).
        **glue_kwargs: GLUE options (``tasks``, ``seeds``, ``condition``, ...; see ``hf-shrunk glue --help``).
    """
    from hf_shrunk.hub import repo_id

    if revision is None and "@" in repo:
        repo, revision = repo.rsplit("@", 1)
    return evaluate_model(repo_id(repo), revision=revision, **glue_kwargs)


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    (cfg,) = parse_config(
        [GlueConfig],
        argv,
        prog=prog,
        positional="model",
        description="Fine-tune and score MODEL on GLUE, vocabulary-filtered and full, over several seeds "
        "(paper protocol), optionally against a random-init twin. MODEL: pretrain run name, model directory, "
        "or Hub repo id[@revision].",
    )
    summary = run_glue(cfg)
    if cfg.worker:
        return 0
    print(format_summary(summary))
    name = cfg.name or resolve_model(cfg.model, cfg.revision, cfg.root, cfg.checkpoint).name
    print(f"results: {stage_dir('glue', name, cfg.root)}")
    return 0
