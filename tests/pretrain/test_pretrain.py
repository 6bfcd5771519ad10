"""Pretraining: recipe, records, resumability, failure modes, DDP equivalence (docs/paper.md#pretraining-recipe,
issue 4; step counts, step-0 weights, best checkpoint and the paper's optimizer: issue "Trustworthy results")."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import TEST_GRID, make_training_root, subprocess_env
from safetensors.torch import load_file

from hf_shrunk.artifacts import ArtifactError, Manifest
from hf_shrunk.config import CONFIG_DIR, ConfigError
from hf_shrunk.models.grid import flops_per_sequence_paper, load_grid
from hf_shrunk.pretrain import (
    evaluation_steps,
    parse_snapshot_steps,
    sequences_in_update,
    sequences_seen,
    updates_for,
)
from hf_shrunk.pretrain import train_main as pretrain_main
from hf_shrunk.pretrain.trainer import STATE_FILE, CorruptCheckpoint, TrainingDiverged, find_resume_checkpoint

SLUG = "factorized-e32-h32-i128-a4-l2"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    make_training_root(root, n_train=1200, n_eval=160)
    return root


def args_for(root, name, *extra):
    return [
        "--root", str(root), "--grid", str(TEST_GRID), "--size", SLUG, "--name", name,
        "--config", str(CONFIG_DIR / "pretrain_demo.yaml"),
        "--effective_batch_size", "16", "--micro_batch_size", "8",
        "--max_steps", "12", "--eval_steps", "4", "--save_steps", "4", "--eval_max_sequences", "64",
        "--logging_steps", "2", "--disable_tqdm", "true", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def run(root):
    assert pretrain_main(args_for(root, "base")) == 0
    return root / "pretrain" / "base"


def test_run_folder_and_records(run):
    manifest = Manifest.read(run)
    assert manifest.extra["slug"] == SLUG
    metrics = json.loads((run / "metrics.json").read_text())
    size = load_grid(str(TEST_GRID)).find(SLUG)
    vocab = metrics["dims"]["V"]
    assert vocab == 310  # len(tokenizer) + 10, as the paper's 19,000 + 10
    assert metrics["params"] == metrics["params_closed_form"]
    per_sequence = flops_per_sequence_paper(size, vocab)
    final = metrics["final"]
    assert final["step"] == 12 and final["sequences"] == 12 * 16 and final["token_positions"] == 12 * 16 * 128
    assert final["flops_paper"] == per_sequence * 12 * 16
    assert 0 < final["tokens"] <= final["token_positions"]
    steps = [h["step"] for h in metrics["eval_history"]]
    assert steps == [0, 1, 2, 4, 8, 12] and metrics["eval_steps"] == 4
    # perplexity is computed once, at the end, as exp of the masked-token loss
    for entry in (final, metrics["best"], *metrics["eval_history"]):
        assert entry["perplexity"] == pytest.approx(math.exp(entry["eval_loss"]), rel=1e-12)
    # snapshots at step 0 (the initialisation), pow2 steps and the final step, each with its own progress and loss
    assert metrics["snapshots"] == [0, 1, 2, 4, 8, 12]
    for step in (0, 1, 2, 4, 8, 12):
        state = json.loads((run / "snapshots" / f"step{step}" / STATE_FILE).read_text())
        assert state["step"] == step and state["flops_paper"] == per_sequence * step * 16
        assert state["eval_loss"] == next(h["eval_loss"] for h in metrics["eval_history"] if h["step"] == step)
        assert (run / "snapshots" / f"step{step}" / "model.safetensors").is_file()
    assert (run / "best" / "model.safetensors").is_file() and (run / "model" / "model.safetensors").is_file()
    ckpt = run / "checkpoints" / "checkpoint-12"
    record = json.loads((ckpt / STATE_FILE).read_text())
    assert {"optimizer.pt", "scheduler.pt", "rng_state.pth", "model.safetensors"} <= set(record["files"])


def test_validation_loss_falls(run):
    history = json.loads((run / "metrics.json").read_text())["eval_history"]
    assert history[-1]["eval_loss"] < history[0]["eval_loss"] - 0.2


def test_every_parameter_changed(run):
    from hf_shrunk.models import build_config, build_model, size_of_config

    final = load_file(run / "model" / "model.safetensors")
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(run / "model")
    initial = build_model(build_config(size_of_config(config), vocab_size=config.vocab_size), init="paper", seed=0)
    unchanged = [n for n, p in initial.state_dict().items() if n in final and torch.equal(p, final[n])]
    assert set(final) == set(initial.state_dict()) - {
        "roberta.embeddings.position_ids",
        "roberta.embeddings.token_type_ids",
    }
    assert unchanged == []


def test_rerun_skips_and_refuses_other_configs(root, run, capsys):
    assert pretrain_main(args_for(root, "base")) == 0
    assert "already trained" in capsys.readouterr().out
    with pytest.raises(ArtifactError, match="different config"):
        pretrain_main(args_for(root, "base", "--learning_rate", "0.002"))


def test_snapshot_step_spec():
    assert parse_snapshot_steps("pow2:8,every:10,15", 25) == {0, 1, 2, 4, 8, 10, 15, 20, 25}
    with pytest.raises(ConfigError, match="pow2:N"):
        parse_snapshot_steps("log:3", 10)


def test_masks_depend_only_on_seed_epoch_and_index(root):
    import datasets
    from transformers import AutoTokenizer

    from hf_shrunk.pretrain.data import MaskSeedDataset, SeededMaskingCollator, _tokenize_padded

    tok = AutoTokenizer.from_pretrained(root / "tokenizer" / "default")
    texts = datasets.load_from_disk(str(root / "corpus" / "default"))["train"][:40]
    rows = datasets.Dataset.from_dict(_tokenize_padded({"text": texts["text"]}, tok, 128))
    data, collate = MaskSeedDataset(rows, seed=0), SeededMaskingCollator(tok)
    together = collate([data[i] for i in range(8)])
    apart = collate([data[i] for i in (5, 6, 7)])
    assert torch.equal(together["labels"][5:8], apart["labels"]) and torch.equal(
        together["input_ids"][5:8], apart["input_ids"]
    )
    data.set_epoch(1)
    assert not torch.equal(collate([data[i] for i in range(8)])["labels"], together["labels"])
    batch = collate([data[i] for i in range(40)])
    selected = batch["labels"].ne(-100)
    candidates = torch.tensor(rows["special_tokens_mask"]).eq(0)
    assert selected.le(candidates).all()  # never a special or padding position
    assert 0.10 < selected.sum() / candidates.sum() < 0.20
    assert torch.all(batch["input_ids"][selected] == tok.mask_token_id)  # paper: every selected token -> <mask>


def test_mismatched_tokenizer_is_refused_before_training(root, tmp_path):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    from hf_shrunk.artifacts import stage_dir, staged_output

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4, "the": 5}
    bad = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")), pad_token="<pad>"
    )
    with staged_output(stage_dir("tokenizer", "bad", root)) as staging:
        bad.save_pretrained(staging)
        Manifest("tokenizer", "bad", {"bad": True}).write(staging)
    with pytest.raises(ConfigError, match="special tokens do not follow RoBERTa"):
        pretrain_main(args_for(root, "mismatch", "--tokenizer", "bad"))
    assert not (root / "pretrain" / "mismatch" / "checkpoints").exists()


def test_nan_loss_stops_with_step_and_hint(root):
    with pytest.raises(TrainingDiverged, match=r"at step \d+\. Lower --learning_rate"):
        pretrain_main(args_for(root, "diverge", "--learning_rate", "1e12", "--precision", "fp32", "--max_steps", "30"))


def test_corrupt_and_incomplete_checkpoints(run, tmp_path):
    import shutil

    checkpoints = tmp_path / "checkpoints"
    shutil.copytree(run / "checkpoints", checkpoints)
    newest = max(checkpoints.iterdir(), key=lambda p: int(p.name.split("-")[1]))
    found, notes = find_resume_checkpoint(checkpoints)
    assert found == newest and notes == []
    (newest / STATE_FILE).unlink()  # killed while saving: skipped, with a note, older one used
    found, notes = find_resume_checkpoint(checkpoints)
    assert found != newest and "incomplete" in notes[0]
    older = found
    with open(older / "optimizer.pt", "r+b") as f:
        f.truncate(100)
    with pytest.raises(CorruptCheckpoint, match=f"{older.name} is corrupt: optimizer.pt"):
        find_resume_checkpoint(checkpoints)


def _train_subprocess(root, name, *extra):
    cmd = [sys.executable, "-m", "hf_shrunk.pretrain", *args_for(root, name, "--max_steps", "16", *extra)]
    return subprocess.Popen(cmd, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical(root):
    reference = _train_subprocess(root, "uninterrupted")
    victim = _train_subprocess(root, "killed")
    marker = root / "pretrain" / "killed" / "checkpoints" / "checkpoint-8" / STATE_FILE
    deadline = time.time() + 240
    while not marker.exists():
        assert victim.poll() is None, victim.stdout.read()
        assert time.time() < deadline, "checkpoint-8 never appeared"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert reference.wait(timeout=300) == 0, reference.stdout.read()
    with pytest.raises(ArtifactError, match="--resume"):
        pretrain_main(args_for(root, "killed", "--max_steps", "16"))
    resumed = _train_subprocess(root, "killed", "--resume")
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    assert "resuming from" in out
    a = load_file(root / "pretrain" / "uninterrupted" / "model" / "model.safetensors")
    b = load_file(root / "pretrain" / "killed" / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ma = json.loads((root / "pretrain" / "uninterrupted" / "metrics.json").read_text())
    mb = json.loads((root / "pretrain" / "killed" / "metrics.json").read_text())
    assert ma["final"] == mb["final"]
    assert [h["eval_loss"] for h in ma["eval_history"]] == [h["eval_loss"] for h in mb["eval_history"]]


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(root):
    """Same effective batch (16): 1 process x 2 accumulation steps vs 2 gloo processes x 1. Masks and data order
    are identical by construction; dropout is off because its masks come from each process's own RNG stream.
    The curves then agree up to float summation order (tolerance 1e-4 relative)."""
    same = ("--max_steps", "8", "--precision", "fp32", "--dropout", "0")
    common = args_for(root, "ddp", *same)
    launch = [
        sys.executable,
        "-m",
        "hf_shrunk",
        "pretrain",
        "--accelerate_config",
        "cpu_ddp",
        "--num_processes",
        "2",
    ]
    proc = subprocess.run(launch + common, env=subprocess_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "2 x 1 accumulation" in proc.stdout
    assert pretrain_main(args_for(root, "single", *same)) == 0
    ddp = json.loads((root / "pretrain" / "ddp" / "metrics.json").read_text())
    one = json.loads((root / "pretrain" / "single" / "metrics.json").read_text())
    for key in ("eval_history", "train_history"):
        field = "eval_loss" if key == "eval_history" else "loss"
        a, b = [h[field] for h in ddp[key]], [h[field] for h in one[key]]
        assert len(a) == len(b) > 2
        assert a == pytest.approx(b, rel=1e-4), key


# ------------------------------------------------------------------ issue "Trustworthy results", items 2-5


def test_model_folder_holds_the_best_checkpoint(run):
    """Paper: the best-dev-loss weights are the ones fine-tuned; model/ (the Hub's main), metrics.json and the
    state file all describe that checkpoint, and the final weights stay a snapshot."""
    metrics = json.loads((run / "metrics.json").read_text())
    best = min((h for h in metrics["eval_history"] if h["step"] > 0), key=lambda h: h["eval_loss"])
    assert metrics["best"] == best and metrics["model_checkpoint"] == "best"
    assert metrics["model_step"] == best["step"] and metrics["perplexity"] == best["perplexity"]
    state = json.loads((run / "model" / STATE_FILE).read_text())
    assert state["checkpoint"] == "best" and state["step"] == best["step"] and state["eval_loss"] == best["eval_loss"]
    model = load_file(run / "model" / "model.safetensors")
    for other in (run / "best", run / "snapshots" / f"step{best['step']}"):
        assert all(torch.equal(model[k], v) for k, v in load_file(other / "model.safetensors").items())
    assert (run / "snapshots" / f"step{metrics['final']['step']}" / "model.safetensors").is_file()


def test_step0_snapshot_is_the_initialisation(run):
    """The weights before the first update, kept as snapshots/step0 (the random-init baseline), with the
    initialisation recorded in config.json so it can be rebuilt."""
    from transformers import AutoConfig

    from hf_shrunk.models import build_model

    config = AutoConfig.from_pretrained(run / "snapshots" / "step0")
    assert config.shrunk_init == {"scheme": "hf", "seed": 0}  # the demo profile's init
    step0 = load_file(run / "snapshots" / "step0" / "model.safetensors")
    initial = build_model(config, init="hf", seed=0).state_dict()
    assert step0.keys() <= initial.keys() and all(torch.equal(initial[k], v) for k, v in step0.items())
    # update 1 runs at lr 0 (linear warm-up starts at 0, as in the paper's schedule), so compare with step 2
    step2 = load_file(run / "snapshots" / "step2" / "model.safetensors")
    assert not torch.equal(
        step0["roberta.encoder.layer.0.output.dense.weight"], step2["roberta.encoder.layer.0.output.dense.weight"]
    )
    state = json.loads((run / "snapshots" / "step0" / STATE_FILE).read_text())
    assert state["step"] == state["sequences"] == state["tokens"] == state["flops_paper"] == 0
    assert state["eval_loss"] > 0


def test_step_counts_of_the_paper_corpus():
    """⌈9,081,490 / 256⌉ = 35,475 updates, the last on 146 sequences; the snapshots and evaluations end there."""
    n, batch = 9_081_490, 256
    assert updates_for(n, batch) == 35_475 and updates_for(n, batch, epochs=2) == 70_950
    assert sequences_in_update(35_475, n, batch) == 146 and sequences_in_update(35_474, n, batch) == 256
    assert sequences_seen(35_475, n, batch) == n and sequences_seen(35_476, n, batch) == n + 256
    snapshots = parse_snapshot_steps("pow2:512,every:1000", 35_475)
    assert min(snapshots) == 0 and max(snapshots) == 35_475
    schedule = evaluation_steps(35_475, 1000, snapshots)
    assert schedule[-1] == 35_475
    figure_points = [s for s in schedule if s % 1000 == 0 and s > 0] + [35_475]  # the paper's 36 dev points
    assert len(figure_points) == 36


def test_recipe_plans_the_paper_number_of_updates(tmp_path):
    from transformers import TrainingArguments

    from hf_shrunk.config import packaged_config, parse_config
    from hf_shrunk.pretrain import PretrainConfig
    from hf_shrunk.pretrain.train import _fill_training_args

    cfg, args = parse_config(
        [PretrainConfig, TrainingArguments], ["--size", SLUG], default_config=packaged_config("pretrain_paper")
    )
    assert _fill_training_args(cfg, args, tmp_path, 9_081_490, on_gpu=False) == 35_475
    assert args.warmup_steps == 1773  # min(4000, 5% of 35,475)
    # below 20 updates 5% rounds down to 0, where the paper's schedule is lr = 0 throughout: one warm-up update
    args.max_steps = 8
    _fill_training_args(cfg, args, tmp_path, 9_081_490, on_gpu=False)
    assert args.warmup_steps == 1
    args.max_steps = 100_000
    _fill_training_args(cfg, args, tmp_path, 9_081_490, on_gpu=False)
    assert args.warmup_steps == 4000


def test_partial_last_batch_is_counted_exactly(root):
    """100 sequences in batches of 16: 7 updates, the last on 4 sequences; counts, FLOPs and the snapshot of the
    last step follow the real data, and model_checkpoint=final puts the last weights in model/."""
    import datasets
    from transformers import AutoTokenizer

    from hf_shrunk.pretrain.data import _tokenize_padded

    extra = ("--max_train_sequences", "100", "--max_steps", "-1", "--model_checkpoint", "final")
    assert pretrain_main(args_for(root, "partial", *extra)) == 0
    run = root / "pretrain" / "partial"
    metrics = json.loads((run / "metrics.json").read_text())
    final = metrics["final"]
    assert final["step"] == 7 and final["sequences"] == 100 and metrics["train_sequences"] == 100
    assert final["flops_paper"] == flops_per_sequence_paper(load_grid(str(TEST_GRID)).find(SLUG), 310) * 100
    texts = datasets.load_from_disk(str(root / "corpus" / "default"))["train"][:100]["text"]
    rows = _tokenize_padded({"text": texts}, AutoTokenizer.from_pretrained(root / "tokenizer" / "default"), 128)
    assert final["tokens"] == sum(map(sum, rows["attention_mask"]))  # what the Trainer really saw: each row once
    assert metrics["snapshots"][-1] == 7 and [h["step"] for h in metrics["eval_history"]][-1] == 7
    assert metrics["model_checkpoint"] == "final" and metrics["model_step"] == 7
    model = load_file(run / "model" / "model.safetensors")
    last = load_file(run / "snapshots" / "step7" / "model.safetensors")
    assert all(torch.equal(model[k], v) for k, v in last.items())
    assert metrics["best"]["step"] in metrics["snapshots"]  # the best weights are kept (and published) too


def _trainer(root, name, *extra):
    """A ShrunkTrainer set up as `train` sets it up, from the paper profile (the default) unless ``extra`` says."""
    from transformers import AutoTokenizer, TrainingArguments

    from hf_shrunk.artifacts import require_artifact
    from hf_shrunk.config import packaged_config, parse_config
    from hf_shrunk.models import build_config
    from hf_shrunk.pretrain import PretrainConfig
    from hf_shrunk.pretrain.train import _build_trainer, _fill_training_args, _load_sequences

    argv = ["--root", str(root), "--grid", str(TEST_GRID), "--size", SLUG, "--use_cpu", "true", *extra]
    cfg, args = parse_config(
        [PretrainConfig, TrainingArguments], argv, default_config=packaged_config("pretrain_paper")
    )
    corpus_dir, corpus_manifest = require_artifact("corpus", cfg.corpus, cfg.root)
    tok_dir, tok_manifest = require_artifact("tokenizer", cfg.tokenizer, cfg.root)
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
    mask = {k: getattr(cfg, k) for k in ("mlm_probability", "mask_replace_prob", "random_replace_prob")}
    train_set, eval_set = _load_sequences(cfg, args, corpus_dir, corpus_manifest, tok_manifest, tokenizer, mask)
    run_dir = root / "pretrain" / name
    total = _fill_training_args(cfg, args, run_dir, len(train_set), on_gpu=False)
    size = load_grid(str(TEST_GRID)).find(SLUG)
    config = build_config(size, tokenizer)
    return _build_trainer(cfg, args, run_dir, config, tokenizer, train_set, eval_set, mask, total)[1]


def test_paper_profile_uses_the_papers_optimizer(root, monkeypatch):
    """The paper's code: torch.optim.AdamW over all parameters (weight decay 0.01 on biases and LayerNorms too)
    and no gradient clipping. The Trainer's default would exempt biases and LayerNorms and clip at 1.0."""
    small = ("--effective_batch_size", "16", "--max_steps", "1", "--eval_max_sequences", "16")
    trainer = _trainer(root, "paper-optimizer", *small)
    assert trainer.args.max_grad_norm == 0 and trainer.args.weight_decay == 0.01
    optimizer = trainer.create_optimizer()
    assert len(optimizer.param_groups) == 1 and optimizer.param_groups[0]["weight_decay"] == 0.01
    assert {id(p) for p in optimizer.param_groups[0]["params"]} == {id(p) for p in trainer.model.parameters()}

    def no_clipping(*args, **kwargs):
        raise AssertionError("gradients were clipped")

    monkeypatch.setattr(trainer, "_clip_grad_norm", no_clipping)
    trainer.train()
    assert trainer.state.global_step == 1
    stock = _trainer(root, "trainer-optimizer", *small, "--decay_all_parameters", "false", "--max_grad_norm", "1")
    groups = stock.create_optimizer().param_groups
    assert [g["weight_decay"] for g in groups] == [0.01, 0.0] and stock.args.max_grad_norm == 1


def test_resume_keeps_a_better_best_checkpoint(root):
    """After --resume, best/ is replaced only by an evaluation better than the best one before the interruption.
    The run is cut back to checkpoint-4 and its step-4 evaluation made unbeatable; the re-run step 8 must not win."""
    import hashlib
    import shutil

    assert pretrain_main(args_for(root, "resume-best", "--max_steps", "8")) == 0
    run = root / "pretrain" / "resume-best"
    for leftover in ("manifest.json", "metrics.json", "model", "checkpoints/checkpoint-8"):
        path = run / leftover
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    ckpt = run / "checkpoints" / "checkpoint-4"
    trainer_state = json.loads((ckpt / "trainer_state.json").read_text())
    for entry in trainer_state["log_history"]:
        if entry.get("step") == 4 and "eval_loss" in entry:
            entry["eval_loss"] = 0.001
    (ckpt / "trainer_state.json").write_text(json.dumps(trainer_state))
    record = json.loads((ckpt / STATE_FILE).read_text())
    record["files"]["trainer_state.json"] = hashlib.sha256((ckpt / "trainer_state.json").read_bytes()).hexdigest()
    (ckpt / STATE_FILE).write_text(json.dumps(record))
    shutil.rmtree(run / "best")
    shutil.copytree(run / "snapshots" / "step4", run / "best")
    best_state = json.loads((run / "best" / STATE_FILE).read_text()) | {"eval_loss": 0.001}
    (run / "best" / STATE_FILE).write_text(json.dumps(best_state))

    assert pretrain_main(args_for(root, "resume-best", "--max_steps", "8", "--resume")) == 0
    assert json.loads((run / "best" / STATE_FILE).read_text())["step"] == 4
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["best"]["step"] == metrics["model_step"] == 4 and metrics["best"]["eval_loss"] == 0.001
    step4 = load_file(run / "snapshots" / "step4" / "model.safetensors")
    assert all(torch.equal(step4[k], v) for k, v in load_file(run / "model" / "model.safetensors").items())
