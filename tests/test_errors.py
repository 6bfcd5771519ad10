"""One error path (issue "Reliability", items 6 and 8): a mistake the user can fix prints one message and exits 2,
never a traceback; Ctrl-C in pretraining says what was kept and how to resume; a rejected pretraining config leaves
no folder behind, and a refused resume names the keys that differ."""

import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import TEST_GRID, make_training_root, subprocess_env

from hf_shrunk.artifacts import STATE_FILE, ArtifactError
from hf_shrunk.config import CONFIG_DIR, run_cli

SLUG = "factorized-e32-h32-i128-a4-l2"


def cli(main, command, argv, capsys):
    code = run_cli(main, command, argv)
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return code, err


def test_root_that_is_a_file_from_the_command_line(tmp_path):
    root = tmp_path / "artifacts"
    root.write_text("oops, a file")
    for argv in (["corpus", "--sources", "fallback"], ["tokenizer"], ["fit"]):
        proc = subprocess.run(
            [sys.executable, "-m", "hf_shrunk", *argv, "--root", str(root)],
            capture_output=True, text=True, env=subprocess_env(), timeout=300,
        )  # fmt: skip
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
        expected = f"--root {root} is a file, not a folder. Pass a folder for the artifacts (--root DIR)."
        assert lines[-1] == f"hf-shrunk {argv[0]}: error: {expected}"


def test_a_300_character_name(tmp_path, capsys):
    from hf_shrunk.corpus import main

    code, err = cli(main, "corpus", ["--root", str(tmp_path), "--sources", "fallback", "--name", "n" * 300], capsys)
    assert code == 2 and "--name 'nnnn" in err and "is 300 characters long; the limit is 100" in err
    assert len(err.splitlines()) == 1


def test_yaml_value_of_the_wrong_type_names_file_and_key(tmp_path, capsys):
    from hf_shrunk.corpus import main

    config = tmp_path / "corpus.yaml"
    for text, expected in [
        ("num_proc: 1.5\n", "num_proc: expected an integer, got 1.5"),
        ("num_proc: many\n", "num_proc: expected an integer, got 'many'"),
        ("dedup: maybe\n", "dedup: expected true or false, got 'maybe'"),
        ("sources: {a: 1}\n", "sources: expected a single value"),
        ("seed: [1, 2]\n", "seed: expected a single value"),
        ("max_docs: 0\n", "--max_docs must be positive, got 0 (max_docs is set in"),
    ]:
        config.write_text(text)
        code, err = cli(main, "corpus", ["--root", str(tmp_path), "--config", str(config)], capsys)
        assert code == 2 and str(config) in err and expected in err, err


def test_a_missing_hub_repo_offline(tmp_path, monkeypatch, capsys):
    from hf_shrunk.glue import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, err = cli(main, "glue", ["owner/missing", "--root", str(tmp_path)], capsys)
    assert code == 2 and err.startswith("hf-shrunk glue: error: cannot load the model owner/missing from the Hub")
    assert "HF_HUB_OFFLINE=1" in err and not list((tmp_path / "glue").iterdir())  # no lock left either


# ---------------------------------------------------------------------------------------------------------
# Pretraining
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def root(tmp_path_factory):

    root = tmp_path_factory.mktemp("errors")
    make_training_root(root, n_train=200, n_eval=32)
    return root


def pretrain_args(root, name, *extra):
    return [
        "--root", str(root), "--grid", str(TEST_GRID), "--size", SLUG, "--name", name,
        "--config", str(CONFIG_DIR / "pretrain_demo.yaml"), "--effective_batch_size", "16",
        "--micro_batch_size", "8", "--max_steps", "2", "--eval_steps", "2", "--save_steps", "2",
        "--eval_max_sequences", "16", "--disable_tqdm", "true", *extra,
    ]  # fmt: skip


def test_ctrl_c_in_pretrain_names_the_last_checkpoint(root, monkeypatch, capsys):
    import hf_shrunk.pretrain.train as train_module
    from hf_shrunk.pretrain import train_main

    def interrupted_after_a_checkpoint(cfg, args, auto_tokenizer):
        run_dir = root / "pretrain" / cfg.name
        for step in (2, 4):
            (run_dir / "checkpoints" / f"checkpoint-{step}").mkdir(parents=True)
        (run_dir / "checkpoints" / "checkpoint-2" / STATE_FILE).write_text(json.dumps({"files": {}}))
        raise KeyboardInterrupt  # checkpoint-4 was being saved: incomplete

    monkeypatch.setattr(train_module, "train", interrupted_after_a_checkpoint)
    code, err = cli(train_main, "python -m hf_shrunk.pretrain", pretrain_args(root, "ctrl-c"), capsys)
    assert code == 130
    assert err.endswith(
        f"interrupted. Kept: {root / 'pretrain' / 'ctrl-c'}, last complete checkpoint checkpoint-2. "
        "Continue from it with the same command plus --resume."
    )

    def interrupted_before_anything(cfg, args, auto_tokenizer):
        run_dir = root / "pretrain" / cfg.name
        run_dir.mkdir()
        (run_dir / "run_config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "train", interrupted_before_anything)
    code, err = cli(train_main, "python -m hf_shrunk.pretrain", pretrain_args(root, "early"), capsys)
    assert code == 130 and err.endswith("nothing was kept; run the same command to start again.")
    assert not (root / "pretrain" / "early").exists() and not (root / "pretrain" / ".early.lock").exists()


@pytest.mark.slow
def test_rejected_pretrain_config_leaves_nothing_behind(root, capsys):
    from hf_shrunk.pretrain import train_main

    # 16 sequences per update do not split into micro-batches of 6: rejected after the run folder was created
    code, err = cli(train_main, "pretrain", pretrain_args(root, "fixme", "--micro_batch_size", "6"), capsys)
    assert code == 2 and "--micro_batch_size 6 does not divide" in err
    assert not (root / "pretrain" / "fixme").exists()
    assert train_main(pretrain_args(root, "fixme")) == 0  # the corrected command, without --resume or --overwrite


def test_refused_resume_names_the_keys_that_differ(tmp_path):
    from hf_shrunk.pretrain import PretrainConfig
    from hf_shrunk.pretrain.train import prepare_run_dir

    old = {"size": "s", "training": {"learning_rate": 5e-4, "seed": 0}, "pretrain": {"dropout": 0.1}}
    new = {"size": "s", "training": {"learning_rate": 1e-3, "seed": 0}, "pretrain": {"dropout": 0.0}}
    run_dir = tmp_path / "run"
    assert prepare_run_dir(run_dir, old, PretrainConfig()) is False
    with pytest.raises(ArtifactError) as error:
        prepare_run_dir(run_dir, new, PretrainConfig(resume=True))
    assert "pretrain.dropout: 0.1 -> 0.0; training.learning_rate: 0.0005 -> 0.001" in str(error.value)


@pytest.mark.slow
def test_disk_full_while_pretraining(root, monkeypatch, capsys):
    import transformers.modeling_utils
    from safetensors import SafetensorError

    from hf_shrunk.pretrain import train_main

    def full(*args, **kwargs):
        raise SafetensorError(
            'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'
        )

    monkeypatch.setattr(transformers.modeling_utils, "safe_save_file", full)
    code, err = cli(train_main, "pretrain", pretrain_args(root, "full-disk"), capsys)
    run_dir = root / "pretrain" / "full-disk"
    assert code == 2 and f"no space left on the device while writing {run_dir} (" in err and " free there)" in err
    assert err.splitlines()[-1].endswith("then continue with the same command plus --resume.")


@pytest.mark.slow
def test_sigint_during_pretraining(root):
    cmd = [sys.executable, "-m", "hf_shrunk.pretrain", *pretrain_args(root, "sigint")]
    cmd[cmd.index("--max_steps") + 1] = "400"
    # A background job of a non-interactive shell (how CI may run us) inherits SIGINT ignored; a user's terminal does
    # not: give the child the terminal's default disposition so that Python turns the signal into KeyboardInterrupt.
    proc = subprocess.Popen(
        cmd, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    state = root / "pretrain" / "sigint" / "checkpoints" / "checkpoint-2" / STATE_FILE
    deadline = time.time() + 300
    while not state.is_file():
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read()[-3000:]
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-3000:]
    assert "Continue from it with the same command plus --resume." in err.strip().splitlines()[-1]
    assert "last complete checkpoint checkpoint-" in err


def test_pretrain_overwrite_beside_a_live_run_of_the_same_name_is_refused(root, capsys):
    """Another process holds the run's lock (a live `hf-shrunk pretrain` of that name): --overwrite must not delete
    or retrain under it; the message names the holder."""
    from hf_shrunk.pretrain import train_main

    folder = root / "pretrain" / "busy"
    script = (
        "import time\nfrom hf_shrunk.artifacts import artifact_lock\n"
        f"with artifact_lock({str(folder)!r}):\n    print('held', flush=True)\n    time.sleep(600)"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        assert holder.stdout.readline().strip() == "held"
        (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
        (folder / "checkpoints" / "keep.txt").write_text("the live run's file")
        code, err = cli(train_main, "pretrain", pretrain_args(root, "busy", "--overwrite"), capsys)
        assert code == 2 and f"process {holder.pid}" in err
        assert (folder / "checkpoints" / "keep.txt").read_text() == "the live run's file"
    finally:
        holder.kill()
        holder.wait()
