"""``hf-shrunk publish``: the only module that writes to the Hugging Face Hub.

One model repo per pretrain run, ``<org>/shrunk-<slug>`` (``main`` = final weights + card + ``checkpoints.json``,
one ``step{N}`` branch per kept snapshot), the corpus dataset repo ``<org>/shrunk-corpus`` (``--dataset``), and a
Collection for the suite. What goes where is decided in :mod:`hf_shrunk.publish.plan` from the artifacts alone.

Idempotent and resumable: each branch's remote tree is compared with the plan (LFS sha256 or git blob id per file)
and only a differing branch gets a commit, holding the changed files and the deletions of files no longer planned;
unchanged LFS objects are never re-uploaded (the Hub's preupload and LFS batch answers skip them). ``main`` is
committed first, card and weights together, so a repo that holds weights always has a card; an interrupted publish
continues where it stopped when run again. ``hf-shrunk publish verify`` (:mod:`hf_shrunk.publish.verify`) checks the
Hub against ``checkpoints.json``.

``--to_dir DIR`` writes the same trees locally, ``DIR/<models|datasets>/<repo name>/<branch>/<path in repo>`` plus
``DIR/plan.json`` (``.gitattributes`` is the one file the Hub adds itself); ``--dry_run`` prints the plan and writes
only the cards, in the same layout.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import artifact_root, read_json, stage_dir
from hf_shrunk.config import ConfigError, UserError, parse_config
from hf_shrunk.publish.client import COLLECTION_DESCRIPTION, COLLECTION_TITLE, connect, hub_errors
from hf_shrunk.publish.config import PublishConfig

DESCRIPTION = (
    "Publish pretrained sizes to the Hugging Face Hub: <org>/shrunk-<slug> per run (final weights on main, "
    "checkpoints as step{N} branches, checkpoints.json with sha256 of each branch's weights, a model card with GLUE "
    "results in model-index), the corpus as <org>/shrunk-corpus (--dataset), and a Collection. Re-running uploads "
    "only what changed. `hf-shrunk publish verify --org ORG` checks the Hub against checkpoints.json. Auth: "
    "HF_TOKEN, `hf auth login`, or --token."
)


class MissingResultsError(UserError):
    """A model to publish has no GLUE results and --allow_missing_results was not given."""


def check_inputs(cfg: PublishConfig) -> dict[Path, dict[str, Any] | None]:
    """The pretrain runs to publish with their GLUE summaries; raises :class:`MissingResultsError` when one has none,
    unless ``--allow_missing_results`` (or ``--dry_run``, which only reports it)."""
    from hf_shrunk.publish.plan import glue_summary, select_runs

    root = artifact_root(cfg.root)
    if cfg.sizes == ["none"] and not cfg.dataset:
        raise ConfigError("--sizes none publishes no model: add --dataset, or name the sizes to publish")
    runs = [] if cfg.sizes == ["none"] else select_runs(cfg.sizes, root)
    summaries = {run: glue_summary(run.name, root) for run in runs}
    missing = [run.name for run, summary in summaries.items() if summary is None]
    if missing and not (cfg.allow_missing_results or cfg.dry_run):
        raise MissingResultsError(
            f"no GLUE results for {', '.join(missing)} (expected <root>/glue/<run>/summary.json). Score them with "
            f"`hf-shrunk glue {missing[0]}`, or pass --allow_missing_results to publish cards that say so."
        )
    return summaries


def build_plan(cfg: PublishConfig, summaries: dict[Path, dict[str, Any] | None]) -> list[Any]:
    """The repos to publish: one per run of ``summaries`` (from :func:`check_inputs`), plus the corpus."""
    from hf_shrunk.artifacts import is_complete
    from hf_shrunk.publish.plan import plan_model_repo

    root = artifact_root(cfg.root)
    fit = None
    if cfg.fit and is_complete(stage_dir("fit", cfg.fit, root)):
        fit = read_json(stage_dir("fit", cfg.fit, root) / "fit.json")
    corpus_dir = stage_dir("corpus", cfg.corpus, root)
    corpus_key = _manifest_key(corpus_dir)
    plans = [
        plan_model_repo(run, cfg.org, root, summaries[run], fit, cfg.license, corpus_key)
        for run in sorted(summaries, key=lambda r: r.name)
    ]
    seen: dict[str, str] = {}
    for run, plan in zip(sorted(summaries, key=lambda r: r.name), plans, strict=True):
        if plan.repo_id in seen:
            raise ConfigError(
                f"pretrain runs {seen[plan.repo_id]!r} and {run.name!r} are the same size: both would publish to "
                f"{plan.repo_id}. Choose one with --sizes."
            )
        seen[plan.repo_id] = run.name
    if cfg.dataset:
        from hf_shrunk.publish.dataset import plan_dataset_repo

        plans.append(plan_dataset_repo(cfg.corpus, cfg.tokenizer, cfg.org, root))
    return plans


def _manifest_key(folder: Path) -> str | None:
    from hf_shrunk.artifacts import Manifest, is_complete

    return Manifest.read(folder).key if is_complete(folder) else None


def _same(local: Any, remote: Any) -> bool:
    if remote.lfs is not None:
        return remote.lfs.sha256 == local.sha256()
    return remote.blob_id == local.git_sha1()


def branch_operations(branch: Any, remote: dict[str, Any]) -> list[Any]:
    """Commit operations that make the remote tree ``remote`` (path -> RepoFile) equal to ``branch``'s files."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    ops: list[Any] = [
        CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=f.upload_source())
        for f in branch.files
        if f.path not in remote or not _same(f, remote[f.path])
    ]
    planned = {f.path for f in branch.files}
    ops += [CommitOperationDelete(path) for path in sorted(remote) if path not in planned and path != ".gitattributes"]
    return ops


def _remote_tree(api: Any, plan: Any, revision: str) -> dict[str, Any]:
    from huggingface_hub.hf_api import RepoFile

    entries = api.list_repo_tree(plan.repo_id, repo_type=plan.repo_type, revision=revision, recursive=True)
    return {e.path: e for e in entries if isinstance(e, RepoFile)}


def push_repo(api: Any, plan: Any, user: str, private: bool) -> dict[str, int]:
    """Create ``plan``'s repo if needed and bring every branch to the plan; ``main`` first (it carries the card)."""
    counts = {"commits": 0, "unchanged": 0}
    with hub_errors(plan.repo_id, user):
        api.create_repo(plan.repo_id, repo_type=plan.repo_type, private=private, exist_ok=True)
        branches = {b.name for b in api.list_repo_refs(plan.repo_id, repo_type=plan.repo_type).branches}
        initial = None
        for branch in plan.branches:
            if branch.name not in branches:
                # A step branch starts from the repo's first commit (.gitattributes only), so its history and
                # tree hold that checkpoint alone, never files of the final model.
                initial = initial or api.list_repo_commits(plan.repo_id, repo_type=plan.repo_type)[-1].commit_id
                api.create_branch(
                    plan.repo_id, repo_type=plan.repo_type, branch=branch.name, revision=initial, exist_ok=True
                )
            ops = branch_operations(branch, _remote_tree(api, plan, branch.name))
            if not ops:
                counts["unchanged"] += 1
                continue
            api.create_commit(
                plan.repo_id, ops, commit_message=branch.message, repo_type=plan.repo_type, revision=branch.name
            )
            counts["commits"] += 1
    return counts


def update_collection(api: Any, org: str, plans: list[Any], user: str, private: bool) -> str:
    """Add every repo of ``plans`` to the suite's Collection in ``org`` (created once; items added once)."""
    with hub_errors(f"{org} (collection {COLLECTION_TITLE!r})", user):
        collection = api.create_collection(
            COLLECTION_TITLE, namespace=org, description=COLLECTION_DESCRIPTION, private=private, exists_ok=True
        )
        present = {(item.item_id, item.item_type) for item in collection.items}
        for plan in plans:
            if (plan.repo_id, plan.repo_type) not in present:
                api.add_collection_item(
                    collection.slug, plan.repo_id, plan.repo_type, note=plan.note[:500], exists_ok=True
                )
    return collection.slug


def push(cfg: PublishConfig, plans: list[Any], api: Any, user: str) -> int:
    from huggingface_hub.utils import tqdm

    totals = {"commits": 0, "unchanged": 0}
    for plan in tqdm(plans, desc="publishing", unit="repo"):
        counts = push_repo(api, plan, user, cfg.private)
        for key in totals:
            totals[key] += counts[key]
        state = f"{counts['commits']} commit(s)" if counts["commits"] else "up to date"
        print(f"{plan.repo_id}: {state} ({len(plan.branches)} branch(es))")
    if cfg.collection and plans:
        slug = update_collection(api, cfg.org, plans, user, cfg.private)
        print(f"collection: {api.endpoint}/collections/{slug}")
    print(f"done: {totals['commits']} commit(s), {totals['unchanged']} branch(es) already up to date")
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = prog or "hf-shrunk publish"
    if argv and argv[0] == "verify":
        from hf_shrunk.publish.verify import main as verify_main

        return verify_main(argv[1:], prog=f"{prog} verify")
    (cfg,) = parse_config([PublishConfig], argv, prog=prog, description=DESCRIPTION)
    if not cfg.org:
        raise ConfigError("pass --org ORG: the Hub user or organisation that will own the repos")
    summaries = check_inputs(cfg)
    if cfg.to_dir is None and not cfg.dry_run:
        api, user = connect(cfg.token)  # fail on auth before hashing gigabytes of weights
    plans = build_plan(cfg, summaries)
    from hf_shrunk.publish.plan import format_plan, write_tree

    for plan in plans:
        for note in plan.notes:
            print(f"note: {note}")
    if cfg.dry_run:
        missing = sorted(run.name for run, summary in summaries.items() if summary is None)
        if missing and not cfg.allow_missing_results:
            print(
                f"warning: without --allow_missing_results a real publish refuses {', '.join(missing)} (no GLUE results)"
            )
        out = Path(cfg.to_dir) if cfg.to_dir else artifact_root(cfg.root) / "publish" / cfg.org
        print(format_plan(plans))
        write_tree(plans, out, cfg.org, cards_only=True)
        print(f"dry run: nothing pushed; cards and plan.json written to {out}")
        return 0
    if cfg.to_dir:
        out = write_tree(plans, Path(cfg.to_dir), cfg.org)
        print(
            f"wrote {len(plans)} repo tree(s) to {out} (layout: <models|datasets>/<repo>/<branch>/...); nothing pushed"
        )
        return 0
    return push(cfg, plans, api, user)
