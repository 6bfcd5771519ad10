"""The run folder while a pretraining run writes it (:func:`guarded_run`, around the whole training process).

* The artifact lock (:func:`hf_shrunk.artifacts.artifact_lock`), held by the main process: a second run of the
  same name is refused with a message naming the first.
* A run that fails or is rejected before it has kept anything (the folder holds only the ``run_config.json`` this
  process wrote) leaves nothing behind, so the corrected command does not meet "an unfinished run".
* A full disk is a message naming the folder and the free space; Ctrl-C says which checkpoint was kept and that
  ``--resume`` continues from it.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from hf_shrunk.artifacts import artifact_lock, writing
from hf_shrunk.config import Interrupted

RUN_CONFIG = "run_config.json"


@contextlib.contextmanager
def guarded_run(run_dir: Path, main_process: bool = True) -> Iterator[None]:
    """Lock ``run_dir`` (main process), and on the way out of a failure remove what this process created but never
    used; turn a full disk and Ctrl-C into messages that say what was kept and how to resume."""
    started = time.time()
    with (
        artifact_lock(run_dir, enabled=main_process),
        writing(run_dir, "continue with the same command plus --resume"),
    ):
        try:
            yield
        except BaseException as e:
            removed = main_process and remove_unused_run_dir(run_dir, started)
            if isinstance(e, KeyboardInterrupt) and not isinstance(e, Interrupted):
                raise Interrupted(interrupt_note(run_dir, removed)) from None
            raise


def remove_unused_run_dir(run_dir: Path, since: float) -> bool:
    """Remove ``run_dir`` if it holds nothing but a ``run_config.json`` written after ``since`` (and empty
    folders): a run that stopped before keeping anything. Returns whether it did."""
    key_file = run_dir / RUN_CONFIG
    try:
        if not key_file.is_file() or key_file.stat().st_mtime < since - 1:
            return False
        if any(p.is_file() and p != key_file for p in run_dir.rglob("*")):
            return False
    except OSError:
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    print(f"removed {run_dir}: the run stopped before it kept anything", file=sys.stderr)
    return True


def interrupt_note(run_dir: Path, removed: bool = False) -> str:
    """What Ctrl-C kept of the run in ``run_dir`` and the command that continues it."""
    if removed:
        return "No checkpoint had been written, so nothing was kept; run the same command to start again."
    from hf_shrunk.pretrain.trainer import find_resume_checkpoint

    try:
        last, _ = find_resume_checkpoint(run_dir / "checkpoints")
    except Exception:  # a corrupt checkpoint: --resume will say which
        last = None
    if last is None:
        return (
            f"{run_dir} has no complete checkpoint yet. Run the same command plus --resume to start it again "
            "(or --overwrite to discard it)."
        )
    return (
        f"Kept: {run_dir}, last complete checkpoint {last.name}. Continue from it with the same command plus --resume."
    )
