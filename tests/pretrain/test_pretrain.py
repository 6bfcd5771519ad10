"""Pretraining: recipe, records, resumability, failure modes, DDP equivalence (docs/paper.md#pretraining-recipe,
issue 4)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import TEST_GRID, make_corpus_artifact, subprocess_env
from safetensors.torch import load_file

from hf_shrunk.artifacts import ArtifactError, Manifest
from hf_shrunk.config import CONFIG_DIR, ConfigError
from hf_shrunk.models.grid import flops_per_sequence_paper, load_grid
from hf_shrunk.pretrain import parse_snapshot_steps
from hf_shrunk.pretrain import train_main as pretrain_main
from hf_shrunk.pretrain.trainer import STATE_FILE, CorruptCheckpoint, TrainingDiverged, find_resume_checkpoint
from hf_shrunk.tokenizer import main as tokenizer_main

SLUG = "factorized-e32-h32-i128-a4-l2"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    make_corpus_artifact(root, n_train=1200, n_eval=160)
    assert tokenizer_main(["--root", str(root), "--vocab_size", "300"]) == 0
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
    assert steps == sorted(steps) and {1, 2, 4, 8, 12} <= set(steps)
    # snapshots at pow2 steps and the final step, each recording its own progress and eval loss
    for step in (1, 2, 4, 8, 12):
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
    assert parse_snapshot_steps("pow2:8,every:10,15", 25) == {1, 2, 4, 8, 10, 15, 20, 25}
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
