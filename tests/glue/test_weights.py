"""Which weights GLUE fine-tunes (docs/paper.md#glue-protocol): a run's best or final checkpoint, and a random-init
baseline that starts from the run's own step-0 weights (issue "Trustworthy results", items 2 and 3)."""

import json
import shutil

import pytest
import torch
from conftest import TEST_GRID, make_training_root
from safetensors.torch import load_file

from hf_shrunk.config import CONFIG_DIR, UserError
from hf_shrunk.glue.run import _stored_result, resolve_model
from hf_shrunk.glue.weights import resolve_baseline, weights_for

SLUG = "factorized-e32-h32-i128-a4-l2"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from hf_shrunk.pretrain import train_main as pretrain_main

    root = tmp_path_factory.mktemp("weights")
    make_training_root(root, n_train=400, n_eval=40)
    args = ["--root", str(root), "--grid", str(TEST_GRID), "--size", SLUG,
            "--config", str(CONFIG_DIR / "pretrain_demo.yaml"), "--effective_batch_size", "16", "--max_steps", "6",
            "--eval_steps", "3", "--save_steps", "3", "--eval_max_sequences", "32",
            "--disable_tqdm", "true"]  # fmt: skip
    assert pretrain_main(args) == 0
    return root, root / "pretrain" / SLUG


def _encoder_of(location, revision=None):
    """The weights a fine-tuning run starts from (classification head aside), as GLUE loads them."""
    from transformers import AutoModelForSequenceClassification

    from hf_shrunk.models import register_auto_classes

    register_auto_classes()
    model = AutoModelForSequenceClassification.from_pretrained(location, revision=revision, num_labels=2)
    return {k: v for k, v in model.state_dict().items() if k.startswith("roberta.")}


def _assert_same(encoder, weights_file):
    saved = {k: v for k, v in load_file(weights_file).items() if k.startswith("roberta.")}
    assert saved.keys() == encoder.keys()
    assert all(torch.equal(encoder[k], saved[k]) for k in saved)


def test_baseline_starts_from_the_runs_step0_weights(trained):
    root, run = trained
    ref = resolve_model(SLUG, root=str(root))
    ref.baseline = resolve_baseline(ref, str(root))
    assert ref.baseline.init == "step0" and ref.baseline.note is None
    baseline = _encoder_of(*weights_for(ref, "random-init"))
    _assert_same(baseline, run / "snapshots" / "step0" / "model.safetensors")
    pretrained = _encoder_of(*weights_for(ref, "pretrained"))
    assert not all(torch.equal(baseline[k], pretrained[k]) for k in baseline)  # only pre-training differs


def test_baseline_without_step0_is_rebuilt_from_the_recorded_init(trained, tmp_path):
    """A model folder outside its run: the initialisation recorded in config.json (the demo profile's 'hf', seed 0)
    is rebuilt, gives the very same weights as step 0, and the results say it was rebuilt."""
    root, run = trained
    folder = tmp_path / "copy"
    shutil.copytree(run / "model", folder)
    ref = resolve_model(str(folder), root=str(root))
    baseline = resolve_baseline(ref, str(root))
    assert baseline.init == "rebuilt:hf" and "rebuilt" in baseline.note and "config.json" in baseline.note
    ref.baseline = baseline
    _assert_same(_encoder_of(*weights_for(ref, "random-init")), run / "snapshots" / "step0" / "model.safetensors")
    # nothing recorded at all: transformers' initialisation, and the note says so
    config = json.loads((folder / "config.json").read_text())
    del config["shrunk_init"]
    (folder / "config.json").write_text(json.dumps(config))
    assert "nothing recorded" in resolve_baseline(resolve_model(str(folder), root=str(root)), str(root)).note


def test_checkpoint_choice(trained):
    """--checkpoint best (default, the paper's) is what model/ holds; final is the last snapshot, scored apart."""
    root, run = trained
    metrics = json.loads((run / "metrics.json").read_text())
    best = resolve_model(SLUG, root=str(root))
    assert (best.checkpoint, best.name, best.location) == ("best", SLUG, str(run / "model"))
    assert best.perplexity == metrics["best"]["perplexity"] == metrics["perplexity"]
    final = resolve_model(SLUG, root=str(root), checkpoint="final")
    step = metrics["final"]["step"]
    assert (final.name, final.location) == (f"{SLUG}@final", str(run / "snapshots" / f"step{step}"))
    assert final.perplexity == metrics["final"]["perplexity"]


def test_results_from_other_weights_are_not_reused(tmp_path):
    path = tmp_path / "seed0.json"
    path.write_text(json.dumps({"hyperparameters": {"lr": 1}}))  # scored before baseline_init was recorded
    with pytest.raises(UserError, match="from other weights"):
        _stored_result(path, {"lr": 1}, {"checkpoint": "best", "baseline_init": "step0"})
    path.write_text(json.dumps({"hyperparameters": {"lr": 1}, "checkpoint": "best", "baseline_init": "step0"}))
    assert _stored_result(path, {"lr": 1}, {"checkpoint": "best", "baseline_init": "step0"})["checkpoint"] == "best"


@pytest.mark.hub
def test_hub_baseline_is_the_step0_revision(trained, fakehub):
    root, run = trained
    with_step0, without = f"{fakehub.org}/shrunk-with-step0", f"{fakehub.org}/shrunk-without-step0"
    for repo in (with_step0, without):
        fakehub.api.create_repo(repo)
        fakehub.api.upload_folder(repo_id=repo, folder_path=str(run / "model"))
    fakehub.api.create_branch(with_step0, branch="step0")
    fakehub.api.upload_folder(repo_id=with_step0, folder_path=str(run / "snapshots" / "step0"), revision="step0")
    ref = resolve_model(with_step0, root=str(root))
    ref.baseline = resolve_baseline(ref, str(root))
    assert (ref.baseline.init, ref.baseline.revision) == ("step0", "step0")
    _assert_same(_encoder_of(*weights_for(ref, "random-init")), run / "snapshots" / "step0" / "model.safetensors")
    ref = resolve_model(without, root=str(root))
    ref.baseline = resolve_baseline(ref, str(root))
    assert ref.baseline.init == "rebuilt:hf" and "no step0 revision" in ref.baseline.note
    _assert_same(_encoder_of(*weights_for(ref, "random-init")), run / "snapshots" / "step0" / "model.safetensors")
