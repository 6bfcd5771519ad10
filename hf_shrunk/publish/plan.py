"""What ``hf-shrunk publish`` pushes, decided from artifact folders alone (no network): repos, branches, files.

Model repo ``<org>/shrunk-<slug>`` (``<org>/shrunk-<slug><suffix>`` with ``--repo_suffix``):
- ``main``: the final weights (``model/``: config, safetensors, tokenizer, for the factorized family the remote-code
  ``.py`` files, ``shrunk_state.json``), ``README.md`` (the model card), ``checkpoints.json`` (every branch with the
  sha256 of its weights, and the run they come from), ``metrics.json`` and ``training_manifest.json`` (the run's
  manifest with local paths made relative to the artifact root: which run the repo holds);
- ``step{N}``: one branch per snapshot (``snapshots/step{N}/``) with a short card of its own.
``training_args.bin`` (a pickle) and the Trainer's resumable ``checkpoints/`` are never published.

Dataset repo ``<org>/shrunk-corpus``: ``README.md`` (dataset card with ``configs:``), ``data/<split>.parquet``,
``vocabulary/<file>``, ``tokenizer/`` (the tokenizer artifact), ``filter_stats.json`` and ``corpus_manifest.json``.

Every generated file is a deterministic function of the artifacts, so publishing twice uploads nothing new.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import STATE_FILE, ArtifactError, artifact_root, finished, is_complete, read_json, stage_dir
from hf_shrunk.cards import (
    PROGRESS_KEYS,
    glue_eval_result_files,
    load_run,
    model_card_context,
    render_checkpoint_card,
    render_model_card,
)
from hf_shrunk.hub import DATASET_REPO_NAME, model_repo_name
from hf_shrunk.numbers import human

NEVER_PUBLISHED = {"training_args.bin"}
SPLIT_ORDER = ("train", "validation", "test")
CHECKPOINTS_FILE = "checkpoints.json"
WEIGHTS = "model.safetensors"
RUN_FILE = "training_manifest.json"  # on main of a model repo: the run it holds
CORPUS_FILE = "corpus_manifest.json"  # on main of the dataset repo: the corpus it holds
MAX_REPO_NAME = 96  # the Hub's limit


@dataclass
class PlanFile:
    """One file of a branch: ``source`` on disk or generated ``data``; hashes are computed once, on demand."""

    path: str
    source: Path | None = None
    data: bytes | None = None
    _sha256: str | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self.source.stat().st_size

    def _chunks(self):
        if self.data is not None:
            yield self.data
            return
        with self.source.open("rb") as f:
            yield from iter(lambda: f.read(1 << 20), b"")

    def sha256(self) -> str:
        if self._sha256 is None:
            h = hashlib.sha256()
            for chunk in self._chunks():
                h.update(chunk)
            self._sha256 = h.hexdigest()
        return self._sha256

    def git_sha1(self) -> str:
        """The git blob id, which the Hub reports for regular (non-LFS) files."""
        h = hashlib.sha1(b"blob %d\0" % self.size)
        for chunk in self._chunks():
            h.update(chunk)
        return h.hexdigest()

    def upload_source(self) -> str | bytes:
        return self.data if self.data is not None else str(self.source)


@dataclass
class Branch:
    name: str
    files: list[PlanFile]
    message: str

    def file(self, path: str) -> PlanFile | None:
        return next((f for f in self.files if f.path == path), None)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


@dataclass
class RepoPlan:
    repo_id: str
    repo_type: str  # "model" or "dataset"
    branches: list[Branch]  # main first
    note: str = ""  # shown in the Collection
    notes: list[str] = field(default_factory=list)  # what the publisher should tell the user
    origin: dict[str, Any] | None = None  # the run (or corpus) it holds: see :func:`run_identity`
    origin_file: str | None = None  # the manifest on main that records the origin on the Hub

    @property
    def name(self) -> str:
        return self.repo_id.split("/", 1)[1]


def run_identity(manifest: dict[str, Any]) -> dict[str, Any]:
    """Which run (or corpus) a manifest describes: its name, its key (config and inputs) and when it was made.
    Two manifests come from the same run exactly when key and creation time agree."""
    return {k: manifest.get(k) for k in ("name", "key", "created")}


def same_run(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a.get("key"), a.get("created")) == (b.get("key"), b.get("created"))


def describe_run(identity: dict[str, Any]) -> str:
    return f"{identity.get('name')!r} (made {identity.get('created')}, config/input key {identity.get('key')})"


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()


def public_paths(obj: Any, root: Path) -> Any:
    """``obj`` with every absolute path made relative to the artifact root (``<root>/corpus/x``) or cut to its
    file name: a public repo should not show the publisher's directories."""
    if isinstance(obj, dict):
        return {k: public_paths(v, root) for k, v in obj.items()}
    if isinstance(obj, list):
        return [public_paths(v, root) for v in obj]
    if isinstance(obj, str) and os.path.isabs(obj):
        try:
            return "<root>/" + Path(obj).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return Path(obj).name
    return obj


def folder_files(folder: Path, prefix: str = "", exclude: frozenset[str] = frozenset()) -> list[PlanFile]:
    """The regular files directly in ``folder`` (hidden and excluded names left out), as ``prefix + name``."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return [_plan_file(folder / n, prefix + n) for n in names if n not in exclude and n not in NEVER_PUBLISHED]


def _plan_file(source: Path, path: str) -> PlanFile:
    # tokenizer_config.json as transformers 5 saves it names a 5.x-only class and loading-time keys; publish the
    # standard form that every transformers version loads (also for folders saved before that was fixed)
    if source.name != "tokenizer_config.json":
        return PlanFile(path, source=source)
    from hf_shrunk.tokenizer import public_tokenizer_config

    config = public_tokenizer_config(json.loads(source.read_text(encoding="utf-8")))
    return PlanFile(path, data=(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())


def glue_results(runs: dict[str, str], root: Path) -> dict[str, tuple[Path, dict[str, Any]] | None]:
    """For each pretrain run ``{name: checkpoint main holds}``: (folder, summary) of its GLUE results, or None. They
    are the finished GLUE artifact whose ``summary.json`` names the run (and, where recorded, that checkpoint),
    whatever the artifact is called; ``<root>/glue/<run>/`` first, as ``hf-shrunk glue RUN`` names it. Each summary
    is read once."""
    summaries = [(f, read_json(f / "summary.json")) for f in finished("glue", root) if (f / "summary.json").is_file()]
    found: dict[str, tuple[Path, dict[str, Any]] | None] = {}
    for run, checkpoint in runs.items():
        matches = [(f, s) for f, s in summaries if s.get("run") == run and s.get("checkpoint") in (None, checkpoint)]
        matches.sort(key=lambda match: match[0].name != run)
        found[run] = matches[0] if matches else None
    return found


def select_runs(sizes: list[str], root: Path) -> list[Path]:
    """Finished pretrain run folders named by ``sizes`` (run names, slugs or paths; ``all`` = every finished run)."""
    base = artifact_root(root) / "pretrain"
    if sizes == ["all"]:
        runs = finished("pretrain", root)
        if not runs:
            raise ArtifactError(
                f"no finished pretrain runs under {base}. Train one with `hf-shrunk pretrain --size SLUG`."
            )
        return runs
    runs = []
    for name in sizes:
        folder = stage_dir("pretrain", name, root)
        if not is_complete(folder):
            found = [p.name for p in finished("pretrain", root)]
            raise ArtifactError(
                f"no finished pretrain run {name!r} at {folder}. Finished runs: {', '.join(found) or 'none'}. "
                f"Train it with `hf-shrunk pretrain --size {name}`."
            )
        runs.append(folder)
    return runs


def with_vocab(manifest: dict[str, Any]) -> dict[str, Any]:
    """The run manifest with ``extra.vocab``: the vocabulary input of the corpus artifact it names (when that artifact
    is still there and is the one trained on), which ``hf-shrunk glue --vocab model`` reads from the Hub."""
    from hf_shrunk.corpus import vocab_record

    corpus = next((i for i in manifest.get("inputs") or [] if i.get("kind") == "corpus"), None)
    extra = manifest.get("extra") or {}
    if extra.get("vocab") or not corpus or not corpus.get("path") or not is_complete(corpus["path"]):
        return manifest
    if read_json(Path(corpus["path"]) / "manifest.json").get("key") != corpus.get("fingerprint"):
        return manifest
    vocab = vocab_record(corpus["path"])
    return manifest | {"extra": extra | {"vocab": vocab}} if vocab else manifest


def run_corpus_fingerprint(run: dict[str, Any]) -> str | None:
    return next((i.get("fingerprint") for i in run["manifest"].get("inputs") or [] if i.get("kind") == "corpus"), None)


def plan_model_repo(
    run_dir: Path,
    org: str,
    root: Path,
    summary: dict[str, Any] | None,
    fit: dict[str, Any] | None,
    license: str,
    corpus_key: str | None,
    suffix: str = "",
    glue_repo: str | None = None,
) -> RepoPlan:
    """The model repo of one pretrain run: ``main`` (the weights of ``model/``, card, checkpoints.json) and
    ``step{N}`` branches.

    ``corpus_key`` is the manifest key of the corpus published as ``<org>/shrunk-corpus``: the card links that
    dataset only if the run was trained on it. ``suffix`` (``--repo_suffix``) ends the repo name. ``glue_repo`` is
    the published vocabulary-filtered GLUE dev sets the card's filtered results name.
    """
    run = load_run(run_dir)
    slug = run["metrics"].get("slug") or run["name"]
    repo_id = f"{org}/{model_repo_name(slug)}{suffix}"
    if len(repo_id.split("/")[1]) > MAX_REPO_NAME:
        raise ArtifactError(
            f"{repo_id}: a Hub repo name has at most {MAX_REPO_NAME} characters; shorten --repo_suffix"
        )
    dataset_repo = f"{org}/{DATASET_REPO_NAME}" if corpus_key and run_corpus_fingerprint(run) == corpus_key else None
    context = model_card_context(
        run, repo_id, summary, fit, license=license, dataset_repo=dataset_repo, glue_dataset_repo=glue_repo
    )
    if not (run_dir / "model" / WEIGHTS).is_file():
        raise ArtifactError(f"{run_dir / 'model'} has no {WEIGHTS}; re-run `hf-shrunk pretrain --size {slug}`")
    branches = _step_branches(context, run, slug)
    records = [_record(b.name, checkpoint, b) for b, checkpoint in zip(branches, context["checkpoints"], strict=True)]
    main_files = folder_files(run_dir / "model")
    records.insert(0, _record("main", _state(run_dir / "model"), Branch("main", main_files, "")))
    manifest = public_paths(with_vocab(run["manifest"]), artifact_root(root))
    listing = {"format": 1, "repo_id": repo_id, "run": run_identity(manifest), "checkpoints": records}
    main_files += [
        PlanFile("README.md", data=render_model_card(context, summary).encode()),
        PlanFile(CHECKPOINTS_FILE, data=json_bytes(listing)),
        PlanFile("metrics.json", source=run_dir / "metrics.json"),
        PlanFile(RUN_FILE, data=json_bytes(manifest)),
    ]
    eval_results = glue_eval_result_files(summary or {}, glue_repo)  # .eval_results/*.yaml
    main_files += [PlanFile(path, data=text.encode()) for path, text in eval_results.items()]
    final = context["final"]
    main = Branch(
        "main",
        sorted(main_files, key=lambda f: f.path),
        f"Publish {slug}: {context['main']['checkpoint']} weights (step {context['main']['step']}) and card",
    )
    note = (
        f"{human(context['params'].get('total'))} parameters, {final['tokens']:,} tokens, "
        f"dev loss {final['eval_loss']:.3f}"
    )
    notes = [] if summary else [f"{repo_id}: no GLUE results for run {run['name']!r}; the card says so"]
    origin = run_identity(manifest)
    return RepoPlan(repo_id, "model", [main, *branches], note=note, notes=notes, origin=origin, origin_file=RUN_FILE)


def _step_branches(context: dict[str, Any], run: dict[str, Any], slug: str) -> list[Branch]:
    """One ``step{N}`` branch per kept snapshot: its weights and a card without results."""
    branches = []
    for checkpoint, snapshot in zip(context["checkpoints"], run["snapshots"], strict=True):
        files = folder_files(snapshot["dir"])
        files.append(PlanFile("README.md", data=render_checkpoint_card(context, checkpoint).encode()))
        message = f"Checkpoint {checkpoint['branch']} of {slug} ({checkpoint['tokens']} tokens)"
        branches.append(Branch(checkpoint["branch"], sorted(files, key=lambda f: f.path), message))
    return branches


def _record(name: str, progress: dict[str, Any], branch: Branch) -> dict[str, Any]:
    """A ``checkpoints.json`` entry: the branch, its progress counters and the sha256 of its weights."""
    weights = branch.file(WEIGHTS)
    return {
        "branch": name,
        **{k: progress.get(k) for k in PROGRESS_KEYS},
        "sha256": weights.sha256() if weights else None,
    }


def _state(folder: Path) -> dict[str, Any]:
    path = folder / STATE_FILE
    return read_json(path) if path.is_file() else {}


def format_plan(plans: list[RepoPlan]) -> str:
    """Human-readable plan: every repo, its branches, and the files of ``main`` with sizes."""
    lines = []
    for plan in plans:
        total = sum(b.size for b in plan.branches)
        lines.append(f"{plan.repo_id} ({plan.repo_type}, {len(plan.branches)} branch(es), {_bytes(total)})")
        for branch in plan.branches:
            lines.append(f"  {branch.name:<10} {len(branch.files):>3} files {_bytes(branch.size):>10}")
            if branch.name == "main":
                lines += [f"      {f.path:<40} {_bytes(f.size):>10}" for f in branch.files]
    return "\n".join(lines)


def _bytes(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def plan_json(plans: list[RepoPlan], org: str) -> dict[str, Any]:
    return {
        "org": org,
        "layout": "<repo type>s/<repo name>/<branch>/<path in repo>",
        "repos": [
            {
                "repo_id": p.repo_id,
                "repo_type": p.repo_type,
                "branches": [
                    {
                        "name": b.name,
                        "files": [{"path": f.path, "size": f.size, "sha256": f.sha256()} for f in b.files],
                    }
                    for b in p.branches
                ],
            }
            for p in plans
        ],
    }


def write_tree(plans: list[RepoPlan], out: Path, org: str, cards_only: bool = False) -> Path:
    """Write the plan as ``<out>/<type>s/<repo>/<branch>/<path>`` plus ``<out>/plan.json``; with ``cards_only``,
    only the ``README.md`` files. Each branch folder is replaced whole; weights are hard-linked when possible."""
    import shutil

    for plan in plans:
        for branch in plan.branches:
            folder = out / f"{plan.repo_type}s" / plan.name / branch.name
            if folder.exists():
                shutil.rmtree(folder)
            for f in branch.files:
                if cards_only and f.path != "README.md":
                    continue
                target = folder / f.path
                target.parent.mkdir(parents=True, exist_ok=True)
                if f.data is not None:
                    target.write_bytes(f.data)
                    continue
                try:
                    os.link(f.source, target)
                except OSError:
                    shutil.copyfile(f.source, target)
    (out / "plan.json").write_bytes(json_bytes(plan_json(plans, org)))
    return out
