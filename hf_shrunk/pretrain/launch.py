"""``hf-shrunk pretrain``: run ``accelerate launch -m hf_shrunk.pretrain ...`` with a config shipped in the package.

Typing ``accelerate launch -m hf_shrunk.pretrain ...`` yourself does the same training; this wrapper picks the
accelerate config (cpu, cpu_ddp, single_gpu, multi_gpu, fsdp, multi_node or a path), the number of processes and —
on CPU — threads per process (``accelerate launch`` would set 1), forwards every ``accelerate launch`` option that
the training itself does not own (``--num_machines``, ``--machine_rank``, ``--main_process_ip``, ...;
``--mixed_precision`` is refused: ``--precision`` owns it), preloads tcmalloc or jemalloc when installed (glibc's
allocator returns and re-faults memory every step), and ends with the training's own exit code and message, without
accelerate's traceback.
"""

import os
import subprocess
import sys
import tempfile
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
  any `accelerate launch` option  forwarded to it (--num_machines, --machine_rank, --main_process_ip,
                                  --main_process_port, --dynamo_backend, --gpu_ids, ...); not --mixed_precision:
                                  --precision auto|bf16|fp32 sets it
  HF_SHRUNK_ALLOCATOR=PATH|none   allocator library to preload (default: tcmalloc or jemalloc if installed;
                                  Debian/Ubuntu: apt-get install libtcmalloc-minimal4)

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


NOT_FORWARDED = {"config_file", "module", "no_python", "help", "num_processes"}
# accelerate options the training sets itself, refused with the flag to use instead.
LAUNCHER_OWNED = {"--mixed_precision": "use --precision auto|bf16|fp32: one precision flag for every stage"}
# Where an allocator that keeps freed memory for reuse usually lives (Debian/Ubuntu and RHEL-style paths).
ALLOCATORS = (
    "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib64/libtcmalloc_minimal.so.4",
    "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
    "/usr/lib64/libjemalloc.so.2",
)
EXIT_FILE_ENV = "HF_SHRUNK_EXIT_FILE"  # the training writes its error message here (config.run_cli)


def split_accelerate_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``argv`` split into (options for ``accelerate launch``, options for the training): an option goes to
    accelerate when ``accelerate launch`` has it and neither PretrainConfig nor TrainingArguments does."""
    import dataclasses

    from accelerate.commands.launch import launch_command_parser
    from transformers import TrainingArguments

    ours = {f.name for dc in (PretrainConfig, TrainingArguments) for f in dataclasses.fields(dc)}
    takes_value = {}
    for action in launch_command_parser()._actions:
        for option in action.option_strings:
            name = option.lstrip("-").replace("-", "_")
            if option.startswith("--") and name not in ours and name not in NOT_FORWARDED:
                takes_value[option] = action.nargs != 0
    accelerate, training, i = [], [], 0
    while i < len(argv):
        option = argv[i].split("=", 1)[0]
        if option in takes_value:
            inline = "=" in argv[i]
            count = 1 if inline or not takes_value[option] else 2
            accelerate += argv[i : i + count]
            i += count
        else:
            training.append(argv[i])
            i += 1
    return accelerate, training


def allocator_library() -> str | None:
    """The allocator to preload: ``$HF_SHRUNK_ALLOCATOR`` ('none' disables), else the first installed one."""
    choice = os.environ.get("HF_SHRUNK_ALLOCATOR")
    if choice:
        return None if choice.lower() == "none" else choice
    return next((path for path in ALLOCATORS if Path(path).is_file()), None)


def with_allocator(env: dict[str, str]) -> dict[str, str]:
    """``env`` with :func:`allocator_library` (if any) preloaded ahead of whatever ``LD_PRELOAD`` holds."""
    allocator = allocator_library()
    if allocator:
        env = {**env, "LD_PRELOAD": " ".join(filter(None, [allocator, env.get("LD_PRELOAD")]))}
    return env


def launch_command(argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The ``accelerate launch`` command line and environment for ``hf-shrunk pretrain argv``."""
    rest = list(argv)
    config_name = _pop_option(rest, "--accelerate_config", "--accelerate-config")
    num_processes = _pop_option(rest, "--num_processes", "--num-processes")
    forwarded, rest = split_accelerate_args(rest)
    for option, hint in LAUNCHER_OWNED.items():
        if any(arg.split("=", 1)[0] == option for arg in forwarded):
            raise ConfigError(f"{option} is set by this command: {hint}")
    gpus = gpu_count()
    config = resolve_accelerate_config(config_name, gpus)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config), *forwarded]
    if num_processes is None and gpus > 1 and config.stem in ("multi_gpu", "fsdp"):
        num_processes = str(gpus)
    if num_processes is not None:
        cmd += ["--num_processes", num_processes]
    env = dict(os.environ)
    if gpus == 0 and "--num_cpu_threads_per_process" not in forwarded:
        import yaml

        procs = int(num_processes or yaml.safe_load(config.read_text()).get("num_processes", 1))
        threads = max(1, (os.cpu_count() or 1) // procs)
        cmd += ["--num_cpu_threads_per_process", str(threads)]
        env["HF_SHRUNK_NUM_PROCESSES"] = str(procs)
    cmd += ["-m", "hf_shrunk.pretrain", *rest]
    return cmd, with_allocator(env)


def _run_quietly(cmd: list[str], env: dict[str, str]) -> int:
    """Run the launch, forwarding its output as it comes. Once the training has failed with a message of its own
    (it writes the exit file just before exiting), what follows is accelerate's report of a failed subprocess:
    it is dropped, the training's message is repeated last and its exit code returned."""
    with tempfile.TemporaryDirectory() as tmp:
        exit_file = Path(tmp) / "exit"
        proc = subprocess.Popen(cmd, env={**env, EXIT_FILE_ENV: str(exit_file)}, stderr=subprocess.PIPE)
        shown = b""
        try:
            while chunk := os.read(proc.stderr.fileno(), 65536):
                if not exit_file.is_file():
                    sys.stderr.buffer.write(chunk)
                    sys.stderr.flush()
                    shown = (shown + chunk)[-4096:]
            code = proc.wait()
        except KeyboardInterrupt:
            # accelerate forwards Ctrl-C to the workers; wait for them so the last checkpoint is left intact.
            code = proc.wait()
        if code != 0 and exit_file.is_file():
            child_code, _, message = exit_file.read_text().partition("\n")
            if message.encode() not in shown:  # not shown yet (it came in the same chunk as accelerate's report)
                print(("\n" if shown and not shown.endswith(b"\n") else "") + message, file=sys.stderr)
            return int(child_code)
        return code


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
    return _run_quietly(cmd, env)
