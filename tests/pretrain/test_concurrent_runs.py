"""Several grid runs sharing one device (RUNS_PER_GPU in scripts/reproduce_paper.sh) are independent processes:
two tiny runs started at once, sharing the artifact root and its tokenized cache, end with the same weights as a
run that trained alone."""

import subprocess
import sys

import pytest
from conftest import TEST_GRID, make_training_root, subprocess_env

from hf_shrunk.config import CONFIG_DIR

pytestmark = pytest.mark.slow
SLUG = "factorized-e32-h32-i128-a4-l2"


def _command(root, name):
    return [
        sys.executable, "-m", "hf_shrunk.pretrain", "--root", str(root), "--grid", str(TEST_GRID), "--size", SLUG,
        "--name", name, "--config", str(CONFIG_DIR / "pretrain_demo.yaml"), "--effective_batch_size", "16",
        "--micro_batch_size", "8", "--max_steps", "6", "--eval_steps", "3", "--save_steps", "3",
        "--eval_max_sequences", "64", "--disable_tqdm", "true", "--num_threads", "1",
    ]  # fmt: skip


def test_two_runs_at_once_match_a_run_alone(tmp_path):
    root = tmp_path / "root"
    make_training_root(root, n_train=600, n_eval=80)
    together = [subprocess.Popen(_command(root, name), env=subprocess_env(), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for name in ("first", "second")]  # fmt: skip
    for proc in together:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-2000:] + err[-3000:]
    alone = subprocess.run(_command(root, "alone"), env=subprocess_env(), capture_output=True, text=True, timeout=600)
    assert alone.returncode == 0, alone.stderr[-3000:]
    weights = [(root / "pretrain" / name / "model" / "model.safetensors").read_bytes() for name in
               ("first", "second", "alone")]  # fmt: skip
    assert weights[0] == weights[1] == weights[2]
