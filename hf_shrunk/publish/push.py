"""``hf-shrunk publish``: the only module that writes to the Hugging Face Hub.

One model repo per pretrain run, ``<org>/shrunk-<slug>`` (``main`` = final weights + card + ``checkpoints.json``,
one ``step{N}`` branch per kept snapshot), the corpus dataset repo ``<org>/shrunk-corpus`` (``--dataset``), and a
Collection for the suite. What goes where is decided in :mod:`hf_shrunk.publish.plan` from the artifacts alone.

Idempotent and resumable: each branch's remote tree is compared with the plan (LFS sha256 or git blob id per file)
and only a differing branch gets a commit, holding the changed files and the deletions of files no longer planned;
unchanged LFS objects are never re-uploaded (the Hub's preupload and LFS batch answers skip them). Every commit holds
a branch's card together with its weights. The ``step{N}`` branches are pushed first and ``main`` last, so the
``checkpoints.json`` on ``main`` never lists a branch that is not there yet: an interrupted publish leaves a repo
without a finished-looking ``main``, and continues where it stopped when run again. ``hf-shrunk publish verify``
(:mod:`hf_shrunk.publish.verify`) checks the Hub against ``checkpoints.json``.

Transient Hub failures are retried (:mod:`hf_shrunk.publish.client`); a commit is retried only after reading the
branch again, with the head it was computed from as ``parent_commit``, so a commit that landed although its answer
was lost is never made twice. A repo whose ``main`` records another training run (``training_manifest.json``; for
the dataset, ``corpus_manifest.json``) is not published over without ``--overwrite``; ``--repo_suffix`` gives seeds
or variants of one size their own repos.

``--to_dir DIR`` writes the same trees locally, ``DIR/<models|datasets>/<repo name>/<branch>/<path in repo>`` plus
``DIR/plan.json`` (``.gitattributes`` is the one file the Hub adds itself); ``--dry_run`` prints the plan and writes
only the cards, in the same layout.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import artifact_root, read_json, stage_dir
from hf_shrunk.config import ConfigError, UserError, parse_config
from hf_shrunk.hub import FILTERED_GLUE_REPO_NAME
from hf_shrunk.publish.client import COLLECTION_DESCRIPTION, COLLECTION_TITLE, connect, hub_errors, retrying
from hf_shrunk.publish.config import PublishConfig

DESCRIPTION = (
    "Publish pretrained sizes to the Hugging Face Hub: <org>/shrunk-<slug> per run (final weights on main, "
    "checkpoints as step{N} branches, checkpoints.json with sha256 of each branch's weights, a model card with GLUE "
    "results in model-index), the corpus as <org>/shrunk-corpus (--dataset), and a Collection. Step branches are "
    "pushed before main; transient Hub errors are retried; re-running uploads only what changed. A repo holding "
    "another training run is not overwritten without --overwrite. `hf-shrunk publish verify --org ORG` checks the Hub "
    "against checkpoints.json. Auth: HF_TOKEN, `hf auth login`, or --token."
)


class MissingResultsError(UserError):
    """A model to publish has no GLUE results and --allow_missing_results was not given."""


class OtherRunError(UserError):
    """A repo to publish holds another training run (or corpus) and --overwrite was not given."""


def check_inputs(cfg: PublishConfig) -> dict[Path, tuple[Path, dict[str, Any]] | None]:
    """The pretrain runs to publish with their GLUE results ``(folder, summary)``; raises
    :class:`MissingResultsError` when one has none, unless ``--allow_missing_results`` (or ``--dry_run``, which only
    reports it)."""
    from hf_shrunk.publish.plan import glue_results, select_runs

    root = artifact_root(cfg.root)
    if cfg.sizes == ["none"] and not cfg.dataset:
        raise ConfigError("--sizes none publishes no model: add --dataset, or name the sizes to publish")
    runs = [] if cfg.sizes == ["none"] else select_runs(cfg.sizes, root)
    by_name = glue_results({run.name: _main_checkpoint(run) for run in runs}, root)
    results = {run: by_name[run.name] for run in runs}
    missing = [run.name for run, found in results.items() if found is None]
    if missing and not (cfg.allow_missing_results or cfg.dry_run):
        raise MissingResultsError(
            f"no GLUE results for {', '.join(missing)} (no finished GLUE artifact's summary.json names the run). "
            f"Score them with `hf-shrunk glue {missing[0]}`, or pass --allow_missing_results to publish cards that "
            "say so."
        )
    return results


def _main_checkpoint(run_dir: Path) -> str:
    """Which checkpoint a run's ``model/`` (the Hub's ``main``) holds: the one its GLUE results must describe."""
    metrics = run_dir / "metrics.json"
    return (read_json(metrics) if metrics.is_file() else {}).get("model_checkpoint", "final")


def build_plan(cfg: PublishConfig, results: dict[Path, tuple[Path, dict[str, Any]] | None]) -> list[Any]:
    """The repos to publish: one per run of ``results`` (from :func:`check_inputs`), the vocabulary-filtered GLUE
    dev sets their filtered results were scored on, and the corpus (``--dataset``)."""
    from hf_shrunk.artifacts import is_complete
    from hf_shrunk.publish.glue_data import filtered_glue_sources, plan_filtered_glue_repo
    from hf_shrunk.publish.plan import plan_model_repo

    root = artifact_root(cfg.root)
    fit = None
    if cfg.fit and is_complete(stage_dir("fit", cfg.fit, root)):
        fit = read_json(stage_dir("fit", cfg.fit, root) / "fit.json")
    corpus_key = _manifest_key(stage_dir("corpus", cfg.corpus, root))
    runs = sorted(results, key=lambda r: r.name)
    glue_data = filtered_glue_sources({run.name: found for run, found in results.items() if found})
    glue_repo = f"{cfg.org}/{FILTERED_GLUE_REPO_NAME}" if glue_data else None
    plans = [
        plan_model_repo(
            run, cfg.org, root, (results[run] or (None, None))[1], fit, cfg.license, corpus_key, cfg.repo_suffix,
            glue_repo,
        )
        for run in runs
    ]  # fmt: skip
    seen: dict[str, str] = {}
    for run, plan in zip(runs, plans, strict=True):
        if plan.repo_id in seen:
            raise ConfigError(
                f"pretrain runs {seen[plan.repo_id]!r} and {run.name!r} are the same size: both would publish to "
                f"{plan.repo_id}. Choose one with --sizes, or publish each in its own run with a --repo_suffix."
            )
        seen[plan.repo_id] = run.name
    if glue_data:
        plans.append(plan_filtered_glue_repo(glue_data, cfg.org, [p.repo_id for p in plans]))
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


def branch_heads(api: Any, plan: Any) -> dict[str, str]:
    """Branch name -> the commit it points to."""
    refs = api.list_repo_refs(plan.repo_id, repo_type=plan.repo_type)
    return {b.name: b.target_commit for b in refs.branches}


def push_order(branches: list[Any]) -> list[Any]:
    """Step branches first, ``main`` last: ``main``'s checkpoints.json lists only branches that are already there."""
    return sorted(branches, key=lambda b: b.name == "main")


def commit_branch(api: Any, plan: Any, branch: Any, head: str) -> int:
    """Bring ``branch`` to the plan with at most one commit (1 if a commit was made, else 0).

    One try reads the branch's tree at ``head``, computes the operations and commits them with ``parent_commit=head``
    (the Hub refuses it with 412 if the branch moved meanwhile). A failed try is retried only after reading where the
    branch points now: if a commit whose answer was lost did land, nothing is left to do and none is made again.
    """
    api = retrying(api)
    raw, state = api.raw, {"head": head, "tries": 0, "sent": False}

    def attempt() -> int:
        if state["tries"]:
            state["head"] = branch_heads(raw, plan)[branch.name]
        state["tries"] += 1
        ops = branch_operations(branch, _remote_tree(raw, plan, state["head"]))
        if not ops:
            return int(state["sent"])  # up to date; if a commit was sent before, it landed
        state["sent"] = True
        raw.create_commit(
            plan.repo_id,
            ops,
            commit_message=branch.message,
            repo_type=plan.repo_type,
            revision=branch.name,
            parent_commit=state["head"],
        )
        return 1

    return api.retry(attempt, f"{plan.repo_id}@{branch.name}: commit", also=frozenset({412}))


def _start_branch(api: Any, plan: Any, name: str, first: list[str]) -> str:
    """Create step branch ``name`` at the repo's first commit (``.gitattributes`` only), so that its history and tree
    hold that checkpoint alone, never files of the final model; returns its head."""
    if not first:
        first.append(api.list_repo_commits(plan.repo_id, repo_type=plan.repo_type)[-1].commit_id)
    api.create_branch(plan.repo_id, repo_type=plan.repo_type, branch=name, revision=first[0], exist_ok=True)
    return first[0]


def _delete_branch(raw: Any, plan: Any, name: str) -> None:
    from huggingface_hub.errors import RevisionNotFoundError

    with contextlib.suppress(RevisionNotFoundError):  # already gone: a delete whose answer was lost
        raw.delete_branch(plan.repo_id, branch=name, repo_type=plan.repo_type)


def _delete_stale_branches(api: Any, plan: Any, heads: dict[str, str]) -> int:
    """Delete the ``step{N}`` branches that the plan does not have (checkpoints of the run that was overwritten)."""
    planned = {b.name for b in plan.branches}
    stale = sorted(n for n in heads if re.fullmatch(r"step\d+", n) and n not in planned)
    for name in stale:
        api.retry(lambda name=name: _delete_branch(api.raw, plan, name), f"{plan.repo_id}@{name}: delete")
    return len(stale)


def push_repo(api: Any, plan: Any, user: str, private: bool, replace: bool = False) -> dict[str, int]:
    """Create ``plan``'s repo if needed and bring every branch to the plan, ``main`` last (see :func:`push_order`).
    With ``replace`` (``--overwrite``), step branches the plan lacks are deleted, after ``main`` no longer lists
    them (so an interrupted overwrite finishes when the same command runs again)."""
    api = retrying(api)
    counts = {"commits": 0, "unchanged": 0, "deleted": 0}
    with hub_errors(plan.repo_id, user):
        api.create_repo(plan.repo_id, repo_type=plan.repo_type, private=private, exist_ok=True)
        heads, first = branch_heads(api, plan), []
        for branch in push_order(plan.branches):
            if branch.name not in heads:
                heads[branch.name] = _start_branch(api, plan, branch.name, first)
            made = commit_branch(api, plan, branch, heads[branch.name])
            counts["commits" if made else "unchanged"] += 1
        if replace:
            counts["deleted"] = _delete_stale_branches(api, plan, heads)
    return counts


def remote_origin(api: Any, plan: Any, cache: str) -> dict[str, Any] | None:
    """The run (or corpus) that ``plan``'s repo on the Hub records on ``main``; None if it records none."""
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    from hf_shrunk.publish.plan import run_identity

    if plan.origin_file is None:
        return None
    try:
        path = retrying(api).hf_hub_download(
            plan.repo_id, plan.origin_file, repo_type=plan.repo_type, revision="main", cache_dir=cache
        )
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError):
        return None  # no repo yet, or no finished main: nothing published to protect
    try:
        return run_identity(json.loads(Path(path).read_text()))
    except (ValueError, AttributeError):
        return {"name": f"<unreadable {plan.origin_file}>", "key": None, "created": None}


def check_origins(api: Any, plans: list[Any], overwrite: bool) -> set[str]:
    """Repo ids of ``plans`` whose Hub repo holds another run; :class:`OtherRunError` unless ``overwrite``.
    A repo with no finished ``main`` (none, or an interrupted first publish) records no run and is not refused."""
    from hf_shrunk.publish.plan import describe_run, same_run

    others = {}
    with tempfile.TemporaryDirectory(prefix="hf_shrunk-publish-") as cache:  # never a stale cached copy
        for plan in plans:
            remote = remote_origin(api, plan, cache) if plan.origin else None
            if remote is not None and not same_run(remote, plan.origin):
                others[plan.repo_id] = (
                    f"{plan.repo_id}: on the Hub {describe_run(remote)}, here {describe_run(plan.origin)}"
                )
    if others and not overwrite:
        raise OtherRunError(
            "refusing to publish over repos that hold another run:\n  "
            + "\n  ".join(others.values())
            + "\nPass --overwrite to replace them, or a --repo_suffix (e.g. --repo_suffix seed1) to publish this run "
            "under repo names of its own."
        )
    for line in others.values():
        print(f"overwriting {line}")
    return set(others)


def update_collection(api: Any, org: str, plans: list[Any], user: str, private: bool) -> str:
    """Add every repo of ``plans`` to the suite's Collection in ``org`` (created once; items added once)."""
    api = retrying(api)
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

    api = retrying(api)
    check_origins(api, plans, cfg.overwrite)
    totals = {"commits": 0, "unchanged": 0, "deleted": 0}
    for plan in tqdm(plans, desc="publishing", unit="repo"):
        counts = push_repo(api, plan, user, cfg.private, replace=cfg.overwrite)
        for key in totals:
            totals[key] += counts[key]
        state = f"{counts['commits']} commit(s)" if counts["commits"] else "up to date"
        deleted = f", {counts['deleted']} stale step branch(es) deleted" if counts["deleted"] else ""
        print(f"{plan.repo_id}: {state} ({len(plan.branches)} branch(es){deleted})")
    if cfg.collection and plans:
        slug = update_collection(api, cfg.org, plans, user, cfg.private)
        print(f"collection: {api.endpoint}/collections/{slug}")
    if api.stats.retries:
        print(f"hub: {api.stats.retries} transient failure(s) retried ({api.stats.waited:.1f} s of waiting)")
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
    results = check_inputs(cfg)
    if cfg.to_dir is None and not cfg.dry_run:
        api, user = connect(cfg.token)  # fail on auth before hashing gigabytes of weights
    plans = build_plan(cfg, results)
    from hf_shrunk.publish.plan import format_plan, write_tree

    for plan in plans:
        for note in plan.notes:
            print(f"note: {note}")
    if cfg.dry_run:
        missing = sorted(run.name for run, found in results.items() if found is None)
        if missing and not cfg.allow_missing_results:
            refused = ", ".join(missing)
            print(f"warning: without --allow_missing_results a real publish refuses {refused} (no GLUE results)")
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
