"""``hf-shrunk pretrain``: run ``accelerate launch -m hf_shrunk.pretrain ...`` with a config shipped in the package.

Typing ``accelerate launch -m hf_shrunk.pretrain ...`` yourself does the same training; this wrapper only picks
the accelerate config (cpu, cpu_ddp, single_gpu, multi_gpu, fsdp, multi_node or a path), the number of
processes and — on CPU — threads per process, which ``accelerate launch`` would otherwise set to 1.
"""

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from hf_shrunk.config import CONFIG_DIR, ConfigError, build_parser
from hf_shrunk.pretrain.config import PretrainConfig

ACCELERATE_DIR = CONFIG_DIR / "accelerate"
LAUNCHER_HELP = """
launcher options (hf-shrunk pretrain only):
  --accelerate_config NAME|PATH   cpu, cpu_ddp, single_gpu, multi_gpu, fsdp, multi_node or a YAML file
                                  (default: auto = multi_gpu with several GPUs, single_gpu with one, else cpu)
  --num_processes N               processes to launch (default: the config's; GPUs for multi_gpu/fsdp)

Every transformers.TrainingArguments flag is accepted as well (e.g. --learning_rate, --max_steps,
--per_device_eval_batch_size, --torch_compile, --dataloader_num_workers); the paper's values are the defaults
(hf_shrunk/configs/pretrain_paper.yaml). `python -m hf_shrunk.pretrain --help` lists all of them.
"""


def _pop_option(argv: list[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                value = argv[i + 1]
                del argv[i : i + 2]
                return value
            if arg.startswith(name + "="):
                del argv[i]
                return arg.split("=", 1)[1]
    return None


def gpu_count() -> int:
    """GPUs visible to this machine, without importing torch (nvidia-smi), falling back to torch."""
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in out.stdout.splitlines()) if out.returncode == 0 else 0


def resolve_accelerate_config(name: str | None, gpus: int) -> Path:
    if not name or name == "auto":
        name = "multi_gpu" if gpus > 1 else "single_gpu" if gpus == 1 else "cpu"
    packaged = ACCELERATE_DIR / f"{name}.yaml"
    if packaged.is_file():
        return packaged
    path = Path(name).expanduser()
    if path.is_file():
        return path
    available = ", ".join(sorted(p.stem for p in ACCELERATE_DIR.glob("*.yaml")))
    raise ConfigError(f"--accelerate_config {name!r} is neither a packaged config ({available}) nor a file")


def launch_command(argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The ``accelerate launch`` command line and environment for ``hf-shrunk pretrain argv``."""
    rest = list(argv)
    config_name = _pop_option(rest, "--accelerate_config", "--accelerate-config")
    num_processes = _pop_option(rest, "--num_processes", "--num-processes")
    gpus = gpu_count()
    config = resolve_accelerate_config(config_name, gpus)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config)]
    if num_processes is None and gpus > 1 and config.stem in ("multi_gpu", "fsdp"):
        num_processes = str(gpus)
    if num_processes is not None:
        cmd += ["--num_processes", num_processes]
    env = dict(os.environ)
    if gpus == 0:
        import yaml

        procs = int(num_processes or yaml.safe_load(config.read_text()).get("num_processes", 1))
        threads = max(1, (os.cpu_count() or 1) // procs)
        cmd += ["--num_cpu_threads_per_process", str(threads)]
        env["HF_SHRUNK_NUM_PROCESSES"] = str(procs)
    cmd += ["-m", "hf_shrunk.pretrain", *rest]
    return cmd, env


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        parser = build_parser(
            [PretrainConfig],
            prog=prog or "hf-shrunk pretrain",
            description="Pretrain one grid size (masked LM, the paper's recipe by default) with transformers.Trainer "
            "under `accelerate launch`. Resumable (--resume), checkpoints record tokens and FLOPs.",
        )
        print(parser.format_help() + LAUNCHER_HELP)
        return 0
    cmd, env = launch_command(argv)
    print("+ " + " ".join(cmd[1:]), file=sys.stderr)
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # accelerate forwards Ctrl-C to the workers; wait for them so the last checkpoint is left intact.
        return proc.wait()
