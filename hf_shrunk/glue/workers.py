"""Several GLUE fine-tunes at once on a CPU (``hf-shrunk glue --num_workers N``, and the demo's lanes).

The models are small, so one fine-tune does not keep two cores busy: measured on the 2-core development machine
(demo size factorized-e64-h128-i256-a4-l2, SST-2, 2,000 examples, 2 epochs), two fine-tunes took 4.7 + 3.8 s one
after the other with 2 threads and 5.1 s side by side with one thread each, with identical scores. Each worker is a
``python -m hf_shrunk.glue --worker`` process with one thread. Workers take jobs by claiming them: a claim is a file
beside the job's result holding the worker's process id, created only if absent, so workers started at any time
share whatever is left (a claim whose process is gone is taken over). A worker exits when every job is stored or
claimed; the parent then reads the results back and writes the summary.
"""

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from hf_shrunk.config import UserError, to_dict

CLAIM_SUFFIX = ".claim"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _take(claim: Path) -> bool:
    try:
        fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    return True


@contextlib.contextmanager
def claimed(result: Path) -> Iterator[bool]:
    """Claim the job whose result file is ``result`` for this process: yields False if a live worker holds it or it
    was finished meanwhile; the claim is released when the block ends."""
    claim = result.with_name(result.name + CLAIM_SUFFIX)
    claim.parent.mkdir(parents=True, exist_ok=True)
    taken = _take(claim)
    if not taken:
        try:
            holder = int(claim.read_text())
        except (OSError, ValueError):
            holder = None  # released, or being written this instant: leave it
        if holder is not None and not _alive(holder):  # left by a worker that died: take it over
            claim.unlink(missing_ok=True)
            taken = _take(claim)
    try:
        yield taken and not result.is_file()
    finally:
        if taken:
            claim.unlink(missing_ok=True)


def worker_command(cfg: Any, folder: Path, config_file: Path) -> tuple[list[str], dict[str, str]]:
    """The command (and environment) of one one-thread GLUE worker scoring ``cfg``'s jobs into ``folder``; the
    worker's settings are written to ``config_file``."""
    config = to_dict(cfg, exclude=("config", "overwrite", "num_workers", "worker", "num_threads"))
    config |= {"name": folder.name, "root": str(folder.parent.parent), "num_threads": 1}
    config_file.write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "hf_shrunk.glue", "--config", str(config_file), "--worker"]
    return cmd, {**os.environ, "OMP_NUM_THREADS": "1"}


def run_in_workers(cfg: Any, folder: Path) -> None:
    """Score ``cfg``'s jobs in ``cfg.num_workers`` worker processes writing into ``folder``; raises
    :class:`UserError` with a worker's last lines if one fails (finished jobs stay stored: a re-run continues)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd, env = worker_command(cfg, folder, Path(tmp) / "glue.yaml")
        logs = [open(Path(tmp) / f"worker{i}.log", "w+") for i in range(cfg.num_workers)]  # noqa: SIM115
        workers = [subprocess.Popen(cmd, stderr=log, text=True, env=env) for log in logs]
        try:
            codes = [w.wait() for w in workers]
        finally:
            for w in workers:
                if w.poll() is None:
                    w.kill()
        for code, log in zip(codes, logs, strict=True):
            log.seek(0)
            tail = "\n".join(log.read().strip().splitlines()[-5:])
            log.close()
            if code:
                raise UserError(f"a GLUE worker failed (exit {code}); its last lines:\n{tail}")
