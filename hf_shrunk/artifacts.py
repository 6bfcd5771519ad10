"""Artifact folders: where each stage writes, and the `manifest.json` that says what is inside.

Every stage writes one folder under the artifact root (``$HF_SHRUNK_HOME``, default ``~/.cache/hf_shrunk``):

    <root>/corpus/<name>/      <root>/tokenizer/<name>/   <root>/pretrain/<run>/
    <root>/glue/<model>/       <root>/fit/<name>/         <root>/publish/<name>/

A folder is complete when its ``manifest.json`` exists: it is written last, inside a staging folder that is
renamed into place in one step (:func:`staged_output`), so an interrupted stage never leaves a folder that looks
finished. The manifest records the resolved config, the inputs with their fingerprints and data tiers, library
versions, the git sha and timestamps; a stage whose manifest matches its config is skipped.

Names are names: outputs go to ``<root>/<stage>/<name>`` and :func:`output_dir` refuses a name that is a path, too
long or not a valid file name (``--root`` chooses where artifacts live). While a stage writes, it holds the
artifact's lock (:func:`artifact_lock`); staging folders of killed processes are removed by the next run.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_shrunk.config import UserError
from hf_shrunk.locks import WriteError as WriteError
from hf_shrunk.locks import artifact_lock as artifact_lock
from hf_shrunk.locks import free_space as free_space
from hf_shrunk.locks import owned_name, remove_dead_leftovers, writing

MANIFEST = "manifest.json"
# Written by pretraining into every saved model folder (step, tokens, FLOPs, eval loss); read by cards and publish.
STATE_FILE = "shrunk_state.json"
STAGES = ("corpus", "tokenizer", "pretrain", "glue", "fit", "publish", "cache", "fallback")

# Commands that create each stage's input, quoted in "missing input" errors.
MAKE_COMMAND = {
    "corpus": "hf-shrunk corpus",
    "tokenizer": "hf-shrunk tokenizer",
    "pretrain": "hf-shrunk pretrain --size SLUG",
    "glue": "hf-shrunk glue MODEL",
    "fit": "hf-shrunk fit",
}


NAME_MAX = 100  # characters in an artifact name
_NOT_IN_NAMES = frozenset('<>:"/\\|?*') | frozenset(map(chr, range(32)))  # illegal in file names (Windows too)


class ArtifactError(UserError, RuntimeError):
    """An artifact folder is missing, incomplete or was made with another config."""


def artifact_root(root: str | os.PathLike | None = None, check: bool = True) -> Path:
    """The artifact root: ``root`` if given, else ``$HF_SHRUNK_HOME``, else ``~/.cache/hf_shrunk``. With ``check``,
    a root that exists but is a file or cannot be read is an :class:`ArtifactError`."""
    env = os.environ.get("HF_SHRUNK_HOME")
    how, path = ("--root", root) if root else ("$HF_SHRUNK_HOME", env) if env else ("the root", "~/.cache/hf_shrunk")
    path = Path(path).expanduser()
    if check and path.exists() and not path.is_dir():
        raise ArtifactError(f"{how} {path} is a file, not a folder. Pass a folder for the artifacts (--root DIR).")
    if check and path.is_dir() and not os.access(path, os.R_OK | os.X_OK):
        raise ArtifactError(f"{how} {path} cannot be read (permission denied). Fix its permissions or pass another.")
    return path


def check_name(name: str, what: str = "--name") -> str:
    """``name`` if it can be an artifact folder name, else an :class:`ArtifactError`: not a path (no ``/``, ``\\``,
    ``..``), at most :data:`NAME_MAX` characters, none illegal in file names, not hidden."""
    if not isinstance(name, str) or not name.strip():
        problem = "is empty"
    elif os.path.isabs(name) or "/" in name or "\\" in name or name in (".", ".."):
        problem = "is a path, not a name"
    elif len(name) > NAME_MAX:
        problem = f"is {len(name)} characters long; the limit is {NAME_MAX}"
    elif bad := sorted(set(name) & _NOT_IN_NAMES):
        problem = f"contains {', '.join(map(repr, bad))}, which file names cannot hold"
    elif name.startswith((".", "~", "-")) or name.endswith((".", " ")):
        problem = "starts with '.', '~' or '-' or ends with '.' or a space"
    else:
        return name
    shown = repr(name[:60]) + ("..." if len(str(name)) > 60 else "")
    raise ArtifactError(
        f"{what} {shown} {problem}. Artifact names are folder names under <root>/<stage>/ (letters, digits, '-', "
        "'_', '.', '@'); to write somewhere else, choose the artifact root with --root DIR."
    )


def stage_dir(stage: str, name: str, root: str | os.PathLike | None = None) -> Path:
    """``<root>/<stage>/<name>`` for reading inputs. ``name`` may also be a path (absolute, containing a separator or
    starting with ``.`` or ``~``), for the flags documented as "name or path"; outputs use :func:`output_dir`."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    if os.sep in name or name.startswith((".", "~")) or os.path.isabs(name):
        return Path(name).expanduser()
    return artifact_root(root) / stage / check_name(name, f"{stage} name")


def output_dir(stage: str, name: str, root: str | os.PathLike | None = None, flag: str = "--name") -> Path:
    """Where a stage writes the artifact ``name``: ``<root>/<stage>/<name>``. ``name`` must be a name
    (:func:`check_name`), never a path; the stage folder is created (an error names the root if it cannot be)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    base = artifact_root(root) / stage
    check_name(name, flag)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ArtifactError(f"cannot create {base}: {e.strerror}. Pass a writable --root (or $HF_SHRUNK_HOME).") from e
    return base / name


def finished(stage: str, root: str | os.PathLike | None = None) -> list[Path]:
    """The complete artifact folders of ``stage`` under the root (those with a manifest.json), sorted by name."""
    base = artifact_root(root) / stage
    return sorted(p for p in base.iterdir() if p.is_dir() and is_complete(p)) if base.is_dir() else []


def git_sha(path: str | os.PathLike | None = None) -> str | None:
    """The git commit of the hf_shrunk checkout (``None`` for an installed wheel)."""
    here = Path(path) if path else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour the artifacts depend on (read without importing them)."""
    from importlib.metadata import PackageNotFoundError, version

    names = ["hf-shrunk", "torch", "transformers", "accelerate", "datasets", "tokenizers", "huggingface_hub"]
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def fingerprint(obj: Any) -> str:
    """A short, stable hash of a JSON-serialisable object (configs, input lists)."""
    data = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(data).hexdigest()[:16]


def file_fingerprint(path: str | os.PathLike, full: bool = False) -> str:
    """Hash of a file: size + mtime + first/last MiB by default (cheap for large corpora); ``full`` hashes it all."""
    path = Path(path)
    st = path.stat()
    h = hashlib.sha256(f"{st.st_size}".encode())
    with path.open("rb") as f:
        if full or st.st_size <= 2 << 20:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        else:
            h.update(f.read(1 << 20))
            f.seek(-(1 << 20), os.SEEK_END)
            h.update(f.read(1 << 20))
    return h.hexdigest()[:16]


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Manifest:
    """What a stage folder holds. ``config`` is the resolved stage config; ``inputs`` lists
    ``{"kind", "path", "fingerprint", "tier"}`` dicts; ``extra`` carries stage-specific results."""

    stage: str
    name: str
    config: dict[str, Any]
    inputs: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=library_versions)
    git_sha: str | None = field(default_factory=git_sha)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    @property
    def key(self) -> str:
        """What decides whether a re-run can be skipped: the config and the input fingerprints."""
        return fingerprint(
            {"config": self.config, "inputs": [(i.get("kind"), i.get("fingerprint")) for i in self.inputs]}
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "name": self.name,
            "key": self.key,
            "config": self.config,
            "inputs": self.inputs,
            "extra": self.extra,
            "versions": self.versions,
            "git_sha": self.git_sha,
            "created": self.created,
        }

    def write(self, folder: str | os.PathLike) -> Path:
        return write_json(Path(folder) / MANIFEST, self.to_dict())

    @classmethod
    def read(cls, folder: str | os.PathLike) -> Manifest:
        path = Path(folder) / MANIFEST
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as e:
            raise ArtifactError(f"{folder} has no {MANIFEST}: it is incomplete or not an hf_shrunk artifact") from e
        except json.JSONDecodeError as e:
            raise ArtifactError(f"{path} is not valid JSON ({e}); delete the folder and re-run the stage") from e
        data.pop("key", None)
        return cls(**data)


def describe_differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """``["training.learning_rate: 0.001 -> 0.0005", ...]``: the keys (dotted through nested dicts and lists of the
    same length) whose values differ between two configs, with the old and the new value."""
    if isinstance(old, dict) and isinstance(new, dict):
        pairs = [(k, old.get(k, "(absent)"), new.get(k, "(absent)")) for k in sorted(set(old) | set(new), key=str)]
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        pairs = list(zip(range(len(old)), old, new, strict=True))
    else:
        return [] if old == new else [f"{prefix[:-1] or 'value'}: {old!r} -> {new!r}"]
    return [line for key, a, b in pairs for line in describe_differences(a, b, f"{prefix}{key}.")]


def is_complete(folder: str | os.PathLike) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def require_artifact(stage: str, name: str, root: str | os.PathLike | None = None) -> tuple[Path, Manifest]:
    """The folder and manifest of a finished stage, or an error that says which command creates it."""
    folder = stage_dir(stage, name, root)
    if not folder.exists():
        raise ArtifactError(
            f"no {stage} artifact at {folder}. Create it with `{MAKE_COMMAND.get(stage, 'hf-shrunk ' + stage)}`"
            + (f" (name {name!r})" if os.sep not in name else "")
            + " or pass the right --root / path."
        )
    if not is_complete(folder):
        raise ArtifactError(
            f"{folder} exists but has no {MANIFEST}: the {stage} stage did not finish. "
            f"Re-run `{MAKE_COMMAND.get(stage, 'hf-shrunk ' + stage)}` (add --overwrite to rebuild)."
        )
    return folder, Manifest.read(folder)


def should_skip(folder: str | os.PathLike, manifest: Manifest, overwrite: bool) -> bool:
    """True if ``folder`` already holds exactly this output. Raises if it holds a different one."""
    folder = Path(folder)
    if overwrite or not folder.exists():
        return False
    if not is_complete(folder):
        return False  # leftovers of an interrupted run are replaced
    old = Manifest.read(folder)
    if old.key == manifest.key:
        return True
    raise ArtifactError(
        f"{folder} already holds a {old.stage} artifact built with a different config or inputs "
        f"(key {old.key} != {manifest.key}). Pass --overwrite to rebuild it, or choose another --name."
    )


@contextlib.contextmanager
def staged_output(final: str | os.PathLike) -> Iterator[Path]:
    """Write into a sibling staging folder; move it to ``final`` only if the block succeeds.

    The caller writes the manifest last, inside the block. On any exception (Ctrl-C included) the staging
    folder is removed and ``final`` is left as it was; a full disk becomes an :class:`ArtifactError`. Staging
    folders of killed processes (of any artifact of this stage) are removed first (:func:`remove_dead_leftovers`).
    """
    final = Path(final)
    with writing(final):
        final.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_leftovers(final.parent)
    staging = owned_name(final, "staging")
    if staging.exists():
        shutil.rmtree(staging)
    try:
        with writing(final):
            staging.mkdir()
            yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = owned_name(final, "old")
        os.replace(final, old)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_cached_dataset(dataset: Any, folder: str | os.PathLike) -> Any:
    """``save_to_disk`` into a temporary sibling, renamed into place, and load it back (memory-mapped).

    For caches keyed by content: if another process finished the same cache first, its (identical) copy is kept.
    """
    import datasets

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_leftovers(folder.parent)
    tmp = owned_name(folder, "tmp")
    try:
        with writing(folder):
            dataset.save_to_disk(str(tmp))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        os.replace(tmp, folder)
    except OSError:
        if not is_cached_dataset(folder):
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return datasets.load_from_disk(str(folder))


def load_cached_dataset(folder: str | os.PathLike) -> Any | None:
    """The dataset :func:`save_cached_dataset` left in ``folder``, or ``None`` when there is none. A cache that
    cannot be read (truncated or corrupt files) is removed with a notice and ``None`` returned: the caller rebuilds
    it."""
    if not is_cached_dataset(folder):
        return None
    import datasets

    try:
        data = datasets.load_from_disk(str(folder))
        for split in data.values() if isinstance(data, dict) else [data]:
            _ = split[len(split) - 1] if len(split) else None  # reads the last record batch
        return data
    except Exception as e:
        print(
            f"notice: the cached dataset {folder} cannot be read ({type(e).__name__}: {str(e)[:200]}); "
            "removing it and building it again",
            file=sys.stderr,
        )
        shutil.rmtree(folder, ignore_errors=True)
        return None


def is_cached_dataset(folder: str | os.PathLike) -> bool:
    return (Path(folder) / "dataset_dict.json").is_file()


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write JSON atomically (temp file + rename); a full disk is an :class:`ArtifactError` naming the folder."""
    path = Path(path)
    with writing(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
    return path


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())
