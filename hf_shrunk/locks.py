"""Writing artifacts safely: the per-artifact lock, staging folders left by killed processes, a full disk.

* :func:`artifact_lock`: while a stage writes ``<root>/<stage>/<name>``, the file ``<root>/<stage>/.<name>.lock``
  holds the writer's PID, host and start time (and an exclusive ``flock`` on it, which the kernel drops when the
  process dies). A second writer of the same artifact is refused with a message naming the holder; the lock of a
  process that died on this host is taken over with a notice. A lock held from another host is never taken over:
  the message says to delete the file once that process is gone.
* :func:`remove_dead_leftovers`: staging folders carry their owner (``.<name>.staging-<pid>@<host>``), so the next
  run of the stage removes those whose process is gone.
* :func:`writing`: "no space left on device" (OSError errno 28, safetensors' ``SafetensorError``, torch's writer)
  becomes a :class:`WriteError` naming the folder and the space left there.

:mod:`hf_shrunk.artifacts` re-exports what stages use; this module imports nothing of hf_shrunk but the config.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import re
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from hf_shrunk.config import UserError

_LEFTOVER_RE = re.compile(r"^\.?(.+)\.(staging|old|tmp)-(\d+)@(.+)$")  # see owned_name


class WriteError(UserError, RuntimeError):
    """An artifact cannot be written now: another process writes it, or the disk is full."""


def _disk_full(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) says the disk is full: OSError ENOSPC/EDQUOT, or the text of the
    errors that safetensors, pyarrow and torch raise instead."""
    for _ in range(8):
        if error is None:
            return False
        text = str(error)
        if getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or any(
            sign in text for sign in ("No space left", "os error 28", "StorageFull", "Disk quota", "file write failed")
        ):
            return True
        error = error.__cause__ or error.__context__
    return False


def free_space(path: str | os.PathLike) -> str:
    """Free space on the disk holding ``path`` (or its nearest existing parent), for people: ``"1.2 GB"``."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return "unknown"
    return f"{free / 1e9:.1f} GB" if free >= 1e8 else f"{free / 1e6:.1f} MB"


@contextlib.contextmanager
def writing(folder: str | os.PathLike, then: str = "run the same command again") -> Iterator[None]:
    """Turn a full disk while the block writes ``folder`` (OSError errno 28, safetensors' ``SafetensorError``, ...)
    into an :class:`WriteError` that names the folder and the space left there; other errors pass unchanged."""
    try:
        yield
    except WriteError:
        raise
    except Exception as e:
        if not _disk_full(e):
            raise
        raise WriteError(
            f"no space left on the device while writing {folder} ({free_space(folder)} free there). "
            f"Free some space or choose another --root, then {then}."
        ) from e


def _host() -> str:
    return socket.gethostname() or "localhost"


def owned_name(final: Path, kind: str) -> Path:
    """A hidden sibling of ``final`` named after this process and host, e.g. ``.name.staging-123@host``."""
    return final.parent / f".{final.name}.{kind}-{os.getpid()}@{_host()}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (a process of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_dead_leftovers(parent: str | os.PathLike) -> list[Path]:
    """Remove the staging folders under ``parent`` that processes of this host left behind when they were killed
    (the process is gone), with a notice. An ``.old`` folder (a previous artifact moved aside for the swap) goes
    back into place if the swap did not finish."""
    parent, handled = Path(parent), []
    for path in sorted(parent.iterdir()) if parent.is_dir() else []:
        match = _LEFTOVER_RE.match(path.name)
        if not match or match[4] != _host() or int(match[3]) == os.getpid() or pid_alive(int(match[3])):
            continue
        final = parent / match[1]
        if match[2] == "old" and not final.exists():
            os.replace(path, final)
            print(f"notice: restored {final} from {path.name}, left by process {match[3]} (gone)", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            print(f"notice: removed {path}, left by process {match[3]} which is gone", file=sys.stderr)
        handled.append(path)
    return handled


def _read_holder(fd: int) -> dict | None:
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, 4096)
    try:
        holder = json.loads(data)
    except ValueError:
        return {"pid": "?", "host": "?", "started": "?"} if data.strip() else None
    return holder if isinstance(holder, dict) else None


def _flock(fd: int) -> bool | None:
    """Take the exclusive ``flock`` on ``fd``: True, False if another open file holds it, None where unsupported."""
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # a file system without flock
        return None
    return True


def _refusal(folder: Path, path: Path, holder: dict | None) -> WriteError:
    who = "another process" if not holder else f"process {holder.get('pid')} on {holder.get('host')}"
    since = f" since {holder.get('started')}" if holder and holder.get("started") else ""
    command = f" (`{holder['command']}`)" if holder and holder.get("command") else ""
    return WriteError(
        f"{folder} is being written by {who}{since}{command}. Wait for it to finish or write another --name; if that "
        f"process is gone (e.g. on a machine that was shut down), delete {path} and run again."
    )


def _acquire(folder: Path, path: Path) -> int:
    """Open and lock ``path`` for this process (see :func:`artifact_lock`); returns the open file descriptor."""
    me = {"pid": os.getpid(), "host": _host(), "command": " ".join(sys.argv)[:300]}
    me["started"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            locked = _flock(fd)
            holder = _read_holder(fd)
            if holder and locked is not False and not _stale(holder, me, locked):
                locked = False
            if locked is False:
                raise _refusal(folder, path, holder)
            if holder:
                print(
                    f"notice: taking over the lock of {folder} left by process {holder.get('pid')} "
                    f"(started {holder.get('started')}), which is no longer running",
                    file=sys.stderr,
                )
            if os.path.exists(path) and os.fstat(fd).st_ino == os.stat(path).st_ino:
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, (json.dumps(me) + "\n").encode())
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder removed the file between our open and our lock: try again
    raise WriteError(f"could not lock {folder}: {path} keeps changing; is another process starting it repeatedly?")


def _stale(holder: dict, me: dict, locked: bool | None) -> bool:
    """Whether the lock file left by ``holder`` can be taken over: its process ran on this host and is gone (the
    ``flock`` was free, or, without ``flock``, no process has its PID). Another host's lock never is."""
    if holder.get("host") != me["host"]:
        return False
    try:
        pid = int(holder.get("pid"))
    except (TypeError, ValueError):
        return bool(locked)
    if locked is None:
        return pid != me["pid"] and not pid_alive(pid)
    return True


@contextlib.contextmanager
def artifact_lock(folder: str | os.PathLike, enabled: bool = True, overwrite: bool = False) -> Iterator[Path | None]:
    """Hold the lock of the artifact ``folder`` while the block writes it (see the module docstring).

    Args:
        folder (`str` or `os.PathLike`): the artifact folder, ``<root>/<stage>/<name>``.
        enabled (`bool`, defaults to `True`): ``False`` makes this a no-op (for the other processes of a
            distributed run, whose main process holds the lock).
        overwrite (`bool`, defaults to `False`): remove ``folder`` once the lock is held (``--overwrite`` of a stage
            that writes in place).

    Raises:
        `WriteError`: another live process holds the lock (the message names it).
    """
    if not enabled:
        yield None
        return
    folder = Path(folder)
    path = folder.parent / f".{folder.name}.lock"
    with writing(folder):
        folder.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(folder, path)
    try:
        if overwrite and folder.exists():
            shutil.rmtree(folder)
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)
