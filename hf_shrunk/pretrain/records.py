"""What a finished pretraining run writes (docs/paper.md#pretraining-recipe): ``model/`` (the best weights, as the
paper fine-tuned, or the final ones: ``--model_checkpoint``; the other is kept as a ``snapshots/step{N}/``), its
state file, ``metrics.json`` (every evaluation, ``final``, ``best`` and which of them ``model/`` holds, perplexities
computed here once as exp of the masked-token loss) and, last, ``manifest.json``."""

import math
import shutil
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import STATE_FILE, Manifest, read_json, write_json
from hf_shrunk.models import parameter_counts
from hf_shrunk.pretrain.config import PretrainConfig


def perplexity(loss: float | None) -> float | None:
    """exp of a mean masked-token loss, uncapped (``inf`` only where exp overflows a float)."""
    if loss is None:
        return None
    return math.exp(loss) if loss < 709.0 else math.inf


def keep_model_weights(trainer: Any, run_dir: Path, choice: str) -> None:
    """Fill ``model/`` (what the Hub's ``main`` holds) with the ``best`` or ``final`` weights and keep the other
    ones as a snapshot, so both are published. Every process calls (saving may gather FSDP shards); one writes."""
    step = trainer.state.global_step
    final_dir = run_dir / "snapshots" / f"step{step}"
    if not (final_dir / STATE_FILE).is_file():  # training stopped early: the last step was no planned snapshot
        trainer.save_snapshot(final_dir)
    if choice == "final":
        trainer.save_model(str(run_dir / "model"))
    if not trainer.is_world_process_zero():
        return
    best_dir = run_dir / "best"
    if choice == "best":
        shutil.rmtree(run_dir / "model", ignore_errors=True)
        shutil.copytree(best_dir, run_dir / "model")
    best_snapshot = run_dir / "snapshots" / f"step{read_json(best_dir / STATE_FILE)['step']}"
    if not (best_snapshot / STATE_FILE).is_file():
        shutil.rmtree(best_snapshot, ignore_errors=True)
        shutil.copytree(best_dir, best_snapshot)


def _with_perplexity(record: dict[str, Any]) -> dict[str, Any]:
    return record | {"perplexity": perplexity(record.get("eval_loss"))}


def finish_run(
    trainer: Any, run_dir: Path, size: Any, model_config: Any, setup: dict, counts: dict, cfg: PretrainConfig
) -> None:
    """Write the state of ``model/``, ``metrics.json`` and, last, ``manifest.json``."""
    info = trainer.run_info
    history = trainer.state.log_history
    evals = sorted({h["step"]: h for h in history if "eval_loss" in h}.values(), key=lambda h: h["step"])
    eval_history = [
        _with_perplexity(info.progress(h["step"], h.get("num_input_tokens_seen") or 0) | {"eval_loss": h["eval_loss"]})
        for h in evals
    ]
    final = _with_perplexity(
        info.progress(trainer.state.global_step, trainer.state.num_input_tokens_seen)
        | {"eval_loss": evals[-1]["eval_loss"]}
    )
    best = min((h for h in eval_history if h["step"] > 0), key=lambda h: h["eval_loss"])
    kept = best if cfg.model_checkpoint == "best" else final
    write_json(
        run_dir / "model" / STATE_FILE,
        {k: v for k, v in kept.items() if k != "perplexity"} | {"checkpoint": cfg.model_checkpoint},
    )
    metrics = run_metrics(run_dir, size, model_config, counts, info) | {
        "eval_steps": info.eval_steps,
        "eval_history": eval_history,
        "train_history": [
            {"step": h["step"], "loss": h["loss"], "learning_rate": h.get("learning_rate")}
            for h in history
            if "loss" in h
        ],
        "final": final,
        "best": best,
        "model_checkpoint": cfg.model_checkpoint,
        "model_step": kept["step"],
        "perplexity": kept["perplexity"],
        "snapshots": sorted(int(p.name[4:]) for p in (run_dir / "snapshots").glob("step*") if p.name[4:].isdigit()),
        "train_runtime": next((h.get("train_runtime") for h in reversed(history) if "train_runtime" in h), None),
    }
    write_json(run_dir / "metrics.json", metrics)
    extra = {"slug": size.slug, "family": size.family, "params": counts, "final": final, "best_step": best["step"]}
    extra |= {"model_checkpoint": cfg.model_checkpoint, "model_step": kept["step"]}
    Manifest("pretrain", run_dir.name, setup, setup["inputs"], extra=extra).write(run_dir)
    print(
        f"done: {size.slug} step {final['step']:,}, {final['sequences']:,} sequences, {final['tokens']:,} tokens, "
        f"{final['flops_paper']:.3g} FLOPs (paper convention); model/ holds the {cfg.model_checkpoint} weights "
        f"(step {kept['step']:,}, eval loss {kept['eval_loss']:.4f}, perplexity {kept['perplexity']:.2f}) -> {run_dir}"
    )


def run_metrics(run_dir: Path, size: Any, model_config: Any, counts: dict, info: Any) -> dict[str, Any]:
    """The run's identity and sizes as ``metrics.json`` records them."""
    return {
        "run": run_dir.name,
        "slug": size.slug,
        "family": size.family,
        "dims": {
            "E": size.E,
            "H": size.H,
            "I": size.I,
            "A": size.A,
            "A_requested": size.requested_heads,
            "L": size.L,
            "V": model_config.vocab_size,
        },
        "params": counts,
        "params_closed_form": parameter_counts(size, model_config.vocab_size),
        "flops_per_sequence": info.flops_per_sequence,
        "train_sequences": info.train_sequences,
        "effective_batch_size": info.effective_batch_size,
    }
