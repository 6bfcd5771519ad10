"""The ``Trainer`` subclass behind ``hf-shrunk pretrain``: fast MLM loss, exact evaluation, checkpoint records.

The speed levers live inside the Trainer/accelerate path, so DDP and FSDP keep working:
- the MLM head runs on masked positions only (``masked_positions_forward``): the same loss, but the 19K-way output
  layer — most of a small model's FLOPs — sees 15% of the positions;
- the loss is the masked-token mean over the whole accumulated, all-process batch (``num_items_in_batch``), so one
  process with 4 accumulation steps and 2 processes with 2 compute the same update;
- evaluation is a token-weighted mean over a fixed, pre-masked validation set (perplexity, exp of that loss, is
  computed once, when the run finishes).
Every checkpoint and snapshot records step, sequences (exact: an epoch's last update may be partial), tokens and
cumulative FLOPs (both conventions) beside its eval loss, and a checksum list that ``--resume`` verifies. The paper's
optimizer (``decay_all_parameters``): AdamW with weight decay on every parameter, in one group.
"""

import json
import math
import os
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import Trainer, TrainerCallback
from transformers.utils import ModelOutput

from hf_shrunk.artifacts import STATE_FILE, sha256_file, write_json
from hf_shrunk.config import UserError
from hf_shrunk.pretrain.schedule import best_loss_so_far, sequences_seen


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


class CorruptCheckpoint(UserError):
    """A checkpoint's files do not match the checksums recorded when it was saved."""


@dataclass
class MaskedPositionsOutput(ModelOutput):
    loss: torch.Tensor | None = None
    loss_sum: torch.Tensor | None = None  # per sequence, float32: summed CE over its masked tokens
    n_masked: torch.Tensor | None = None  # per sequence


def masked_positions_forward(
    self, input_ids=None, attention_mask=None, labels=None, num_items_in_batch=None, **kwargs
):
    """MLM forward that scores only labelled (masked) positions; bound to a model by ``use_masked_positions_head``.

    With ``num_items_in_batch`` (the Trainer's count of masked tokens over the accumulated batch on all processes)
    the loss is ``sum / num_items_in_batch``; otherwise the mean over this batch's masked tokens.
    """
    kwargs.pop("return_dict", None)
    hidden = self.roberta(input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
    if labels is None:
        return MaskedPositionsOutput(loss=None)
    selected = labels.ne(-100)
    if self._shrunk_sparse_head:
        logits = self.lm_head(hidden[selected])
        losses = nn.functional.cross_entropy(logits.float(), labels[selected], reduction="none")
    else:  # dense head, for comparisons: every position goes through the decoder
        logits = self.lm_head(hidden)
        losses = nn.functional.cross_entropy(logits.float()[selected], labels[selected], reduction="none")
    rows = selected.nonzero()[:, 0]
    loss_sum = torch.zeros(labels.size(0), device=losses.device, dtype=torch.float32).index_add_(
        0, rows, losses.detach()
    )
    n_masked = selected.sum(dim=1)
    denominator = num_items_in_batch if num_items_in_batch is not None else n_masked.sum().clamp(min=1)
    return MaskedPositionsOutput(loss=losses.sum() / denominator, loss_sum=loss_sum, n_masked=n_masked)


def use_masked_positions_head(model: nn.Module, sparse: bool = True) -> None:
    """Bind ``masked_positions_forward`` to this model instance (the class, its weights and saving are untouched)."""
    model._shrunk_sparse_head = sparse
    model.forward = types.MethodType(masked_positions_forward, model)


def restore_forward(model: nn.Module) -> None:
    model.__dict__.pop("forward", None)


@dataclass
class RunInfo:
    """What the trainer needs to record with every checkpoint."""

    run_dir: Path
    effective_batch_size: int
    seq_len: int
    flops_per_sequence: dict[str, int]
    snapshot_steps: set[int]
    train_sequences: int  # per epoch
    total_steps: int
    eval_steps: int | None = None  # the regular evaluation cadence
    evaluated_steps: set[int] | None = None  # every step evaluated: cadence, snapshots, last

    def progress(self, step: int, tokens: int) -> dict[str, Any]:
        sequences = sequences_seen(step, self.train_sequences, self.effective_batch_size)
        record = {"step": step, "sequences": sequences, "tokens": tokens, "token_positions": sequences * self.seq_len}
        record |= {f"flops_{name}": per_seq * sequences for name, per_seq in self.flops_per_sequence.items()}
        return record


class ShrunkTrainer(Trainer):
    def __init__(self, *args: Any, run_info: RunInfo, decay_all_parameters: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.run_info = run_info
        self.decay_all_parameters = decay_all_parameters
        # Our forward divides by num_items_in_batch itself, so the Trainer must count masked tokens for it and must
        # not divide by the accumulation steps again.
        self.model_accepts_loss_kwargs = True
        self.best_eval_loss = math.inf
        self.add_callback(_TrainBegin(self))

    def create_optimizer(self, model=None):
        """With ``decay_all_parameters`` (the paper's ``torch.optim.AdamW(model.parameters(), weight_decay=0.01)``):
        one parameter group, weight decay on every parameter; otherwise the Trainer's two groups."""
        opt_model = self.model if model is None else model
        if self.optimizer is not None or not self.decay_all_parameters:
            return super().create_optimizer(model)
        optimizer_cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        if {"params", "model", "optimizer_dict"} & set(kwargs):
            raise UserError(
                f"--optim {self.args.optim} builds its own parameter groups; pass --decay_all_parameters false"
            )
        params = [p for p in opt_model.parameters() if p.requires_grad]
        self.optimizer = optimizer_cls([{"params": params, "weight_decay": self.args.weight_decay}], **kwargs)
        return self.optimizer

    def begin_training(self, state: Any) -> None:
        """Check that the Trainer plans the recipe's number of updates (the snapshot and evaluation steps depend on
        it) and, on a resumed run, restore the lowest dev loss so far: ``best/`` is replaced only by a better one."""
        if state.max_steps != self.run_info.total_steps:
            raise UserError(
                f"the Trainer plans {state.max_steps} updates but the recipe {self.run_info.total_steps} "
                f"(⌈{self.run_info.train_sequences} / {self.run_info.effective_batch_size}⌉ per epoch); "
                "please report this with `hf-shrunk env`"
            )
        self.best_eval_loss = best_loss_so_far(state.log_history, state.global_step)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs, num_items_in_batch=num_items_in_batch)
        loss = outputs.loss
        if num_items_in_batch is not None and self.args.average_tokens_across_devices:
            loss = loss * self.accelerator.num_processes  # DDP averages gradients; the count is already global
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        for key in ("loss", "eval_loss"):
            if key in logs and not math.isfinite(logs[key]):
                raise TrainingDiverged(
                    f"{key} is {logs[key]} at step {self.state.global_step}. Lower --learning_rate, use "
                    "--precision fp32, or check the corpus/tokenizer; resume from the last checkpoint with --resume."
                )
        logs.update(
            {
                k: v
                for k, v in self.run_info.progress(self.state.global_step, self.state.num_input_tokens_seen).items()
                if k.startswith("flops_")
            }
        )
        super().log(logs, start_time)

    @torch.no_grad()
    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        """Token-weighted masked-token loss over the whole (pre-masked) validation set, on every process."""
        dataloader = self.get_eval_dataloader(eval_dataset)
        model = self.model_wrapped if self.model_wrapped is not None else self.model
        was_training = model.training
        model.eval()
        total, count = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.float64)
        for batch in dataloader:
            out = model(**self._prepare_inputs(batch))
            loss_sum, n_masked = self.accelerator.gather_for_metrics((out.loss_sum, out.n_masked))
            total += loss_sum.double().sum().cpu()
            count += n_masked.double().sum().cpu()
        if was_training:
            model.train()
        loss = (total / count.clamp(min=1)).item()
        metrics = {
            f"{metric_key_prefix}_loss": loss,
            f"{metric_key_prefix}_masked_tokens": int(count.item()),
        }
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        self._keep_weights(metrics[f"{metric_key_prefix}_loss"])
        return metrics

    def _keep_weights(self, eval_loss: float) -> None:
        """Save the best-so-far weights and the snapshot of this step (all processes call; one writes)."""
        step = self.state.global_step
        record = self.run_info.progress(step, self.state.num_input_tokens_seen) | {"eval_loss": eval_loss}
        targets = []
        if eval_loss < self.best_eval_loss and step > 0:
            self.best_eval_loss = eval_loss
            targets.append(self.run_info.run_dir / "best")
        if step in self.run_info.snapshot_steps:
            targets.append(self.run_info.run_dir / "snapshots" / f"step{step}")
        for target in targets:
            self.save_snapshot(target, record)

    def save_snapshot(self, target: Path, record: dict[str, Any] | None = None) -> None:
        """Save the current weights into ``target`` with their progress record (default: this step's, with its eval
        loss from the history). All processes call; one writes the record."""
        if record is None:
            step = self.state.global_step
            losses = [h["eval_loss"] for h in self.state.log_history if h.get("step") == step and "eval_loss" in h]
            record = self.run_info.progress(step, self.state.num_input_tokens_seen)
            record["eval_loss"] = losses[-1] if losses else None
        self.save_model(str(target))
        if self.is_world_process_zero():
            write_json(target / STATE_FILE, record)


class _TrainBegin(TrainerCallback):
    """Calls :meth:`ShrunkTrainer.begin_training` once the Trainer has set up (or restored) its state."""

    def __init__(self, trainer: ShrunkTrainer):
        self.trainer = trainer

    def on_train_begin(self, args, state, control, **kwargs):
        self.trainer.begin_training(state)
        return control


class CheckpointRecorder(TrainerCallback):
    """Evaluates at every step of the run's schedule (cadence, snapshots, last step) and marks each saved checkpoint
    complete (with checksums) once fully written."""

    def __init__(self, run_info: RunInfo):
        self.run_info = run_info

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step in (self.run_info.evaluated_steps or self.run_info.snapshot_steps):
            control.should_evaluate = True
        return control

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return control
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            evals = [h["eval_loss"] for h in state.log_history if "eval_loss" in h]
            record = self.run_info.progress(state.global_step, state.num_input_tokens_seen)
            record["eval_loss"] = evals[-1] if evals else None
            record["files"] = {
                p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name != STATE_FILE
            }
            write_json(folder / STATE_FILE, record)
        return control


class EpochSetter(TrainerCallback):
    """Tells the training dataset which epoch starts, so each epoch draws new masks (see hf_shrunk.pretrain.data)."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.dataset.set_epoch(int(state.epoch + 1e-6) if state.epoch else 0)
        return control


def find_resume_checkpoint(checkpoints_dir: Path) -> tuple[Path | None, list[str]]:
    """The newest complete checkpoint (verified against its checksums) and notes about skipped ones.

    A checkpoint without ``shrunk_state.json`` was interrupted while saving and is skipped with a note. A checkpoint
    whose files do not match its checksums raises :class:`CorruptCheckpoint` naming it: it is never silently ignored.
    """
    notes: list[str] = []
    if not checkpoints_dir.is_dir():
        return None, notes
    candidates = sorted(
        (p for p in checkpoints_dir.iterdir() if p.is_dir() and p.name.startswith("checkpoint-")),
        key=lambda p: int(p.name.rsplit("-", 1)[-1]),
        reverse=True,
    )
    for folder in candidates:
        state_file = folder / STATE_FILE
        if not state_file.is_file():
            notes.append(f"{folder} is incomplete (interrupted while saving); skipped")
            continue
        try:
            expected = json.loads(state_file.read_text())["files"]
        except (json.JSONDecodeError, KeyError) as e:
            raise CorruptCheckpoint(
                f"{state_file} is unreadable ({e}); delete {folder} to resume from an earlier checkpoint"
            ) from e
        for name, digest in expected.items():
            path = folder / name
            if not path.is_file() or sha256_file(path) != digest:
                what = "is missing" if not path.is_file() else "does not match the checksum recorded when it was saved"
                raise CorruptCheckpoint(
                    f"checkpoint {folder} is corrupt: {name} {what}. Delete {folder} to resume from the previous "
                    "checkpoint, or pass --overwrite to restart the run from scratch."
                )
        return folder, notes
    return None, notes


def set_cpu_threads(num_threads: int | None) -> int:
    """Use every core on CPU. ``accelerate launch`` sets OMP_NUM_THREADS=1 by default, which halves throughput
    here (docs/design.md#performance), so unless told otherwise each local process gets cores / local processes
    threads."""
    if num_threads is None:
        local = int(os.environ.get("LOCAL_WORLD_SIZE") or os.environ.get("HF_SHRUNK_NUM_PROCESSES") or 1)
        num_threads = max(1, (os.cpu_count() or 1) // local)
    torch.set_num_threads(num_threads)
    return num_threads
