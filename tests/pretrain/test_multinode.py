"""The `multi_node` accelerate config as two machines on 127.0.0.1 (gloo, CPU, a tiny size), launched the way a
cluster script does it: the same `hf-shrunk pretrain` command on every machine, each with its `--machine_rank`, the
address and port of machine 0, over a shared artifact root. It must match one process with 2 accumulation steps."""

import json
import socket
import subprocess
import sys

import pytest
from conftest import TEST_GRID, make_training_root, subprocess_env

from hf_shrunk.config import CONFIG_DIR
from hf_shrunk.pretrain import train_main

pytestmark = pytest.mark.slow
SLUG = "factorized-e32-h32-i128-a4-l2"


def _args(root, name):
    return [
        "--root", str(root), "--grid", str(TEST_GRID), "--size", SLUG, "--name", name,
        "--config", str(CONFIG_DIR / "pretrain_demo.yaml"), "--effective_batch_size", "16", "--micro_batch_size", "8",
        "--max_steps", "8", "--eval_steps", "4", "--save_steps", "4", "--eval_max_sequences", "64",
        "--logging_steps", "2", "--disable_tqdm", "true", "--precision", "fp32", "--dropout", "0",
    ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_machines_match_one_process(tmp_path):
    root = tmp_path / "shared"
    make_training_root(root, n_train=1200, n_eval=160)
    port = str(_free_port())
    machines = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hf_shrunk",
                "pretrain",
                "--accelerate_config",
                "multi_node",
                "--num_machines",
                "2",
                "--num_processes",
                "2",
                "--machine_rank",
                str(rank),
                "--main_process_ip",
                "127.0.0.1",
                "--main_process_port",
                port,
                *_args(root, "two-machines"),
            ],
            env=subprocess_env(HF_SHRUNK_ALLOCATOR="none"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for rank in (0, 1)
    ]
    outputs = [m.communicate(timeout=600) for m in machines]
    for machine, (out, err) in zip(machines, outputs, strict=True):
        assert machine.returncode == 0, out[-2000:] + err[-4000:]
    assert "2 x 1 accumulation" in outputs[0][0]
    assert train_main(_args(root, "one-process")) == 0
    two = json.loads((root / "pretrain" / "two-machines" / "metrics.json").read_text())
    one = json.loads((root / "pretrain" / "one-process" / "metrics.json").read_text())
    for key, field in (("eval_history", "eval_loss"), ("train_history", "loss")):
        a, b = [h[field] for h in two[key]], [h[field] for h in one[key]]
        assert len(a) == len(b) > 1
        assert a == pytest.approx(b, rel=1e-4), key
