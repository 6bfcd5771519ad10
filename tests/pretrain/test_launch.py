"""`hf-shrunk pretrain` (the launcher): accelerate's own options are forwarded, an allocator is preloaded when
present, and a failed training ends with its own message and exit code, not accelerate's traceback."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import subprocess_env

from hf_shrunk.config import ConfigError
from hf_shrunk.pretrain.launch import allocator_library, launch_command, split_accelerate_args


def test_accelerate_options_are_forwarded_and_training_options_are_kept():
    argv = [
        "--size", "magic-bee-26", "--machine_rank", "1", "--num_machines=2", "--main_process_ip", "127.0.0.1",
        "--main_process_port", "29511", "--dynamo_backend", "no", "--learning_rate", "1e-3", "--seed", "3",
        "--same_network", "--debug", "underflow_overflow",
    ]  # fmt: skip
    accelerate, training = split_accelerate_args(argv)
    assert accelerate == [
        "--machine_rank", "1", "--num_machines=2", "--main_process_ip", "127.0.0.1", "--main_process_port", "29511",
        "--dynamo_backend", "no", "--same_network",
    ]  # fmt: skip
    # --debug is a TrainingArguments field as well: the training owns it
    assert training == [
        "--size",
        "magic-bee-26",
        "--learning_rate",
        "1e-3",
        "--seed",
        "3",
        "--debug",
        "underflow_overflow",
    ]


def test_launch_command_puts_forwarded_options_before_the_module(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_SHRUNK_ALLOCATOR", str(tmp_path / "libtcmalloc_minimal.so.4"))
    cmd, env = launch_command(["--accelerate_config", "multi_node", "--machine_rank", "1", "--size", "x"])
    module = cmd.index("-m", 2)
    assert cmd[module + 1] == "hf_shrunk.pretrain" and cmd[module + 2 :] == ["--size", "x"]
    assert cmd[cmd.index("--machine_rank") + 1] == "1" and cmd.index("--machine_rank") < module
    assert Path(cmd[cmd.index("--config_file") + 1]).name == "multi_node.yaml"
    assert env["LD_PRELOAD"].startswith(str(tmp_path / "libtcmalloc_minimal.so.4"))


def test_accelerate_precision_is_refused_for_the_precision_flag():
    with pytest.raises(ConfigError, match="--mixed_precision is set by this command: use --precision"):
        launch_command(["--size", "x", "--mixed_precision=bf16"])


def test_allocator_choice(monkeypatch):
    monkeypatch.setenv("HF_SHRUNK_ALLOCATOR", "none")
    assert allocator_library() is None
    monkeypatch.setenv("HF_SHRUNK_ALLOCATOR", "/opt/lib/libjemalloc.so.2")
    assert allocator_library() == "/opt/lib/libjemalloc.so.2"


@pytest.mark.slow
def test_a_failed_training_ends_with_its_message_and_exit_code(tmp_path):
    exe = Path(sys.executable).with_name("hf-shrunk")
    proc = subprocess.run(
        [str(exe), "pretrain", "--root", str(tmp_path), "--size", "no-such-size", "--max_steps", "2"],
        capture_output=True, text=True, timeout=300, env=subprocess_env(HF_SHRUNK_ALLOCATOR="none"),
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "no size 'no-such-size'" in proc.stderr
    assert "Traceback" not in proc.stderr and "CalledProcessError" not in proc.stderr, proc.stderr[-3000:]
