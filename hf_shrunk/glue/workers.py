"""Several GLUE fine-tunes at once on a CPU (``hf-shrunk glue --num_workers N``).

The models are small, so one fine-tune does not keep two cores busy: measured on the 2-core development machine
(demo size factorized-e64-h128-i256-a4-l2, SST-2, 2,000 examples, 2 epochs), two fine-tunes took 4.7 + 3.8 s one
after the other with 2 threads and 5.1 s side by side with one thread each, with identical scores. Each worker is a
``python -m hf_shrunk.glue`` process with one thread that scores every N-th job into the usual per-job result files;
the parent holds the results folder's lock, waits, then reads the results back and writes the summary.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from hf_shrunk.config import UserError, to_dict


def worker_share(jobs: list, worker: str) -> list:
    """The jobs of worker ``"i/n"``: every n-th job starting at i."""
    index, _, count = worker.partition("/")
    return jobs[int(index) :: int(count)]


def run_in_workers(cfg: Any, folder: Path) -> None:
    """Score ``cfg``'s jobs in ``cfg.num_workers`` worker processes writing into ``folder``; raises
    :class:`UserError` with a worker's last lines if one fails (finished jobs stay stored: a re-run continues)."""
    config = to_dict(cfg, exclude=("config", "overwrite", "num_workers", "worker", "num_threads"))
    config |= {"name": folder.name, "root": str(folder.parent.parent), "num_threads": 1}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "glue.yaml"
        path.write_text(yaml.safe_dump(config))
        logs = [open(Path(tmp) / f"worker{i}.log", "w+") for i in range(cfg.num_workers)]  # noqa: SIM115
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "hf_shrunk.glue", "--config", str(path), "--worker", f"{i}/{cfg.num_workers}"],
                stderr=log,
                text=True,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )  # fmt: skip
            for i, log in enumerate(logs)
        ]
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
