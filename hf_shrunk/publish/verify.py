"""``hf-shrunk publish verify --org ORG``: check what is on the Hub against each repo's ``checkpoints.json``.

For every model repo: ``checkpoints.json`` exists on ``main``; every branch it lists exists and holds a
``model.safetensors`` whose sha256 (the Hub's LFS object id; the bytes are downloaded and hashed only for a
non-LFS file) is the one listed, and a ``README.md``; no ``step{N}`` branch exists that it does not list. For the
dataset repo: the card parses and every data file its ``configs:`` names exists. Which repos: ``--sizes`` (slugs or
repo ids), else every repo of the suite's Collection in ``--org``, else the local pretrain runs; ``--dataset`` adds
the corpus repo. Exit code 1 on any difference. Needs no local artifacts when the Collection exists.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import artifact_root, sha256_file
from hf_shrunk.config import ConfigError, UserError, parse_config
from hf_shrunk.hub import DATASET_REPO_NAME, MODEL_REPO_PREFIX, model_repo_name
from hf_shrunk.publish.client import COLLECTION_TITLE, connect, hub_errors
from hf_shrunk.publish.config import PublishConfig
from hf_shrunk.publish.plan import CHECKPOINTS_FILE, WEIGHTS

DESCRIPTION = (
    "Check the published suite on the Hub: every branch listed in each model repo's checkpoints.json exists and "
    "holds weights with the listed sha256, no unlisted step branches, the dataset card's files exist. Repos: "
    "--sizes, else the suite's Collection in --org, else the local runs; --dataset adds the corpus. Exit 1 on any "
    "difference."
)


def _repo_id(name: str, org: str) -> str:
    if "/" in name:
        return name
    return f"{org}/{name if name.startswith(MODEL_REPO_PREFIX) else model_repo_name(name)}"


def repos_to_verify(api: Any, cfg: PublishConfig) -> list[tuple[str, str]]:
    """``(repo_id, repo_type)`` pairs: from ``--sizes``, else the Collection, else the local runs."""
    repos: list[tuple[str, str]] = []
    if cfg.sizes != ["all"]:
        repos = [(_repo_id(s, cfg.org), "model") for s in cfg.sizes]
    else:
        for collection in api.list_collections(owner=cfg.org):
            if collection.title == COLLECTION_TITLE:
                items = api.get_collection(collection.slug).items
                repos = [(i.item_id, i.item_type) for i in items if i.item_type in ("model", "dataset")]
        if not repos:
            from hf_shrunk.publish.plan import select_runs

            try:
                runs = select_runs(["all"], artifact_root(cfg.root))
            except UserError:
                runs = []
            repos = [(_repo_id(json.loads((r / "metrics.json").read_text())["slug"], cfg.org), "model") for r in runs]
    dataset = (f"{cfg.org}/{DATASET_REPO_NAME}", "dataset")
    if cfg.dataset and dataset not in repos:
        repos.append(dataset)
    if not repos:
        raise UserError(
            f"nothing to verify: no Collection {COLLECTION_TITLE!r} in {cfg.org!r}, no local pretrain runs, and no "
            "--sizes. Name the repos with --sizes SLUG_OR_REPO_ID ... (and --dataset for the corpus)."
        )
    return repos


def _weights_sha256(api: Any, repo_id: str, branch: str) -> tuple[str | None, bool]:
    """(sha256 of the branch's weights or None if absent, whether the branch has a README.md)."""
    infos = {i.path: i for i in api.get_paths_info(repo_id, [WEIGHTS, "README.md"], revision=branch)}
    weights = infos.get(WEIGHTS)
    if weights is None:
        return None, "README.md" in infos
    if weights.lfs is not None:
        return weights.lfs.sha256, "README.md" in infos
    return sha256_file(api.hf_hub_download(repo_id, WEIGHTS, revision=branch)), "README.md" in infos


def verify_model_repo(api: Any, repo_id: str) -> tuple[list[str], int]:
    """Problems found in one model repo, and how many branches were checked."""
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    try:
        listed = json.loads(Path(api.hf_hub_download(repo_id, CHECKPOINTS_FILE, revision="main")).read_text())
    except RepositoryNotFoundError:
        return [f"{repo_id}: repository not found (or private and not visible with this token)"], 0
    except EntryNotFoundError:
        return [f"{repo_id}: no {CHECKPOINTS_FILE} on main (an interrupted publish? run `hf-shrunk publish` again)"], 0
    except json.JSONDecodeError as e:
        return [f"{repo_id}: {CHECKPOINTS_FILE} on main is not valid JSON ({e})"], 0
    branches = {b.name for b in api.list_repo_refs(repo_id).branches}
    problems, checked = [], 0
    entries = listed.get("checkpoints") or []
    for entry in entries:
        name = entry.get("branch")
        if name not in branches:
            problems.append(f"{repo_id}@{name}: branch listed in {CHECKPOINTS_FILE} is missing on the Hub")
            continue
        checked += 1
        digest, has_card = _weights_sha256(api, repo_id, name)
        if digest is None:
            problems.append(f"{repo_id}@{name}: no {WEIGHTS}")
        elif digest != entry.get("sha256"):
            problems.append(
                f"{repo_id}@{name}: {WEIGHTS} has sha256 {digest[:16]}…, {CHECKPOINTS_FILE} lists "
                f"{str(entry.get('sha256'))[:16]}… (the weights were changed after publishing)"
            )
        if not has_card:
            problems.append(f"{repo_id}@{name}: no README.md (model card)")
    listed_names = {e.get("branch") for e in entries}
    if "main" not in listed_names:
        problems.append(f"{repo_id}: {CHECKPOINTS_FILE} does not list main")
    for extra in sorted(branches - listed_names - {"main"}):
        problems.append(f"{repo_id}@{extra}: branch exists on the Hub but is not listed in {CHECKPOINTS_FILE}")
    return problems, checked


def verify_dataset_repo(api: Any, repo_id: str) -> tuple[list[str], int]:
    """Problems found in the dataset repo: a card whose ``configs:`` name files that all exist."""
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    try:
        files = set(api.list_repo_files(repo_id, repo_type="dataset"))
        card = DatasetCard(Path(api.hf_hub_download(repo_id, "README.md", repo_type="dataset")).read_text())
        configs = MetadataConfigs.from_dataset_card_data(card.data)
    except RepositoryNotFoundError:
        return [f"{repo_id}: dataset repository not found (or not visible with this token)"], 0
    except EntryNotFoundError:
        return [f"{repo_id}: no README.md (dataset card)"], 0
    except ValueError as e:
        return [f"{repo_id}: the dataset card's metadata does not parse ({e})"], 0
    problems = []
    for name, config in configs.items():
        for item in config.get("data_files") or []:
            paths = item["path"] if isinstance(item.get("path"), list) else [item.get("path")]
            problems += [
                f"{repo_id}: config {name!r} split {item.get('split')!r} names missing {p}"
                for p in paths
                if p not in files
            ]
    if not configs:
        problems.append(f"{repo_id}: the dataset card has no configs: load_dataset would guess the files")
    return problems, 1


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    (cfg,) = parse_config([PublishConfig], argv, prog=prog, description=DESCRIPTION)
    if not cfg.org:
        raise ConfigError("pass --org ORG: the Hub user or organisation whose suite to verify")
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.utils import tqdm

    if cfg.token or get_token():
        api, user = connect(cfg.token)
    else:  # public repos can be verified anonymously
        api, user = HfApi(token=False), "anonymous"
    problems: list[str] = []
    repos = repos_to_verify(api, cfg)
    for repo_id, repo_type in tqdm(repos, desc="verifying", unit="repo"):
        with hub_errors(repo_id, user):
            check = verify_dataset_repo if repo_type == "dataset" else verify_model_repo
            found, checked = check(api, repo_id)
        problems += found
        print(f"{'ok  ' if not found else 'FAIL'} {repo_id} ({checked} branch(es) checked)")
        for problem in found:
            print(f"     {problem}")
    if problems:
        print(f"verify: {len(problems)} difference(s) in {len(repos)} repo(s)")
        return 1
    print(f"verify: {len(repos)} repo(s) match their checkpoints.json")
    return 0
