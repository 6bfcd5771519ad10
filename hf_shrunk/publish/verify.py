"""``hf-shrunk publish verify --org ORG``: check what is on the Hub against each repo's ``checkpoints.json``.

For every model repo: ``checkpoints.json`` exists on ``main``; every branch it lists exists and holds a
``model.safetensors`` whose sha256 is the one listed, and a ``README.md``; no ``step{N}`` branch exists that it does
not list. For the dataset repo: the card parses and every data file its ``configs:`` names exists.

Shallow, the sha256 compared is the one the Hub records for the LFS object. ``--deep`` downloads each branch's
weights (and each LFS file of the dataset repo) into a temporary cache and hashes the bytes, which also catches
storage that no longer holds what its recorded id says; it is the default when those files total at most
:data:`~hf_shrunk.publish.config.DEEP_AUTO_BYTES` (``--shallow`` turns it off). A non-LFS file is always downloaded.

Which repos: ``--sizes`` (slugs or repo ids), else every repo of the suite's Collection in ``--org``, else the local
pretrain runs; ``--dataset`` adds the corpus repo. Exit code 1 on any difference. Needs no local artifacts when the
Collection exists. Transient Hub errors are retried (:mod:`hf_shrunk.publish.client`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import artifact_root, sha256_file
from hf_shrunk.config import ConfigError, UserError, parse_config
from hf_shrunk.hub import DATASET_REPO_NAME, MODEL_REPO_PREFIX, model_repo_name
from hf_shrunk.publish.client import COLLECTION_TITLE, anonymous, connect, hub_errors
from hf_shrunk.publish.config import DEEP_AUTO_BYTES, VerifyConfig
from hf_shrunk.publish.plan import CHECKPOINTS_FILE, WEIGHTS

DESCRIPTION = (
    "Check the published suite on the Hub: every branch listed in each model repo's checkpoints.json exists and "
    "holds weights with the listed sha256, no unlisted step branches, the dataset card's files exist. Repos: "
    "--sizes, else the suite's Collection in --org, else the local runs; --dataset adds the corpus. Deep (hash the "
    f"downloaded bytes) when the files to hash total at most {DEEP_AUTO_BYTES / 1e9:g} GB or with --deep; shallow "
    "(trust the Hub's recorded LFS sha256) otherwise or with --shallow. Exit 1 on any difference."
)


@dataclass
class Target:
    """A file whose bytes should hash to ``expected``; ``recorded`` is the Hub's LFS sha256 (None: not LFS)."""

    repo_id: str
    repo_type: str
    revision: str
    path: str
    expected: str | None
    recorded: str | None
    size: int
    listed_by: str

    @property
    def label(self) -> str:
        where = f"@{self.revision}" if self.repo_type == "model" else ""
        return f"{self.repo_id}{where}: {self.path}"


def _repo_id(name: str, org: str, suffix: str) -> str:
    if "/" in name:
        return name
    return f"{org}/{name if name.startswith(MODEL_REPO_PREFIX) else model_repo_name(name) + suffix}"


def _collection_repos(api: Any, org: str) -> list[tuple[str, str]]:
    for collection in api.list_collections(owner=org):
        if collection.title == COLLECTION_TITLE:
            items = api.get_collection(collection.slug).items
            return [(i.item_id, i.item_type) for i in items if i.item_type in ("model", "dataset")]
    return []


def _local_repos(cfg: VerifyConfig) -> list[tuple[str, str]]:
    from hf_shrunk.publish.plan import select_runs

    try:
        runs = select_runs(["all"], artifact_root(cfg.root))
    except UserError:
        return []
    slugs = [json.loads((r / "metrics.json").read_text())["slug"] for r in runs]
    return [(_repo_id(slug, cfg.org, cfg.repo_suffix), "model") for slug in slugs]


def repos_to_verify(api: Any, cfg: VerifyConfig) -> list[tuple[str, str]]:
    """``(repo_id, repo_type)`` pairs: from ``--sizes``, else the Collection, else the local runs."""
    if cfg.sizes != ["all"]:
        repos = [(_repo_id(s, cfg.org, cfg.repo_suffix), "model") for s in cfg.sizes]
    else:
        repos = _collection_repos(api, cfg.org) or _local_repos(cfg)
    dataset = (f"{cfg.org}/{DATASET_REPO_NAME}", "dataset")
    if cfg.dataset and dataset not in repos:
        repos.append(dataset)
    if not repos:
        raise UserError(
            f"nothing to verify: no Collection {COLLECTION_TITLE!r} in {cfg.org!r}, no local pretrain runs, and no "
            "--sizes. Name the repos with --sizes SLUG_OR_REPO_ID ... (and --dataset for the corpus)."
        )
    return repos


def _branch_target(api: Any, repo_id: str, entry: dict[str, Any]) -> tuple[list[str], Target | None]:
    """Problems of one listed branch (weights missing or recorded with another sha256, no card) and the weights
    to hash."""
    name = entry.get("branch")
    infos = {i.path: i for i in api.get_paths_info(repo_id, [WEIGHTS, "README.md"], revision=name)}
    problems = [] if "README.md" in infos else [f"{repo_id}@{name}: no README.md (model card)"]
    weights = infos.get(WEIGHTS)
    if weights is None:
        return [*problems, f"{repo_id}@{name}: no {WEIGHTS}"], None
    recorded = weights.lfs.sha256 if weights.lfs is not None else None
    expected = entry.get("sha256")
    if recorded is not None and recorded != expected:
        problems.append(
            f"{repo_id}@{name}: {WEIGHTS} has sha256 {recorded[:16]}…, {CHECKPOINTS_FILE} lists "
            f"{str(expected)[:16]}… (the weights were changed after publishing)"
        )
        return problems, None
    return problems, Target(repo_id, "model", name, WEIGHTS, expected, recorded, weights.size, CHECKPOINTS_FILE)


def verify_model_repo(api: Any, repo_id: str, cache: str) -> tuple[list[str], int, list[Target]]:
    """Problems found in one model repo, how many branches were checked, and the weights to hash."""
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    try:
        path = api.hf_hub_download(repo_id, CHECKPOINTS_FILE, revision="main", cache_dir=cache)
        listed = json.loads(Path(path).read_text())
    except RepositoryNotFoundError:
        return [f"{repo_id}: repository not found (or private and not visible with this token)"], 0, []
    except EntryNotFoundError:
        problem = f"{repo_id}: no {CHECKPOINTS_FILE} on main (an interrupted publish? run `hf-shrunk publish` again)"
        return [problem], 0, []
    except json.JSONDecodeError as e:
        return [f"{repo_id}: {CHECKPOINTS_FILE} on main is not valid JSON ({e})"], 0, []
    branches = {b.name for b in api.list_repo_refs(repo_id).branches}
    problems, targets = [], []
    entries = listed.get("checkpoints") or []
    for entry in entries:
        if entry.get("branch") not in branches:
            name = entry.get("branch")
            problems.append(f"{repo_id}@{name}: branch listed in {CHECKPOINTS_FILE} is missing on the Hub")
            continue
        found, target = _branch_target(api, repo_id, entry)
        problems += found
        targets += [target] if target is not None else []
    listed_names = {e.get("branch") for e in entries}
    if "main" not in listed_names:
        problems.append(f"{repo_id}: {CHECKPOINTS_FILE} does not list main")
    for extra in sorted(branches - listed_names - {"main"}):
        problems.append(f"{repo_id}@{extra}: branch exists on the Hub but is not listed in {CHECKPOINTS_FILE}")
    return problems, len(listed_names & branches), targets


def verify_dataset_repo(api: Any, repo_id: str, cache: str) -> tuple[list[str], int, list[Target]]:
    """Problems found in the dataset repo (a card whose ``configs:`` name files that all exist), and its LFS files
    to hash against their recorded sha256."""
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError
    from huggingface_hub.hf_api import RepoFile

    try:
        tree = [e for e in api.list_repo_tree(repo_id, repo_type="dataset", recursive=True) if isinstance(e, RepoFile)]
        readme = api.hf_hub_download(repo_id, "README.md", repo_type="dataset", cache_dir=cache)
        configs = MetadataConfigs.from_dataset_card_data(DatasetCard(Path(readme).read_text()).data)
    except RepositoryNotFoundError:
        return [f"{repo_id}: dataset repository not found (or not visible with this token)"], 0, []
    except EntryNotFoundError:
        return [f"{repo_id}: no README.md (dataset card)"], 0, []
    except ValueError as e:
        return [f"{repo_id}: the dataset card's metadata does not parse ({e})"], 0, []
    files, problems = {e.path for e in tree}, []
    for name, config in configs.items():
        for item in config.get("data_files") or []:
            paths = item["path"] if isinstance(item.get("path"), list) else [item.get("path")]
            split = item.get("split")
            problems += [
                f"{repo_id}: config {name!r} split {split!r} names missing {p}" for p in paths if p not in files
            ]
    if not configs:
        problems.append(f"{repo_id}: the dataset card has no configs: load_dataset would guess the files")
    targets = [
        Target(repo_id, "dataset", "main", e.path, e.lfs.sha256, e.lfs.sha256, e.size, "the Hub's LFS record")
        for e in tree
        if e.lfs is not None
    ]
    return problems, 1, targets


def hash_target(api: Any, target: Target, cache: str) -> str:
    """sha256 of the target's bytes as downloaded now (into ``cache``, deleted once hashed)."""
    path = Path(
        api.hf_hub_download(
            target.repo_id, target.path, repo_type=target.repo_type, revision=target.revision, cache_dir=cache
        )
    )
    try:
        return sha256_file(path)
    finally:
        path.resolve().unlink(missing_ok=True)


def hash_problems(api: Any, targets: list[Target], deep: bool, cache: str) -> dict[str, list[str]]:
    """repo id -> differences between downloaded bytes and the sha256 they should have. Shallow, only files the Hub
    records no sha256 for (non-LFS) are downloaded."""
    from huggingface_hub.utils import tqdm

    found: dict[str, list[str]] = {}
    todo = [t for t in targets if deep or t.recorded is None]
    for target in tqdm(todo, desc="hashing", unit="file", disable=not todo):
        digest = hash_target(api, target, cache)
        if digest == target.expected:
            continue
        why = "the stored bytes differ from their recorded id" if target.recorded else "the file was changed"
        found.setdefault(target.repo_id, []).append(
            f"{target.label} downloads as sha256 {digest[:16]}…, {target.listed_by} lists "
            f"{str(target.expected)[:16]}… ({why})"
        )
    return found


def _api(cfg: VerifyConfig) -> tuple[Any, str]:
    from huggingface_hub import get_token

    if cfg.token or get_token():
        return connect(cfg.token)
    return anonymous(), "anonymous"  # public repos can be verified anonymously


def _report(results: dict[str, tuple[list[str], int]], mode: str) -> int:
    problems = 0
    for repo_id, (found, checked) in results.items():
        problems += len(found)
        print(f"{'ok  ' if not found else 'FAIL'} {repo_id} ({checked} branch(es) checked)")
        for problem in found:
            print(f"     {problem}")
    if problems:
        print(f"verify: {problems} difference(s) in {len(results)} repo(s) ({mode})")
        return 1
    print(f"verify: {len(results)} repo(s) match their checkpoints.json ({mode})")
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    (cfg,) = parse_config([VerifyConfig], argv, prog=prog, description=DESCRIPTION)
    if not cfg.org:
        raise ConfigError("pass --org ORG: the Hub user or organisation whose suite to verify")
    from huggingface_hub.utils import tqdm

    api, user = _api(cfg)
    results: dict[str, tuple[list[str], int]] = {}
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="hf_shrunk-verify-") as cache:  # fresh downloads, never a cached copy
        for repo_id, repo_type in tqdm(repos_to_verify(api, cfg), desc="verifying", unit="repo"):
            with hub_errors(repo_id, user):
                check = verify_dataset_repo if repo_type == "dataset" else verify_model_repo
                found, checked, more = check(api, repo_id, cache)
            results[repo_id], targets = (found, checked), targets + more
        size = sum(t.size or 0 for t in targets)
        deep = cfg.deep or (not cfg.shallow and size <= DEEP_AUTO_BYTES)
        for repo_id, found in hash_problems(api, targets, deep, cache).items():
            results[repo_id][0].extend(found)
    mode = f"deep: {len(targets)} file(s), {size / 1e6:,.1f} MB hashed" if deep else "shallow: recorded LFS ids"
    return _report(results, mode)
