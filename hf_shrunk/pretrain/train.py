"""``python -m hf_shrunk.pretrain`` (run by ``hf-shrunk pretrain`` under ``accelerate launch``): MLM pretraining of
one grid size on a corpus + tokenizer artifact, with the paper's recipe as the default profile
(docs/paper.md#pretraining-recipe).

Run folder ``<root>/pretrain/<name>/``: ``checkpoints/`` (resumable Trainer checkpoints), ``snapshots/step{N}/``
(weights kept for the Hub's ``step{N}`` branches; ``step0`` is the initialisation), ``best/``, ``model/`` (the best
weights by default, as the paper fine-tuned; see hf_shrunk.pretrain.records), ``metrics.json`` and, written last,
``manifest.json``. Differences from the paper's code, on purpose: the loss covers masked tokens only
and attention masks are used (the paper's loss also scored padding), and bf16 autocast is used where supported.
"""

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import (
    ArtifactError,
    Manifest,
    describe_differences,
    is_complete,
    output_dir,
    read_json,
    require_artifact,
    write_json,
)
from hf_shrunk.config import ConfigError, packaged_config, parse_config, to_dict
from hf_shrunk.models import flops_per_sequence, load_grid
from hf_shrunk.pretrain.config import RECIPE_FLAGS, PretrainConfig
from hf_shrunk.pretrain.records import finish_run, keep_model_weights
from hf_shrunk.pretrain.rundir import guarded_run
from hf_shrunk.pretrain.schedule import (
    eval_cadence,
    evaluation_steps,
    paper_warmup,
    parse_snapshot_steps,
    updates_for,
)

DESCRIPTION = (
    "Pretrain one grid size with transformers.Trainer (masked LM, the paper's recipe by default). Accepts every "
    "TrainingArguments flag too. Usually started through `hf-shrunk pretrain`, which wraps `accelerate launch`."
)


def micro_batch(cfg: PretrainConfig, world_size: int, on_gpu: bool) -> tuple[int, int]:
    """(per-process batch, accumulation steps) so that micro x processes x accumulation = effective batch."""
    if cfg.effective_batch_size % world_size:
        raise ConfigError(
            f"--effective_batch_size {cfg.effective_batch_size} is not divisible by {world_size} processes"
        )
    per_process = cfg.effective_batch_size // world_size
    cap = cfg.micro_batch_size or (256 if on_gpu else 64)
    micro = max(d for d in range(1, min(cap, per_process) + 1) if per_process % d == 0)
    if cfg.micro_batch_size and micro != cfg.micro_batch_size:
        raise ConfigError(
            f"--micro_batch_size {cfg.micro_batch_size} does not divide {per_process} sequences per process"
        )
    return micro, per_process // micro


def choose_precision(cfg: PretrainConfig, args: Any) -> None:
    """Set the Trainer's precision from ``--precision`` (auto: bf16 autocast where the device computes in bf16).

    TrainingArguments derives ``mixed_precision`` (what the Trainer's Accelerator autocasts with) from ``bf16`` and
    ``$ACCELERATE_MIXED_PRECISION`` when it is built; this runs afterwards, so it sets both: ``bf16`` alone would be
    recorded but ignored (training ran in fp32 that way until 2026-12), and an accelerate config's precision would
    override ``--precision fp32``."""
    args.bf16 = _wants_bf16(cfg.precision)
    args.fp16 = False
    args.mixed_precision = "bf16" if args.bf16 else "no"


def _wants_bf16(precision: str) -> bool:
    import torch

    if precision != "auto":
        return precision == "bf16"
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    try:  # CPU: worth it only with native bf16 dot products (AVX512-BF16 / AMX)
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    return "avx512_bf16" in flags or "amx_bf16" in flags


def run_config(cfg: PretrainConfig, args: Any, size_slug: str, inputs: list[dict]) -> dict[str, Any]:
    """What must be identical for a run to be resumed (and what its manifest records)."""
    keep = (
        "learning_rate",
        "lr_scheduler_type",
        "adam_beta1",
        "adam_beta2",
        "weight_decay",
        "max_grad_norm",
        "seed",
        "num_train_epochs",
        "max_steps",
    )
    return {
        "size": size_slug,
        "pretrain": to_dict(cfg, exclude=("root", "overwrite", "resume", "num_threads", "name")),
        "training": {k: getattr(args, k) for k in keep},
        "inputs": inputs,
    }


def prepare_run_dir(run_dir: Path, config: dict, cfg: PretrainConfig) -> bool:
    """Check the run folder against ``config``: True if it is already finished (skip)."""
    key_file = run_dir / "run_config.json"
    if cfg.overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
    if is_complete(run_dir):
        if read_json(key_file) == config:
            return True
        raise ArtifactError(
            f"{run_dir} holds a finished run with a different config; pass --overwrite or another --name"
        )
    if key_file.is_file():
        if not cfg.resume:
            raise ArtifactError(
                f"{run_dir} holds an unfinished run. Pass --resume to continue it or --overwrite to start again."
            )
        old = read_json(key_file)
        if old != config:
            changed = "; ".join(describe_differences(old, config))  # key: old -> new
            raise ArtifactError(
                f"cannot resume {run_dir}: it was started with another config ({changed}). "
                "Resume with the values it was started with, or pass --overwrite to start again."
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(key_file, config)
    return False


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    import torch
    from transformers import AutoTokenizer, TrainingArguments

    cfg, args = parse_config(
        [PretrainConfig, TrainingArguments],
        argv,
        prog=prog or "python -m hf_shrunk.pretrain",
        description=DESCRIPTION,
        default_config=packaged_config("pretrain_paper"),
        # Without CUDA, use_cpu makes several processes (cpu_ddp) join a gloo process group instead of running alone.
        defaults={"use_cpu": not torch.cuda.is_available()},
        owned=RECIPE_FLAGS,  # TrainingArguments the recipe derives: refused with the flag to use instead
    )
    if not cfg.size:
        raise ConfigError("pass --size SLUG (see `hf-shrunk sizes`), e.g. --size factorized-e32-h32-i64-a8-l1")
    run_dir = output_dir("pretrain", cfg.name or load_grid(cfg.grid).find(cfg.size).slug, cfg.root)
    with guarded_run(run_dir, main_process=args.process_index == 0):  # lock, clean-up, disk-full and Ctrl-C notes
        return train(cfg, args, AutoTokenizer)


def train(cfg: PretrainConfig, args: Any, auto_tokenizer: Any) -> int:
    """Pretrain one grid size into ``<root>/pretrain/<name>/`` (resuming or skipping a finished run).

    Args:
        cfg (`PretrainConfig`): the stage config (size, corpus and tokenizer artifacts, recipe).
        args (`transformers.TrainingArguments`): the Trainer's arguments; batch sizes, warm-up, precision and the
            output folder are filled in here.
        auto_tokenizer (`type`): ``transformers.AutoTokenizer`` (or a stand-in) to load the tokenizer artifact.

    Returns:
        `int`: the exit code, 0.
    """
    import torch

    from hf_shrunk.models import build_config, check_config_matches_tokenizer, count_model_parameters
    from hf_shrunk.pretrain.trainer import restore_forward, set_cpu_threads

    size = load_grid(cfg.grid).find(cfg.size)
    run_dir = output_dir("pretrain", cfg.name or size.slug, cfg.root)
    corpus_dir, corpus_manifest = require_artifact("corpus", cfg.corpus, cfg.root)
    tok_dir, tok_manifest = require_artifact("tokenizer", cfg.tokenizer, cfg.root)
    tokenizer = auto_tokenizer.from_pretrained(str(tok_dir))
    model_config = build_config(size, tokenizer, vocab_padding=cfg.vocab_padding, dropout=cfg.dropout)
    check_config_matches_tokenizer(model_config, tokenizer, where=str(tok_dir))
    # Saved in every config.json: how step 0 was drawn, so a random-init baseline can be rebuilt without step0/.
    model_config.shrunk_init = {"scheme": cfg.init, "seed": args.seed}
    setup = run_config(cfg, args, size.slug, _input_records(corpus_dir, corpus_manifest, tok_dir, tok_manifest))
    if _run_is_finished(run_dir, setup, cfg, args):
        print(f"{run_dir} is already trained with this config; pass --overwrite to retrain")
        return 0
    on_gpu = torch.cuda.is_available()
    if not on_gpu:
        set_cpu_threads(cfg.num_threads)

    mask_config = {k: getattr(cfg, k) for k in ("mlm_probability", "mask_replace_prob", "random_replace_prob")}
    train_set, eval_set = _load_sequences(cfg, args, corpus_dir, corpus_manifest, tok_manifest, tokenizer, mask_config)
    total_steps = _fill_training_args(cfg, args, run_dir, len(train_set), on_gpu)
    model, trainer = _build_trainer(
        cfg, args, run_dir, model_config, tokenizer, train_set, eval_set, mask_config, total_steps
    )
    resume_from = _resume_checkpoint(cfg, trainer, run_dir)
    # A fresh start evaluates (and keeps as snapshots/step0) the initial weights before the first update.
    args.eval_on_start = resume_from is None
    if trainer.is_world_process_zero():
        _announce_run(cfg, args, size.slug, model, total_steps, run_dir)
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    if not any(h.get("step") == trainer.state.global_step and "eval_loss" in h for h in trainer.state.log_history):
        trainer.evaluate()  # the final step is a snapshot and needs its eval loss
    restore_forward(model)
    keep_model_weights(trainer, run_dir, cfg.model_checkpoint)
    if trainer.is_world_process_zero():
        finish_run(trainer, run_dir, size, model_config, setup, counts=count_model_parameters(model), cfg=cfg)
    return 0


def _input_records(corpus_dir: Path, corpus_manifest: Manifest, tok_dir: Path, tok_manifest: Manifest) -> list[dict]:
    """The run's inputs as its config and manifest record them: the corpus and tokenizer artifacts."""
    return [
        {
            "kind": "corpus",
            "path": str(corpus_dir),
            "fingerprint": corpus_manifest.key,
            "tiers": corpus_manifest.extra.get("tiers"),
        },
        {"kind": "tokenizer", "path": str(tok_dir), "fingerprint": tok_manifest.key},
    ]


def _run_is_finished(run_dir: Path, setup: dict, cfg: PretrainConfig, args: Any) -> bool:
    """Check (on the main process, which also creates it) the run folder: True if it already holds this run."""
    with args.main_process_first(desc="checking the run folder"):
        if args.process_index == 0:
            finished = prepare_run_dir(run_dir, setup, cfg)
        else:  # the main process has checked (and created) the folder
            finished = is_complete(run_dir) and read_json(run_dir / "run_config.json") == setup
    return finished


def _load_sequences(
    cfg: PretrainConfig,
    args: Any,
    corpus_dir: Path,
    corpus_manifest: Manifest,
    tok_manifest: Manifest,
    tokenizer: Any,
    mask_config: dict,
) -> tuple[Any, Any]:
    """Tokenize the corpus (cached; the main process first) and cut the train and eval sets to the configured sizes."""
    from hf_shrunk.pretrain.data import tokenize_corpus, tokenized_cache_dir

    cache = tokenized_cache_dir(
        corpus_manifest.key, tok_manifest.key, cfg.max_seq_len, cfg.pack, mask_config, cfg.root
    )
    with args.main_process_first(desc="tokenizing the corpus"):
        data = tokenize_corpus(corpus_dir, tokenizer, cache, cfg.max_seq_len, cfg.pack, mask_config=mask_config)
    train_set, eval_set = data["train"], data.get("validation")
    if cfg.max_train_sequences:
        train_set = train_set.select(range(min(cfg.max_train_sequences, len(train_set))))
    if eval_set is not None and cfg.eval_max_sequences:
        eval_set = eval_set.select(range(min(cfg.eval_max_sequences, len(eval_set))))
    if len(train_set) < cfg.effective_batch_size:
        raise ConfigError(
            f"{corpus_dir} has {len(train_set)} training sequences, fewer than one batch of {cfg.effective_batch_size}"
        )
    return train_set, eval_set


def _fill_training_args(cfg: PretrainConfig, args: Any, run_dir: Path, train_sequences: int, on_gpu: bool) -> int:
    """Set the Trainer arguments the recipe decides (batches, warm-up, loaders, precision); returns the updates."""
    args.output_dir = str(run_dir / "checkpoints")
    args.per_device_train_batch_size, args.gradient_accumulation_steps = micro_batch(cfg, args.world_size, on_gpu)
    args.per_device_eval_batch_size = max(args.per_device_eval_batch_size, args.per_device_train_batch_size)
    # ⌈N / B⌉ updates per epoch, the last on a partial batch, as the Trainer's dataloader (paper: 35,475).
    total_steps = (
        args.max_steps
        if args.max_steps > 0
        else updates_for(train_sequences, cfg.effective_batch_size, args.num_train_epochs)
    )
    args.warmup_steps = paper_warmup(total_steps) if cfg.warmup == "paper" else int(cfg.warmup)
    args.include_num_input_tokens_seen = "non_padding"
    args.logging_nan_inf_filter = False
    args.remove_unused_columns = False  # keep special_tokens_mask for the collator
    if on_gpu and args.dataloader_num_workers == 0:
        args.dataloader_num_workers = 4
    if not on_gpu:
        args.dataloader_pin_memory = False
    choose_precision(cfg, args)
    return total_steps


def _build_trainer(
    cfg: PretrainConfig,
    args: Any,
    run_dir: Path,
    model_config: Any,
    tokenizer: Any,
    train_set: Any,
    eval_set: Any,
    mask_config: dict,
    total_steps: int,
) -> tuple[Any, Any]:
    """The freshly initialised model and the ShrunkTrainer that trains it, with the snapshot and epoch callbacks."""
    from hf_shrunk.models import build_model, size_of_config, use_fast_dropout
    from hf_shrunk.pretrain.data import MaskSeedDataset, SeededMaskingCollator
    from hf_shrunk.pretrain.trainer import (
        CheckpointRecorder,
        EpochSetter,
        RunInfo,
        ShrunkTrainer,
        use_masked_positions_head,
    )

    flops = flops_per_sequence(size_of_config(model_config), model_config.vocab_size, cfg.max_seq_len)
    snapshots = parse_snapshot_steps(cfg.snapshot_steps, total_steps)
    cadence = eval_cadence(args.eval_strategy, args.eval_steps, total_steps)
    run_info = RunInfo(
        run_dir,
        cfg.effective_batch_size,
        cfg.max_seq_len,
        flops,
        snapshots,
        train_sequences=len(train_set),
        total_steps=total_steps,
        eval_steps=cadence,
        evaluated_steps=set(evaluation_steps(total_steps, cadence, snapshots)),
    )
    model = build_model(model_config, "mlm", init=cfg.init, seed=args.seed)
    use_masked_positions_head(model, cfg.masked_positions_head)
    if cfg.fast_dropout and args.device.type == "cpu":
        use_fast_dropout(model)
    train_set = MaskSeedDataset(train_set, args.seed)
    trainer = ShrunkTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=SeededMaskingCollator(tokenizer, **mask_config),
        processing_class=tokenizer,
        callbacks=[CheckpointRecorder(run_info), EpochSetter(train_set)],
        run_info=run_info,
        decay_all_parameters=cfg.decay_all_parameters,
    )
    return model, trainer


def _resume_checkpoint(cfg: PretrainConfig, trainer: Any, run_dir: Path) -> Path | None:
    """With ``--resume``, the newest complete checkpoint to continue from (None: start at step 0)."""
    from hf_shrunk.pretrain.trainer import find_resume_checkpoint

    if not cfg.resume:
        return None
    resume_from, notes = find_resume_checkpoint(run_dir / "checkpoints")
    if trainer.is_world_process_zero():
        for note in notes:
            print(note, file=sys.stderr)
        print(
            f"resuming from {resume_from}"
            if resume_from
            else f"no complete checkpoint in {run_dir}; starting at step 0"
        )
    return resume_from


def _announce_run(cfg: PretrainConfig, args: Any, slug: str, model: Any, total_steps: int, run_dir: Path) -> None:
    """Print what is about to be trained: parameters, updates, batch layout, precision and warm-up."""
    from hf_shrunk.models import count_model_parameters

    counts = count_model_parameters(model)
    print(
        f"pretraining {slug}: {counts['total']:,} parameters ({counts['non_embedding']:,} non-embedding), "
        f"{total_steps:,} updates of {cfg.effective_batch_size} x {cfg.max_seq_len} tokens "
        f"({args.per_device_train_batch_size} per process x {args.world_size} x "
        f"{args.gradient_accumulation_steps} accumulation), "
        f"{'bf16' if args.bf16 else 'fp32'}, warm-up {args.warmup_steps}, into {run_dir}"
    )
