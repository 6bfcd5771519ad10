"""Copies of the public Hub repos hf_shrunk reads, laid out as the real Hub serves them, on the fake Hub.

- ``nyu-mll/glue``: one folder per config with ``<split>-00000-of-00001.parquet`` and a README whose ``configs:``
  lists them (the layout of the Hub's parquet GLUE);
- ``text-machine-lab/constrained_language``: ``data/<split>-0000K-of-0000N-<hash>.parquet`` shards with the single
  column ``TEXT`` and a README, as the paper's authors uploaded them (a small sample here).

The files are seeded straight into the server's storage (as if their owners had pushed them), so the tests' own
user has no write access to those namespaces, exactly as online.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from pathlib import Path

import yaml

from .storage import Storage

GLUE_REPO = "nyu-mll/glue"
CONSTRAINED_REPO = "text-machine-lab/constrained_language"


def seed_repo(storage: Storage, repo_type: str, repo_id: str, files: Mapping[str, bytes], title: str) -> None:
    """Commit ``files`` (path -> bytes) to ``main`` of ``repo_id``, creating the repo, with LFS where the Hub would."""
    repo = storage.get_repo(repo_type, repo_id) or storage.create_repo(
        repo_type, repo_id, False, repo_id.split("/")[0]
    )
    tree = dict(repo.resolve("main").tree)
    for path, data in files.items():
        sha256 = storage.put_object(data)
        lfs = storage.is_lfs(tree, path, len(data), data[:8000])
        tree[path] = storage.entry_for(sha256, len(data), lfs=lfs)
        if lfs:
            repo.lfs_objects.add(sha256)
    storage.commit(repo, "main", tree, title, "", repo.namespace)


def _card(configs: list[dict], body: str) -> bytes:
    return f"---\n{yaml.safe_dump({'configs': configs}, sort_keys=False)}---\n\n{body}\n".encode()


def seed_glue(storage: Storage, glue_dir: Path) -> list[str]:
    """``nyu-mll/glue`` from a folder in the mirror layout (``<task>/<split>.parquet``); returns the configs."""
    files, configs = {}, []
    for task_dir in sorted(p for p in glue_dir.iterdir() if p.is_dir()):
        data_files = []
        for split_file in sorted(task_dir.glob("*.parquet")):
            path = f"{task_dir.name}/{split_file.stem}-00000-of-00001.parquet"
            files[path] = split_file.read_bytes()
            data_files.append({"split": split_file.stem, "path": path})
        configs.append({"config_name": task_dir.name, "data_files": data_files})
    files["README.md"] = _card(configs, "# GLUE\n\nThe General Language Understanding Evaluation benchmark.")
    seed_repo(storage, "dataset", GLUE_REPO, files, "Upload GLUE as parquet")
    return [c["config_name"] for c in configs]


def seed_constrained_language(storage: Storage, splits: Mapping[str, list[str]]) -> None:
    """``text-machine-lab/constrained_language`` with the given texts per split (column ``TEXT``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = {}
    for split, texts in splits.items():
        buffer = io.BytesIO()
        pq.write_table(pa.table({"TEXT": texts}), buffer)
        data = buffer.getvalue()
        files[f"data/{split}-00000-of-00001-{hashlib.sha256(data).hexdigest()[:16]}.parquet"] = data
    configs = [{"config_name": "default", "data_files": [{"split": s, "path": f"data/{s}-*"} for s in splits]}]
    files["README.md"] = _card(configs, "# Constrained language\n\nText whose every word is in the AO-CHILDES list.")
    seed_repo(storage, "dataset", CONSTRAINED_REPO, files, "Upload data with huggingface_hub")
