"""Artifact folders: where each stage writes, and the `manifest.json` that says what is inside.

Every stage writes one folder under the artifact root (``$HF_SHRUNK_HOME``, default ``~/.cache/hf_shrunk``):

    <root>/corpus/<name>/      <root>/tokenizer/<name>/   <root>/pretrain/<run>/
    <root>/glue/<model>/       <root>/fit/<name>/         <root>/publish/<name>/

A folder is complete when its ``manifest.json`` exists: it is written last, inside a staging folder that is
renamed into place in one step (:func:`staged_output`), so an interrupted stage never leaves a folder that looks
finished. The manifest records the resolved config, the inputs with their fingerprints and data tiers, library
versions, the git sha and timestamps; a stage whose manifest matches its config is skipped.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_shrunk.config import UserError

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


class ArtifactError(UserError, RuntimeError):
    """An artifact folder is missing, incomplete or was made with another config."""


def artifact_root(root: str | os.PathLike | None = None) -> Path:
    """The artifact root: ``root`` if given, else ``$HF_SHRUNK_HOME``, else ``~/.cache/hf_shrunk``."""
    if root:
        return Path(root).expanduser()
    env = os.environ.get("HF_SHRUNK_HOME")
    if env:
        return Path(env).expanduser()
    return Path("~/.cache/hf_shrunk").expanduser()


def stage_dir(stage: str, name: str, root: str | os.PathLike | None = None) -> Path:
    """``<root>/<stage>/<name>``. ``name`` may also be a path (absolute or containing a separator)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    if os.sep in name or name.startswith((".", "~")):
        return Path(name).expanduser()
    return artifact_root(root) / stage / name


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
        path = Path(folder) / MANIFEST
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False, default=str) + "\n")
        os.replace(tmp, path)
        return path

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
    folder is removed and ``final`` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".{final.name}.staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
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
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    dataset.save_to_disk(str(tmp))
    try:
        os.replace(tmp, folder)
    except OSError:
        if not is_cached_dataset(folder):
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return datasets.load_from_disk(str(folder))


def is_cached_dataset(folder: str | os.PathLike) -> bool:
    return (Path(folder) / "dataset_dict.json").is_file()


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write JSON atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    return path


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())
