"""Repository storage of the fake Hub: content-addressed objects, immutable commit snapshots and refs.

Git is simplified but kept consistent: every commit stores the full tree of its branch (path -> file entry), so
any old commit stays readable; file contents live once in ``<root>/objects/<sha256>``; a commit id is a fresh
40-hex sha1. Ids shown to clients follow git/the Hub: a regular file's ``oid`` is its git blob sha1, an LFS file's
``oid`` is the git blob sha1 of its pointer file and its ``lfs.oid`` is the sha256 of the content.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

# The Hub writes a `.gitattributes` in every new repo; its LFS patterns decide which files go through LFS
# (a subset of the Hub's default list, enough for model weights and dataset shards).
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z *.arrow *.bin *.bz2 *.ckpt *.ftz *.gz *.h5 *.joblib *.mlmodel *.model *.msgpack *.npy *.npz "
        "*.onnx *.ot *.parquet *.pb *.pickle *.pkl *.pt *.pth *.rar *.safetensors *.tar *.tflite *.tgz *.wasm "
        "*.xz *.zip *.zst *tfevents*"
    ).split()
)
# Files above this size always go through LFS, as on the Hub (10 MB).
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024

_ids = itertools.count()


class HubError(Exception):
    """An error answered to the client: HTTP status, message and the Hub's ``X-Error-Code`` (if any)."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def now_iso() -> str:
    """Current UTC time in the Hub's format (``%Y-%m-%dT%H:%M:%S.%fZ`` with milliseconds)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def git_blob_sha1(data: bytes) -> str:
    """Git blob id of ``data`` (sha1 of ``blob <size>\\0<data>``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file that git stores in place of an LFS file."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def new_hex_id(*parts: str) -> str:
    """A fresh, unique 40-hex id (commit ids) derived from ``parts`` and a process-wide counter."""
    return hashlib.sha1("\n".join((*parts, str(next(_ids)), now_iso())).encode()).hexdigest()


@dataclass(frozen=True)
class FileEntry:
    """One file of a tree: content sha256, size, whether it is stored with LFS, and its git blob id."""

    sha256: str
    size: int
    lfs: bool
    oid: str

    def lfs_info(self) -> dict | None:
        """The ``lfs`` object of the Hub's tree/paths-info answers (None for a regular file)."""
        if not self.lfs:
            return None
        return {"oid": self.sha256, "size": self.size, "pointerSize": len(lfs_pointer(self.sha256, self.size))}

    @property
    def etag(self) -> str:
        """The resolve ETag: git blob sha1 for regular files, content sha256 for LFS files."""
        return self.sha256 if self.lfs else self.oid


@dataclass
class Commit:
    id: str
    parents: list[str]
    title: str
    message: str
    author: str
    date: str
    tree: dict[str, FileEntry]


@dataclass
class Repo:
    repo_type: str  # "model", "dataset" or "space"
    repo_id: str
    private: bool
    created_at: str
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit id
    tags: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    lfs_objects: set[str] = field(default_factory=set)  # sha256 of LFS objects uploaded to this repo

    @property
    def namespace(self) -> str:
        return self.repo_id.split("/")[0]

    def resolve(self, revision: str) -> Commit:
        """The commit that a branch, tag, ``refs/heads|tags/...`` name or a full commit sha points to."""
        for prefix, refs in (("refs/heads/", self.branches), ("refs/tags/", self.tags)):
            if revision.startswith(prefix) and revision[len(prefix) :] in refs:
                return self.commits[refs[revision[len(prefix) :]]]
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        if revision in self.tags:
            return self.commits[self.tags[revision]]
        if revision in self.commits:
            return self.commits[revision]
        raise HubError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")

    def history(self, revision: str) -> list[Commit]:
        """Commits reachable from ``revision`` by first parents, newest first."""
        commit: Commit | None = self.resolve(revision)
        out = []
        while commit is not None:
            out.append(commit)
            commit = self.commits[commit.parents[0]] if commit.parents else None
        return out


def lfs_patterns(tree: dict[str, FileEntry], read) -> list[str]:
    """LFS patterns of the root ``.gitattributes`` in ``tree`` (``read(sha256) -> bytes`` reads contents)."""
    entry = tree.get(".gitattributes")
    if entry is None:
        return []
    lines = read(entry.sha256).decode("utf-8", errors="replace").splitlines()
    return [line.split()[0] for line in lines if "filter=lfs" in line.split()[1:]]


def matches_any(path: str, patterns: list[str]) -> bool:
    """gitattributes/gitignore-style match: patterns without a slash match the basename anywhere."""
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(path if "/" in p else name, p.lstrip("/")) for p in patterns)


class Storage:
    """All repos of one fake Hub, their commits, and the object store on disk under ``root``.

    Args:
        root (`Path`): directory holding ``objects/`` (contents by sha256) and ``repos/`` (one JSON view per repo,
            rewritten after every change, for debugging).
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.repos: dict[tuple[str, str], Repo] = {}

    # ---- object store -------------------------------------------------------------------------------------------
    def object_path(self, sha256: str) -> Path:
        return self.root / "objects" / sha256

    def has_object(self, sha256: str) -> bool:
        return self.object_path(sha256).is_file()

    def put_object(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.object_path(sha256)
        if not path.is_file():
            tmp = path.with_suffix(f".tmp{threading.get_ident()}")
            tmp.write_bytes(data)
            tmp.replace(path)
        return sha256

    def read_object(self, sha256: str) -> bytes:
        return self.object_path(sha256).read_bytes()

    def entry_for(self, sha256: str, size: int, lfs: bool) -> FileEntry:
        """A tree entry for stored content (the git blob id of an LFS file is the one of its pointer)."""
        blob = lfs_pointer(sha256, size) if lfs else self.read_object(sha256)
        return FileEntry(sha256=sha256, size=size, lfs=lfs, oid=git_blob_sha1(blob))

    def is_lfs(self, tree: dict[str, FileEntry], path: str, size: int, sample: bytes) -> bool:
        """Whether the Hub would store this file with LFS: .gitattributes pattern, size, or binary content."""
        if size >= LFS_SIZE_THRESHOLD or b"\0" in sample:
            return True
        return matches_any(path, lfs_patterns(tree, self.read_object))

    # ---- repos ----------------------------------------------------------------------------------------------------
    def get_repo(self, repo_type: str, repo_id: str) -> Repo | None:
        return self.repos.get((repo_type, repo_id))

    def create_repo(self, repo_type: str, repo_id: str, private: bool, author: str) -> Repo:
        """Create a repo whose ``main`` holds the Hub's initial commit (a ``.gitattributes``)."""
        with self.lock:
            repo = Repo(repo_type=repo_type, repo_id=repo_id, private=private, created_at=now_iso())
            self.repos[(repo_type, repo_id)] = repo
            data = DEFAULT_GITATTRIBUTES.encode()
            entry = self.entry_for(self.put_object(data), len(data), lfs=False)
            commit = Commit(
                new_hex_id(repo_id), [], "initial commit", "", author, now_iso(), {".gitattributes": entry}
            )
            repo.commits[commit.id] = commit
            repo.branches["main"] = commit.id
            self.save(repo)
            return repo

    def delete_repo(self, repo: Repo) -> None:
        with self.lock:
            del self.repos[(repo.repo_type, repo.repo_id)]
            self._json_path(repo).unlink(missing_ok=True)

    def commit(self, repo: Repo, branch: str, tree: dict[str, FileEntry], title: str, message: str, author: str):
        """Record ``tree`` as a new commit on ``branch`` (whose current head becomes the parent)."""
        with self.lock:
            parent = repo.branches[branch]
            commit = Commit(new_hex_id(repo.repo_id, parent, title), [parent], title, message, author, now_iso(), tree)
            repo.commits[commit.id] = commit
            repo.branches[branch] = commit.id
            self.save(repo)
            return commit

    def save(self, repo: Repo) -> None:
        """Write a JSON view of ``repo`` (refs and commits) next to the objects, for humans debugging a test."""
        view = {
            "private": repo.private,
            "branches": repo.branches,
            "tags": repo.tags,
            "lfs_objects": sorted(repo.lfs_objects),
            "commits": {cid: asdict(c) for cid, c in repo.commits.items()},
        }
        path = self._json_path(repo)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(view, indent=1))

    def _json_path(self, repo: Repo) -> Path:
        return self.root / "repos" / f"{repo.repo_type}s" / f"{repo.repo_id}.json"
